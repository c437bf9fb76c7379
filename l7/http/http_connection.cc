#include "l7/http/http_connection.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cstring>
#include <string>

#include "common/log.h"
#include "common/socket.h"
#include "common/tls/tls_stream.h"
#include "common/worker.h"
#include "l7/forward/forward_request.h"
#include "l7/http/error_pages.h"
#include "l7/http/http_service.h"

namespace ringlb::l7 {
namespace {

// After an error page: how long unread client bytes are drained before the
// close, so that the client reads the answer rather than a reset.
constexpr auto kLingerTime = std::chrono::seconds(1);

// The client connection preface of HTTP/2 (RFC 9113 section 3.4).
constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

}  // namespace

HttpConnection::HttpConnection(HttpService& service, int clientFd)
    : service_(service),
      client_(service.worker().io(), *this),
      requestParser_(http::MessageKind::Request),
      responseParser_(http::MessageKind::Response) {
  client_.adopt(clientFd);
}

HttpConnection::~HttpConnection() = default;

void HttpConnection::start() {
  Worker& worker = service_.worker();
  worker.addSession(*this);
  registered_ = true;
  service_.stats().connectionsActive.add();
  client_.countInto(&service_.stats().bytesIn, &service_.stats().bytesOut);
  sockaddr_storage peer{};  // TCP_NODELAY: inherited from the listener
  socklen_t len = sizeof peer;
  if (getpeername(client_.fd(), reinterpret_cast<sockaddr*>(&peer), &len) != 0) peer = {};
  setClientAddress(peer);
  if (!loadListener()) {
    close(false);
    maybeFree();
    return;
  }
  if (uint32_t limit = listener_->maxConnectionsPerClient; limit != 0) {
    if (!service_.clientConnections().acquire(clientIp_, limit)) {
      // Closed before a byte is read: holding it to answer would spend the
      // very resource the limit keeps for the other clients.
      logDebug("listener {}: {} holds max_connections_per_client ({}): closed", listener_->name,
               clientIp_, limit);
      service_.stats().rejected[static_cast<size_t>(RejectReason::ClientLimit)].add();
      close(false);
      maybeFree();
      return;
    }
    countedClient_ = true;
  }
  if (listener_->tls) {
    tlsContext_ = service_.tlsContext(config_, *listener_);
    auto tls = tlsContext_ ? tls::TlsStream::server(tlsContext_->defaultContext()) : nullptr;
    if (!tls) {
      // Certificates that never loaded (logged by the service): refuse, never plaintext.
      service_.stats().rejected[static_cast<size_t>(RejectReason::TlsHandshake)].add();
      close(false);
      maybeFree();
      return;
    }
    client_.setTls(std::move(tls));
  }
  if (listener_->acceptProxyProtocol) client_.expectProxyHeader();
  forward_ = service_.forwardSettings();
  context_.emplace(ExchangeContext{service_, *this, *config_, *listener_, downstream_, clientIp_,
                                   clientAddr_, listener_->tls.has_value()});
  context_->forward = forward_.get();
  lastActivity_ = worker.now();
  // header_timeout bounds the PROXY header, then handshake_timeout the TLS
  // handshake, then header_timeout the first head.
  bool handshakeFirst = listener_->tls && !listener_->acceptProxyProtocol;
  worker.timers().schedule(clientTimer_,
                           worker.now() + (handshakeFirst ? listener_->tls->handshakeTimeout
                                                          : listener_->headerTimeout));
  client_.startReceiving();
}

bool HttpConnection::loadListener() {
  config_ = service_.worker().config();
  for (const auto& l : config_->listeners) {
    if (l.name == service_.name()) listener_ = &l;
  }
  if (listener_ == nullptr) return false;  // removed by a reload in the meantime
  idleTimeout_ = listener_->effectiveIdleTimeout();
  requestParser_.setLimits(parserLimits(*listener_));
  responseParser_.setLimits(parserLimits(*listener_));
  return true;
}

void HttpConnection::setClientAddress(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    inet_ntop(AF_INET, &in.sin_addr, buf, sizeof buf);
    clientIp_ = buf;
    clientAddr_ = fmt::format("{}:{}", buf, ntohs(in.sin_port));
  } else if (ss.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
    inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof buf);
    clientIp_ = buf;
    clientAddr_ = fmt::format("[{}]:{}", buf, ntohs(in6.sin6_port));
  } else {
    clientIp_ = "unknown";
    clientAddr_ = "unknown";
  }
}

// ------------------------------------------------------------------ events

void HttpConnection::onStreamEvent(Stream& stream, StreamEvent event) {
  if (&stream != &client_) {
    // A tunnel's backend stream, handed back after the relay ended.
    if (tunnel_ && event == StreamEvent::Closed) tunnel_->conn->onStreamEvent(stream, event);
    maybeFree();
    return;
  }
  if (state_ == State::Closing) {
    maybeFree();
    return;
  }
  if (state_ == State::H2 && event != StreamEvent::Closed) {
    h2_->onClientEvent(event);
    maybeFree();
    return;
  }
  if (event == StreamEvent::Closed) {  // a lingering close ended by the client's EOF
    close(false);
    maybeFree();
    return;
  }
  switch (event) {
    case StreamEvent::Secured: {
      auto& counters = service_.stats().tls;
      (client_.tls()->resumed() ? counters.resumed : counters.full).add();
      if (!listener_->tls->clientCa.empty()) {
        clientIdentity_ =
            std::make_unique<tls::PeerIdentity>(tls::peerIdentity(client_.tls()->ssl()));
        context_->clientIdentity = clientIdentity_.get();
      }
      if (client_.tls()->alpn() == "h2") {
        startH2();
        maybeFree();
        return;
      }
      // The first head gets a whole header_timeout of its own.
      Worker& worker = service_.worker();
      worker.timers().schedule(clientTimer_, worker.now() + listener_->headerTimeout);
      break;
    }
    case StreamEvent::Received:
    case StreamEvent::Drained:
      lastActivity_ = service_.worker().now();
      if (!proxyApplied_ && client_.proxyHeader() != nullptr) applyProxyHeader();
      break;
    case StreamEvent::Error: {
      bool proxyHeader = listener_->acceptProxyProtocol && client_.proxyHeader() == nullptr;
      // A TLS error, or a client gone in the middle of its handshake.
      bool tlsFailed = client_.tls() != nullptr && !proxyHeader &&
                       (client_.error() == EPROTO || !client_.tls()->handshakeDone());
      if (proxyHeader) {
        service_.stats().rejected[static_cast<size_t>(RejectReason::BadRequest)].add();
        const char* why = client_.proxyHeaderError();
        logDebug("listener {}: PROXY protocol header rejected from {}: {}", service_.name(),
                 clientAddr_, why != nullptr ? why : std::strerror(client_.error()));
      } else if (tlsFailed) {
        // Closed and counted, never answered in plaintext; the client reads
        // OpenSSL's alert rather than a reset.
        service_.stats().rejected[static_cast<size_t>(RejectReason::TlsHandshake)].add();
        if (!client_.tls()->handshakeDone()) service_.stats().tls.failed.add();
        std::string why = client_.tls()->error();
        if (why.empty()) why = client_.error() != 0 ? std::strerror(client_.error()) : "";
        if (why.empty()) why = "the client closed the connection";
        logDebug("listener {}: TLS {} from {}: {}", service_.name(),
                 client_.tls()->handshakeDone() ? "error" : "handshake failed", clientAddr_, why);
        lingerAfterFailure();
        maybeFree();
        return;
      }
      close(false, accessEndForError(client_.error(), true));
      maybeFree();
      return;
    }
    default: break;
  }
  progress();
  maybeFree();
}

void HttpConnection::onBackendEvent(Upstream& upstream, StreamEvent event) {
  if (exchange_) exchange_->onBackendEvent(upstream, event);
  progress();
  maybeFree();
}

void HttpConnection::wakeExchange() {
  progress();
  maybeFree();
}

void HttpConnection::setResponseDeadline(std::chrono::steady_clock::time_point at) {
  if (at == std::chrono::steady_clock::time_point{}) {
    service_.worker().timers().cancel(responseTimer_);
  } else {
    service_.worker().timers().schedule(responseTimer_, at);
  }
}

void HttpConnection::onTimer(Timer& timer) {
  Worker& worker = service_.worker();
  if (timer.id() == kResponseTimer) {
    if (exchange_) exchange_->onResponseTimeout();
    progress();
    maybeFree();
    return;
  }
  switch (state_) {
    case State::ReadingHead:
      if ((listener_->acceptProxyProtocol && client_.proxyHeader() == nullptr) ||
          (client_.tls() != nullptr && !client_.tls()->handshakeDone())) {
        // No HTTP answer: the peer does not speak HTTP to us yet (no PROXY
        // header, or a TLS handshake that did not finish in time).
        service_.stats().rejected[static_cast<size_t>(RejectReason::HeaderTimeout)].add();
        if (!(listener_->acceptProxyProtocol && client_.proxyHeader() == nullptr)) {
          service_.stats().tls.timedOut.add();  // the PROXY header came: the handshake did not
        }
        close(false);
      } else if (headStarted_) {
        rejectHead(ErrorCode::HeadTimeout);  // slowloris: the head is too slow
      } else {
        close(true);  // idle keep-alive connection (or one that never spoke)
      }
      break;
    case State::Exchanging:
    case State::Tunnel: {
      // Waiting for the backend's answer is the response timeout's business.
      bool waitingBackend = exchange_ && !exchange_->responseStarted() && !exchange_->failed();
      auto last = tunnel_ ? std::max(lastActivity_, tunnel_->relay.lastActivity()) : lastActivity_;
      if (!waitingBackend && worker.now() - last >= idleTimeout_) {
        close(false, AccessEnd::IdleTimeout);
      } else {
        worker.timers().schedule(clientTimer_,
                                 (waitingBackend ? worker.now() : last) + idleTimeout_);
      }
      break;
    }
    case State::Lingering: close(false); break;
    case State::H2:
    case State::Closing: break;
  }
  progress();
  maybeFree();
}

void HttpConnection::beginDrain() {
  draining_ = true;
  if (context_) context_->draining = true;
  if (state_ == State::H2) h2_->drain();
  if (state_ == State::ReadingHead && !headStarted_) close(true);
  maybeFree();
}

void HttpConnection::abort() {
  close(false, AccessEnd::DrainAborted);
  maybeFree();
}

// The PROXY header's source address stands for the client's
// (X-Forwarded-For, Forwarded, source_ip hashing, the access log); LOCAL and
// UNKNOWN headers keep the socket's.
void HttpConnection::applyProxyHeader() {
  proxyApplied_ = true;
  const proxy::DecodeResult& header = *client_.proxyHeader();
  std::string peer = clientAddr_;
  if (header.hasAddresses) {
    setClientAddress(header.source);
    context_->clientIp = clientIp_;  // the views follow the strings
    context_->clientAddr = clientAddr_;
  }
  logDebug("listener {}: PROXY v{} header from {}: client {}", service_.name(), header.version,
           peer, clientAddr_);
  // The handshake, or else the first request, gets a whole timeout of its own.
  Worker& worker = service_.worker();
  auto limit = listener_->tls ? listener_->tls->handshakeTimeout : listener_->headerTimeout;
  worker.timers().schedule(clientTimer_, worker.now() + limit);
}

// ------------------------------------------------------------------ steps

void HttpConnection::progress() {
  // Each step may enable the next (an answered request lets a pipelined
  // one start); the bound only guards against a bug spinning forever.
  for (int i = 0; i < 64 && step(); ++i) {
  }
}

bool HttpConnection::step() {
  switch (state_) {
    case State::ReadingHead: return readHead();
    case State::Exchanging: stepExchange(); return state_ != State::Exchanging;
    case State::Lingering:
      client_.in().clear();  // unread request bytes: dropped, never answered
      client_.refresh();
      if (client_.eof() || client_.closed()) close(false);
      return false;
    case State::Tunnel:
    case State::H2:
    case State::Closing: return false;
  }
  return false;
}

bool HttpConnection::readHead() {
  if (listener_->acceptProxyProtocol && client_.proxyHeader() == nullptr) {
    if (client_.eof()) {
      // Gone before a complete PROXY header: no HTTP answer, counted.
      service_.stats().rejected[static_cast<size_t>(RejectReason::BadRequest)].add();
      logDebug("listener {}: PROXY protocol header rejected from {}: closed before its end",
               service_.name(), clientAddr_);
      close(false);
    }
    return false;
  }
  ByteQueue& in = client_.in();
  if (in.empty()) {
    if (client_.eof() || (draining_ && !headStarted_)) close(!client_.eof());
    return false;
  }
  if (firstHead_ && listener_->speaks(config::HttpProtocol::H2c) && startsWithPreface()) {
    if (in.size() < kPreface.size()) return false;  // the rest of the preface is coming
    startH2();
    return false;
  }
  if (!headStarted_) {
    headStarted_ = true;  // from here the whole head must come within header_timeout
    scheduleHeadTimer();
  }
  while (!in.empty()) {
    http::ParseResult r = requestParser_.feed(in.front());
    if (r.status == http::ParseStatus::Error) {
      logDebug("listener {}: bad request from {}: {}", service_.name(), clientIp_,
               http::errorName(r.error));
      in.consume(r.consumed);
      rejectHead(requestErrorCode(r.error));
      return true;
    }
    in.consume(r.consumed);
    context_->headBytes += r.consumed;
    if (r.status == http::ParseStatus::HeadComplete) {
      client_.refresh();
      firstHead_ = false;
      if (!listener_->speaks(config::HttpProtocol::Http11)) {
        rejectHead(ErrorCode::VersionNotSupported);  // an HTTP/2-only listener
        return true;
      }
      Worker& worker = service_.worker();
      state_ = State::Exchanging;
      sentBefore_ = client_.bytesSent();
      receivedBefore_ = client_.bytesReceived() - client_.in().size();
      worker.timers().schedule(clientTimer_, worker.now() + idleTimeout_);
      exchange_.emplace(*context_, requestParser_.head());
      return true;
    }
  }
  client_.refresh();
  return false;
}

// What arrived so far could be the preface: its first buffer matches as far
// as it goes (nghttp2 checks the rest).
bool HttpConnection::startsWithPreface() {
  std::string_view front = client_.in().front();
  size_t n = std::min(front.size(), kPreface.size());
  return front.substr(0, n) == kPreface.substr(0, n);
}

void HttpConnection::startH2() {
  state_ = State::H2;
  firstHead_ = false;
  Worker& worker = service_.worker();
  worker.timers().cancel(clientTimer_);
  worker.timers().cancel(responseTimer_);
  h2_ = std::make_unique<H2Session>(
      service_, client_, *this,
      H2ConnectionInfo{*config_, *listener_, clientIp_, clientAddr_, listener_->tls.has_value(),
                       clientIdentity_.get()});
  if (!h2_->start()) {
    logError("listener {}: cannot start an HTTP/2 session", service_.name());
    close(false);
  }
}

void HttpConnection::onH2Finished(bool, AccessEnd why) {
  if (state_ != State::H2) return;
  h2_->abandon(why);
  if (client_.error() != 0 || client_.eof()) {
    close(false, why);
  } else {
    startLingering();  // the client reads our GOAWAY rather than a reset
  }
  maybeFree();
}

// A head the parser refused or that came too slowly: an exchange that
// failed before it started (answered with the error's status, and logged).
void HttpConnection::rejectHead(ErrorCode code) {
  state_ = State::Exchanging;
  sentBefore_ = client_.bytesSent();
  exchange_.emplace(*context_, requestParser_.head(), makeError(code));
}

void HttpConnection::stepExchange() {
  Exchange& x = *exchange_;
  x.step();
  if (x.upgraded()) {
    startTunnel();
    return;
  }
  if (const auto& failure = x.failed()) {
    if (x.responseStarted() || failure->status() == 0) {
      // Part of a response already went out: what the backend sent before
      // it failed reaches the client, then the close shows the cut (fewer
      // bytes than announced, no last chunk, no close_notify).
      if (client_.sendIdle() || client_.error() != 0) close(false);
      return;
    }
    if (!pageWritten_) {
      pageWritten_ = true;
      // The forward proxy says why (the rule that refused, the name that
      // did not resolve); the reverse proxy's pages name only the status.
      client_.write(x.forwardMode() && !x.failureDetail().empty()
                        ? proxyResponse(failure->status(), x.failureDetail())
                        : errorResponse(failure->status()));
    }
    if (client_.sendIdle()) endExchange();
    return;
  }
  if (client_.eof() && !x.requestComplete()) {
    // The body will never end. What came of it goes on first, so that the
    // backend sees the request cut short rather than nothing; then the close.
    if (x.requestFlushed()) close(false);
    return;
  }
  if (x.done()) endExchange();
}

void HttpConnection::endExchange() {
  Exchange& x = *exchange_;
  const auto& failure = x.failed();
  uint16_t status = failure ? failure->status() : x.status();
  bool keepAlive = !failure && x.keepAlive() && x.requestComplete() && !draining_;
  x.finish(status, client_.bytesSent() - sentBefore_);
  exchange_.reset();
  requestParser_.reset();
  context_->headBytes = 0;
  bool failed = pageWritten_;
  pageWritten_ = false;
  if (!keepAlive) {
    // With nothing unread from the client, close at once (as NGINX does): a
    // lingering close only guards an answer against the reset that closing
    // with unread bytes sends. TLS lingers: close_notify.
    bool unread = !client_.in().empty() || !x.requestComplete() || failed;
    if (!unread && client_.tls() == nullptr) {
      close(false);
    } else {
      startLingering();
    }
    return;
  }
  state_ = State::ReadingHead;
  headStarted_ = false;
  scheduleHeadTimer();
}

void HttpConnection::scheduleHeadTimer() {
  Worker& worker = service_.worker();
  auto limit = headStarted_ ? listener_->headerTimeout : idleTimeout_;
  worker.timers().schedule(clientTimer_, worker.now() + limit);
}

void HttpConnection::startTunnel() {
  BackendConnection* conn = exchange_->takeConnection();
  if (!exchange_->forwardMode()) {
    // An Upgrade is logged at its 101; a CONNECT tunnel when it ends, with
    // what it carried.
    exchange_->finish(101, client_.bytesSent() - sentBefore_);
    exchange_.reset();
  } else {
    service_.stats().tunnelsActive.add();
  }
  state_ = State::Tunnel;
  tunnel_ = std::make_unique<Tunnel>(*this, conn);
  tunnel_->relay.start();
  Worker& worker = service_.worker();
  worker.timers().schedule(clientTimer_, worker.now() + idleTimeout_);
}

void HttpConnection::onRelayEnd(Relay&, AccessEnd end) {
  close(false, end);
  maybeFree();
}

void HttpConnection::lingerAfterFailure() {
  if (exchange_) {
    exchange_->finish(0, client_.bytesSent() - sentBefore_);
    exchange_.reset();
  }
  state_ = State::Lingering;
  client_.lingerClose();
  Worker& worker = service_.worker();
  worker.timers().cancel(responseTimer_);
  worker.timers().schedule(clientTimer_, worker.now() + kLingerTime);
}

void HttpConnection::startLingering() {
  state_ = State::Lingering;
  client_.in().clear();
  client_.shutdownWrite();  // after the answer (and close_notify): the client reads it
  Worker& worker = service_.worker();
  worker.timers().schedule(clientTimer_, worker.now() + kLingerTime);
}

// ------------------------------------------------------------------- end

void HttpConnection::close(bool graceful, AccessEnd why) {
  if (state_ == State::Closing) return;
  if (h2_) h2_->abandon(why);
  // A request cut short (reset, truncated body) is logged too.
  if (exchange_) {
    uint16_t status = exchange_->responseStarted() ? exchange_->status() : 0;
    if (tunnel_) {  // a CONNECT tunnel: what it carried and how it ended
      uint64_t in = context_->headBytes + client_.bytesReceived() - receivedBefore_;
      uint64_t out = client_.bytesSent() - sentBefore_;
      ListenerStats& stats = service_.stats();
      stats.tunnelsActive.sub();
      stats.tunnelBytesFromClients.add(in);
      stats.tunnelBytesToClients.add(out);
      exchange_->finish(status, out, in, why != AccessEnd::None ? why : AccessEnd::Closed);
    } else {
      exchange_->finish(status, client_.bytesSent() - sentBefore_, std::nullopt, why);
    }
    exchange_.reset();
  }
  state_ = State::Closing;
  Worker& worker = service_.worker();
  worker.timers().cancel(clientTimer_);
  worker.timers().cancel(responseTimer_);
  if (tunnel_) {
    // The backend stream goes back to its connection, which frees itself.
    tunnel_->conn->stream().setHandler(*tunnel_->conn);
    tunnel_->conn->close();
  }
  // An idle keep-alive connection ends cleanly (close_notify); anything cut
  // short must not look complete.
  client_.close(graceful);
}

void HttpConnection::maybeFree() {
  if (state_ != State::Closing || !client_.closed() || !client_.idle() || !registered_) return;
  registered_ = false;  // once
  if (countedClient_) service_.clientConnections().release(clientIp_);
  Worker& worker = service_.worker();
  worker.removeSession(*this);
  service_.stats().connectionsActive.sub();
  service_.sessionEnded();
  worker.deferDelete(this);
}

}  // namespace ringlb::l7
