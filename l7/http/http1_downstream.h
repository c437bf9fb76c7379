// Http1Downstream: the client side of an HTTP/1.1 connection's exchange:
// the request body is what the client's stream received after the head,
// response heads are written as HTTP/1.1 text and the body goes out with
// its framing, on the same stream.
//
// Worker thread only; a plain member of the connection, as long-lived as its
// stream.
#pragma once

#include <cstdint>

#include "common/stream.h"
#include "l7/http/downstream.h"

namespace ringlb::l7 {

class Http1Downstream final : public Downstream {
 public:
  explicit Http1Downstream(Stream& client) : client_(client) {}

  ByteQueue& requestBody() override { return client_.in(); }
  void requestTaken() override { client_.refresh(); }
  void sendResponseHead(const http::MessageHead& response, const config::RouteConfig* route,
                        const ResponseHeadOptions& options) override;
  ByteQueue& responseBody() override { return client_.out(); }
  void flushResponse() override { client_.flush(); }
  // Paired with a backend socket, the stream's own backpressure paces it;
  // a multiplexed backend is paced by what the client has not taken yet.
  size_t responseRoom() const override;
  bool responseSent() const override { return client_.sendIdle(); }
  bool payloadOnly() const override { return false; }
  bool canTunnel() const override { return true; }
  void writeRaw(std::string_view bytes) override { client_.write(bytes); }
  void pair(Stream* backend) override;

 private:
  Stream& client_;
  Stream* backend_ = nullptr;
};

}  // namespace ringlb::l7
