// Downstream: the client side of one exchange, as the exchange sees it:
// where the request body comes from and where the response goes. An
// HTTP/1.1 connection is one (Http1Downstream: bytes on the client's
// stream, heads written as text); each HTTP/2 stream is one (H2Stream:
// payload only, heads as HEADERS frames).
//
// Backpressure: pair() ties the backend stream to the client side, so that
// a slow backend slows the client's upload and a slow client the backend's
// response; responseRoom() says how much more of the response the exchange may move
// response now (an HTTP/2 stream takes what its window and a small queue
// allow, then wakes the exchange when it has room again).
//
// Worker thread only; outlives the exchange it serves.
#pragma once

#include <string_view>

#include "common/byte_queue.h"
#include "common/http1/http1_parser.h"
#include "config/model.h"
#include "l7/http/headers.h"

namespace ringlb {
class Stream;
}

namespace ringlb::l7 {

class Downstream {
 public:
  virtual ~Downstream() = default;

  // The request body as it arrives (framed as the head says); the exchange
  // takes from it and then calls requestTaken().
  virtual ByteQueue& requestBody() = 0;
  virtual void requestTaken() = 0;

  // The response head (final or interim), edited for the client.
  virtual void sendResponseHead(const http::MessageHead& response, const config::RouteConfig* route,
                                const ResponseHeadOptions& options) = 0;
  // The response body, framed as sendResponseHead's options said (bare
  // payload when payloadOnly()).
  virtual ByteQueue& responseBody() = 0;
  virtual void flushResponse() = 0;
  // How many more response body bytes the exchange may move now (0: none
  // until the client side wakes it).
  virtual size_t responseRoom() const = 0;
  // The trailer fields of a de-chunked response (raw field lines), just
  // before responseComplete(); only payloadOnly() sides get them.
  virtual void responseTrailers(std::string_view) {}
  // The exchange moved the last byte of the response body (once).
  virtual void responseComplete() {}
  // Everything of the response left the proxy.
  virtual bool responseSent() const = 0;
  // Response bodies go out without HTTP/1.1 framing (HTTP/2 frames them).
  virtual bool payloadOnly() const = 0;
  // Can turn into a byte tunnel (101, CONNECT): an HTTP/1.1 connection.
  virtual bool canTunnel() const = 0;
  // Raw bytes before a tunnel ("200 Connection established"): HTTP/1.1 only.
  virtual void writeRaw(std::string_view bytes) = 0;

  // Backpressure between the backend's stream and this client side; null
  // undoes it.
  virtual void pair(Stream* backend) = 0;
};

}  // namespace ringlb::l7
