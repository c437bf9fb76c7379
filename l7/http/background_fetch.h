// BackgroundFetch: the refresh of a stale cached response that no client
// waits for (stale-while-revalidate, RFC 5861 section 3). The request that
// found the copy stale within its window claims the key's fill, answers its
// client from the copy at once and hands the fill here: this runs an
// Exchange of its own for a copy of the request (validated with the copy's
// ETag / Last-Modified), whose answer goes into the store and nowhere else.
//
// It is the exchange's owner and its client side (a Downstream that drops
// what it is given), and a Session of the worker: a drain lets it finish,
// an abort ends it (the fill is abandoned, the next request fetches). The
// exchange routes the copy again on the worker's current config snapshot.
//
// Worker thread only. It frees itself (Worker::deferDelete) when its
// exchange ended.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/byte_queue.h"
#include "common/http1/http1_parser.h"
#include "common/session.h"
#include "common/timer_wheel.h"
#include "common/tls/peer_identity.h"
#include "l7/http/downstream.h"
#include "l7/http/exchange.h"

namespace ringlb::l7 {

class HttpService;

class BackgroundFetch final : public Session,
                              public ExchangeOwner,
                              public Downstream,
                              public TimerHandler {
 public:
  // The request's copy is what `request` asks for (GET, its fields without
  // the connection's, the framing, conditionals or Range). False when no
  // fetch started (the listener is gone from the current config, or the
  // copy of the head did not parse); `refresh` is then left to the caller.
  static bool start(HttpService& service, const http::MessageHead& request,
                    const ExchangeContext& origin, std::unique_ptr<CacheRefresh>& refresh);

  ~BackgroundFetch() override;

  // Session
  void abort() override;
  void onCompletion(Op&) override {}
  // ExchangeOwner
  void onBackendEvent(Upstream& upstream, StreamEvent event) override;
  void setResponseDeadline(std::chrono::steady_clock::time_point at) override;
  void wakeExchange() override { step(); }
  http::Http1Parser& responseParser() override { return responseParser_; }
  // Downstream: nothing goes back to a client.
  ByteQueue& requestBody() override { return requestBody_; }
  void requestTaken() override {}
  void sendResponseHead(const http::MessageHead&, const config::RouteConfig*,
                        const ResponseHeadOptions&) override {}
  ByteQueue& responseBody() override { return responseBody_; }
  void flushResponse() override { responseBody_.clear(); }
  size_t responseRoom() const override { return SIZE_MAX; }
  bool responseSent() const override { return true; }
  bool payloadOnly() const override { return true; }
  bool canTunnel() const override { return false; }
  void writeRaw(std::string_view) override {}
  void pair(Stream* backend) override;
  // TimerHandler: the exchange's response timeout.
  void onTimer(Timer& timer) override;

 private:
  BackgroundFetch(HttpService& service, std::shared_ptr<const config::Config> config,
                  const config::ListenerConfig& listener);
  void run(const ExchangeContext& origin, std::unique_ptr<CacheRefresh> refresh);
  void step();
  void end();

  HttpService& service_;
  std::shared_ptr<const config::Config> config_;  // the snapshot the exchange routes on
  const config::ListenerConfig& listener_;
  http::Http1Parser requestParser_;
  http::Http1Parser responseParser_;
  ByteQueue requestBody_;
  ByteQueue responseBody_;
  std::string clientIp_;
  std::string clientAddr_;
  std::optional<tls::PeerIdentity> clientIdentity_;
  std::unique_ptr<CacheRefresh> refresh_;
  std::optional<ExchangeContext> context_;
  std::optional<Exchange> exchange_;
  Stream* backend_ = nullptr;
  Timer timer_{*this};
  bool stepping_ = false;
  bool ended_ = false;
};

}  // namespace ringlb::l7
