// HttpConnection: one client connection of an http listener. It holds the
// client stream and the exchange in progress (HTTP/1.1: one at a time;
// pipelined requests wait in the stream, so answers go out in order).
//
//   ReadingHead ──head──▶ Exchanging ──answered, keep-alive──▶ ReadingHead
//        │ ALPN h2, or the h2c preface ──▶ H2 (an H2Session: many exchanges)
//        │ bad head / 408       │ 101 ──▶ Tunnel (a Relay to the backend)
//        │                      │ error page, or the client still sending
//        └──────────────────────┴──▶ Lingering ──EOF / 1 s──▶ Closing ─▶ freed
//
// The stream does the socket work: TLS termination and the PROXY header
// (accept_proxy_protocol) are its filters, so this class only sees requests.
// The exchange does one request's work (exchange.h); this class reads heads,
// creates and ends exchanges, writes error pages, and owns the timers: the
// client's (header, idle, linger) and the exchange's response timeout.
//
// Worker thread only. Every entry point (stream, backend and relay events,
// timers, drain, abort) ends in progress() and maybeFree(); the connection
// frees itself through Worker::deferDelete.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/http1/http1_parser.h"
#include "common/relay.h"
#include "common/session.h"
#include "common/stream.h"
#include "common/timer_wheel.h"
#include "common/tls/tls_context.h"
#include "config/model.h"
#include "l7/forward/forward_settings.h"
#include "l7/h2/h2_session.h"
#include "l7/http/exchange.h"
#include "l7/http/http1_downstream.h"

namespace ringlb::l7 {

class HttpService;

// (RelayHandler is also the client stream's StreamHandler.)
class HttpConnection final : public Session,
                             public ExchangeOwner,
                             public RelayHandler,
                             public TimerHandler,
                             public H2Owner {
 public:
  HttpConnection(HttpService& service, int clientFd);
  ~HttpConnection() override;

  void start();

  // Session
  void beginDrain() override;
  void abort() override;
  void onCompletion(Op&) override {}  // its ops are its streams'
  // Client stream (and, in a tunnel, the relay's leftovers).
  void onStreamEvent(Stream& stream, StreamEvent event) override;
  // ExchangeOwner
  void onBackendEvent(Upstream& upstream, StreamEvent event) override;
  void setResponseDeadline(std::chrono::steady_clock::time_point at) override;
  void wakeExchange() override;
  http::Http1Parser& responseParser() override { return responseParser_; }
  // RelayHandler
  void onRelayEnd(Relay& relay, AccessEnd end) override;
  void onTimer(Timer& timer) override;
  // H2Owner
  void onH2Finished(bool graceful, AccessEnd why) override;

 private:
  enum class State : uint8_t { ReadingHead, Exchanging, Tunnel, H2, Lingering, Closing };
  enum TimerId : uint8_t { kClientTimer, kResponseTimer };

  // After 101: the backend connection and the relay between the two.
  struct Tunnel {
    Tunnel(HttpConnection& owner, BackendConnection* backend)
        : conn(backend), relay(owner.client_, backend->stream(), owner) {}
    BackendConnection* conn;
    Relay relay;
  };

  bool loadListener();
  void setClientAddress(const sockaddr_storage& ss);
  void applyProxyHeader();
  void progress();
  bool step();
  bool readHead();
  // Prior knowledge (h2c): the connection starts with the HTTP/2 preface.
  bool startsWithPreface();
  void startH2();
  void rejectHead(ErrorCode code);
  void stepExchange();
  void endExchange();
  void startTunnel();
  void startLingering();
  void lingerAfterFailure();
  void scheduleHeadTimer();
  // `why`: how the exchange in progress (or a CONNECT tunnel) ended, for its log line.
  void close(bool graceful, AccessEnd why = AccessEnd::None);
  void maybeFree();

  HttpService& service_;
  State state_ = State::ReadingHead;
  Stream client_;
  Http1Downstream downstream_{client_};
  std::shared_ptr<const config::Config> config_;  // the snapshot this connection started with
  const config::ListenerConfig* listener_ = nullptr;
  http::Http1Parser requestParser_;
  http::Http1Parser responseParser_;
  std::optional<ExchangeContext> context_;
  std::optional<Exchange> exchange_;
  std::unique_ptr<Tunnel> tunnel_;
  std::unique_ptr<H2Session> h2_;  // the connection speaks HTTP/2 (State::H2)
  std::unique_ptr<const tls::PeerIdentity> clientIdentity_;  // mutual TLS
  std::shared_ptr<tls::TlsContext> tlsContext_;  // alive while the handshake may call back
  std::string clientIp_;
  std::string clientAddr_;  // "ip:port", for the access log
  Timer clientTimer_{*this, kClientTimer};
  Timer responseTimer_{*this, kResponseTimer};
  std::chrono::steady_clock::time_point lastActivity_;
  config::Duration idleTimeout_{};
  uint64_t sentBefore_ = 0;                         // client bytes sent before the current exchange
  uint64_t receivedBefore_ = 0;                     // client bytes received before its body
  std::shared_ptr<const ForwardSettings> forward_;  // forward listeners: the snapshot's rules
  bool headStarted_ = false;                        // a byte of the next head arrived
  bool firstHead_ = true;                           // no request was read yet
  bool pageWritten_ = false;                        // the failed exchange's error page is queued
  bool proxyApplied_ = false;
  bool draining_ = false;
  bool registered_ = false;
  bool countedClient_ = false;  // in the listener's ClientConnectionCounts
};

}  // namespace ringlb::l7
