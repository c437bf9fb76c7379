// Error: every way a request or connection can fail, as one value. Its code
// looks up one table (error.cc, drawn in docs/errors.md) that decides the
// HTTP status the client gets, who failed, whether another backend may be
// tried, which rejection counter moves and the name written to the logs.
// Call sites say what happened; they never pick a status themselves.
//
// Thread rules: plain values and pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/stats.h"

namespace ringlb {

enum class ErrorSource : uint8_t { Client, Backend, Internal };

enum class ErrorCode : uint8_t {
  // The client's request.
  BadRequest,           // malformed head, bad framing, CONNECT on a reverse proxy target
  HeadTimeout,          // the request head did not arrive within header_timeout
  UriTooLong,           // request line over max_request_line
  HeadTooLarge,         // header fields over max_header_size / max_header_fields
  BodyTooLarge,         // request body over max_body_size
  NotImplemented,       // a transfer coding the proxy does not know
  VersionNotSupported,  // an HTTP version other than 1.0 and 1.1
  MethodNotAllowed,     // a method this listener does not serve (CONNECT on http)
  NoRoute,              // no route matches and the listener has no pool
  Denied,               // a forward-proxy rule refused the destination
  // Reaching a backend.
  NoBackendUp,     // every backend of the pool is down
  ConnectRefused,  // the backend refused the connection (RST)
  ConnectTimeout,  // the TCP handshake did not finish within connect_timeout
  ConnectFailed,   // any other connect error (unreachable)
  NoSocket,        // no socket for the connect: this host is out of descriptors or memory
  ResolveFailed,   // forward proxy: the destination name did not resolve
  ResolveTimeout,  // forward proxy: resolving took longer than the connect window
  // The backend's answer.
  ResponseTimeout,   // no response head within response_timeout
  InvalidResponse,   // a response the parser refused, or a 101 nobody asked for
  BackendClosed,     // closed or reset before a complete response head
  BackendTruncated,  // closed or reset after the head, before the body ended
  Internal,          // a state the proxy should never reach
};

struct Error {
  ErrorCode code;
  ErrorSource source;
  // Another backend (for connect failures) or another attempt (for a request
  // that never reached the backend's application) is allowed.
  bool retryable;

  // The status the client gets when nothing of the response went out yet.
  uint16_t status() const;
  // A short snake_case name for logs and metrics ("connect_timeout").
  std::string_view name() const;
  // The rejection counter this error moves, if it is a rejection.
  std::optional<RejectReason> rejectReason() const;
  // The backend is to blame: count a connect failure and report it to the
  // health checker's passive detection.
  bool backendFault() const;
};

// The table's entry for `code`.
Error makeError(ErrorCode code);
// A failed connect(2)/IORING_OP_CONNECT: ECONNREFUSED, ETIMEDOUT (the
// connect timer), anything else.
Error connectError(int err);

}  // namespace ringlb
