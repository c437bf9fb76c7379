// Header rewriting between client and backend.
//
// Requests: hop-by-hop fields (the fixed set and those named in Connection)
// are dropped; Host is written from the request's authority; X-Forwarded-For
// gets the client address appended; X-Forwarded-Proto, X-Forwarded-Host are
// set; Forwarded (RFC 7239) gets one element appended; X-Request-Id is added
// when absent; on mutual TLS listeners X-Client-Verify, X-Client-Cert-Subject
// and X-Client-Cert-SAN are written (the same fields from a client are
// dropped on every listener: a backend can trust them); then the route's
// remove and set edits apply. Framing fields
// are kept as received (the body is relayed with its framing).
// Responses: hop-by-hop fields dropped, the route's response edits applied,
// and Connection written as the client connection will behave.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/http1/http1_parser.h"
#include "common/tls/peer_identity.h"
#include "config/model.h"

namespace ringlb::l7 {

struct ForwardInfo {
  std::string_view clientIp;  // "192.0.2.1" or "2001:db8::1" (no brackets, no port)
  std::string_view proto = "http";
  std::string_view requestId;     // used when the request carries no X-Request-Id
  std::string_view fallbackHost;  // Host for an HTTP/1.0 request that sent none
  // Mutual TLS listeners: X-Client-Verify, X-Client-Cert-Subject and
  // X-Client-Cert-SAN are written from it (null: none of them).
  const tls::PeerIdentity* clientIdentity = nullptr;
  // The request target to send instead of the request's (a rewrite); empty:
  // the request's own.
  std::string_view target{};
  // A route with auth: the client's copies of its claims_to_headers fields
  // are dropped, and `addFields` (the verified claims) written instead.
  const config::AuthConfig* auth = nullptr;
  std::span<const config::HeaderEdit> addFields{};
  // The cache revalidating its copy: the client's conditional fields and
  // Range are dropped and these (If-None-Match, If-Modified-Since) sent.
  std::span<const config::HeaderEdit> validators{};
  bool revalidating = false;
};

// A conditional request field (If-*) or Range: what makes an answer
// conditional or partial (a revalidation replaces them with the cache's own).
bool isConditionalOrRange(std::string_view name);

// The request asks for a protocol switch the proxy passes on: any Upgrade
// but h2c (HTTP/2 is the proxy's to speak, with prior knowledge or ALPN;
// an h2c upgrade request is served as HTTP/1.1, RFC 9113 dropped it).
bool forwardsUpgrade(const http::MessageHead& request);

// Appends the head to send upstream for `request` (HTTP/1.1, ends in CRLF CRLF).
void writeUpstreamRequestHead(const http::MessageHead& request, const config::RouteConfig* route,
                              const ForwardInfo& info, std::string& out);

struct ResponseHeadOptions {
  bool close = false;      // the client connection closes after this response
  bool keepAlive = false;  // say "Connection: keep-alive" (HTTP/1.0 clients)
  bool dechunk = false;    // the body is sent de-chunked: drop Transfer-Encoding
  bool upgrade = false;    // 101: keep Connection: upgrade and Upgrade
  std::string_view via;    // a Via value to add (the forward proxy's), empty for none
};

// Appends the head to send to the client for `response`.
void writeClientResponseHead(const http::MessageHead& response, const config::RouteConfig* route,
                             const ResponseHeadOptions& options, std::string& out);

// The fields of `response` a client gets without HTTP/1.1 framing (HTTP/2):
// hop-by-hop fields dropped (Transfer-Encoding included), the route's
// response edits applied. Views into `response` and the route.
void clientResponseFields(const http::MessageHead& response, const config::RouteConfig* route,
                          std::vector<http::HeaderView>& out);

// 32 lower-case hex digits from two random words.
std::string formatRequestId(uint64_t hi, uint64_t lo);

// Whether `method` may be retried after a failure (RFC 9110 section 9.2.2).
bool isIdempotent(http::Method method);

}  // namespace ringlb::l7
