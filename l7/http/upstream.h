// Upstream: the backend side of one exchange, as the exchange sees it: an
// HTTP/1.1 byte stream both ways. A BackendConnection is one (its socket
// carries the bytes as they are); an H2UpstreamStream is one (a stream of a
// multiplexed HTTP/2 connection that turns the request bytes into HEADERS
// and DATA frames and the response frames back into HTTP/1.1 bytes), so the
// exchange's framing, limits, retries and edits stay the same for both.
//
// Events reach the exchange through its BackendUser: Connected (the request
// may go), Received (in() grew), Drained (request bytes moved on), Error
// (error() says why; eof() for a clean end before the response ended).
//
// Worker thread only. The user detaches with release() or close(); the
// object may be freed any time after that.
#pragma once

#include <cstdint>
#include <string>

#include "common/byte_queue.h"
#include "common/stream.h"

namespace ringlb::l7 {

class BackendConnection;
class Upstream;

class BackendUser {
 public:
  virtual ~BackendUser() = default;
  virtual void onBackendEvent(Upstream& upstream, StreamEvent event) = 0;
};

class Upstream {
 public:
  virtual ~Upstream() = default;

  // The response, as HTTP/1.1 bytes; refresh() once some were taken.
  virtual ByteQueue& in() = 0;
  virtual void refresh() = 0;
  // The request, as HTTP/1.1 bytes; flush() sends what it holds.
  virtual ByteQueue& out() = 0;
  virtual void flush() = 0;
  // How many more request bytes out() should take now (SIZE_MAX: a socket
  // paces the client itself through Downstream::pair()).
  virtual size_t requestRoom() const = 0;
  // Everything written to out() left the proxy.
  virtual bool sendIdle() const = 0;
  virtual bool eof() const = 0;
  virtual int error() const = 0;
  // Response bytes received over the connection's life (a retry tells "got
  // nothing back" by comparing with the count when the attempt began).
  virtual uint64_t bytesReceived() const = 0;
  // Exchanges the connection carried before this one (0: a fresh one).
  virtual uint32_t reuses() const = 0;
  // A TLS connection whose handshake failed (EPROTO): why, for the log.
  virtual bool usesTls() = 0;
  virtual std::string failureReason() = 0;
  // The socket stream to pace the client by, or null when multiplexed.
  virtual Stream* pacedStream() = 0;
  // The whole connection, for a tunnel after 101; null when multiplexed.
  virtual BackendConnection* connection() = 0;

  // The user is done and the next exchange may have it (kept alive).
  virtual void release() = 0;
  // The user is done; nothing more goes over it.
  virtual void close() = 0;
};

}  // namespace ringlb::l7
