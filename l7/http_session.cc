#include "l7/http_session.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/passive_reports.h"
#include "common/socket.h"
#include "common/worker.h"
#include "l7/error_pages.h"
#include "l7/headers.h"
#include "l7/http_service.h"
#include "l7/router.h"
#include "l7/upstream_pool.h"

namespace ringlb::l7 {
namespace {

// A recv that ran out of provided buffers is re-armed after this pause.
constexpr auto kRearmDelay = std::chrono::milliseconds(2);
// After an error page: how long unread client bytes are drained before the
// close, so that the client reads the answer rather than a reset.
constexpr auto kLingerTime = std::chrono::seconds(1);
// Body bytes copied behind a head so that both leave in one send.
constexpr size_t kCoalesceLimit = 16 * 1024;

std::string peerIp(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "unknown";
  char buf[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  } else if (ss.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

}  // namespace

HttpSession::HttpSession(HttpService& service, int clientFd)
    : service_(service),
      clientFd_(clientFd),
      stats_(service.stats()),
      reqParser_(http::MessageKind::Request),
      respParser_(http::MessageKind::Response) {}

HttpSession::~HttpSession() = default;

// ------------------------------------------------------------------ set-up

void HttpSession::start() {
  Worker& worker = service_.worker();
  worker.addSession(*this);
  registered_ = true;
  stats_.connectionsActive.add();
  clientIp_ = peerIp(clientFd_);
  setNoDelay(clientFd_);
  if (!loadListener()) {
    close();
    maybeFree();
    return;
  }
  lastActivity_ = worker.now();
  worker.timers().schedule(clientTimer_, worker.now() + listener_->headerTimeout);
  armClientRecv();
}

bool HttpSession::loadListener() {
  config_ = service_.worker().config();
  for (const auto& l : config_->listeners) {
    if (l.name == service_.name()) listener_ = &l;
  }
  if (listener_ == nullptr) return false;  // removed by a reload in the meantime
  idleTimeout_ = listener_->effectiveIdleTimeout();
  return true;
}

// ------------------------------------------------------------ entry points

void HttpSession::onCompletion(Op& op) {
  if (&op == &clientRecvOp_) {
    onClientRecv(op);
  } else if (&op == &resp_.sendOp) {
    onPipeSent(resp_, op.result);
  } else if (&op == &req_.sendOp) {
    onPipeSent(req_, op.result);
  } else if (&op == &connectOp_) {
    onConnect(op);
  }  // cancels: their targets complete on their own ops
  progress();
  maybeFree();
}

void HttpSession::onUpstreamRecv(UpstreamConn& conn, const Op& op) {
  BufferRing& buffers = service_.worker().buffers();
  if (&conn != conn_ || state_ == State::Closing) {
    if (op.result > 0) buffers.recycle(op.bufferId());
    return;
  }
  if (op.result > 0) {
    resp_.in.push({op.bufferId(), static_cast<uint32_t>(op.result), 0});
    respBytes_ += static_cast<uint64_t>(op.result);
    touch();
  } else if (op.result == 0) {
    upEof_ = true;
  } else {
    upError_ = -op.result;
  }
  progress();
  maybeFree();
}

void HttpSession::onTimer(Timer& timer) {
  Worker& worker = service_.worker();
  switch (timer.id()) {
    case kClientTimer:
      if (state_ == State::ReadingHead) {
        if (headStarted_) {
          reject(408, RejectReason::HeaderTimeout);  // slowloris: the head is too slow
        } else {
          close();  // idle keep-alive connection (or one that never spoke)
        }
      } else if (state_ == State::Lingering) {
        close();
      } else if (state_ != State::Closing) {
        bool waitingBackend = state_ == State::Proxying && !respHeadDone_;
        if (!waitingBackend && worker.now() - lastActivity_ >= idleTimeout_) {
          close();
        } else {
          worker.timers().schedule(clientTimer_, lastActivity_ + idleTimeout_);
        }
      }
      break;
    case kUpstreamTimer:
      if (connecting_) {
        if (connectOp_.inFlight()) worker.ring().cancelOp(cancelConnectOp_, connectOp_);
      } else if (conn_ != nullptr && !respHeadDone_) {
        logDebug("listener {}: backend {} did not answer in time", service_.name(), backendKey_);
        upstreamFailed(504, false);
      }
      break;
    case kRearmTimer: clientNeedRearm_ = false; break;
    default: break;
  }
  progress();
  maybeFree();
}

void HttpSession::beginDrain() {
  draining_ = true;
  if (state_ == State::ReadingHead && !headStarted_) close();
  maybeFree();
}

void HttpSession::abort() {
  close();
  maybeFree();
}

// ----------------------------------------------------------------- progress

void HttpSession::progress() {
  // Each step may enable the next (a finished response lets a pipelined
  // request start); the bound only guards against a bug spinning forever.
  for (int i = 0; i < 64 && step(); ++i) {
  }
  updateRecvInterest();
}

bool HttpSession::step() {
  switch (state_) {
    case State::ReadingHead: {
      if (req_.in.empty()) {
        if (clientEof_ || (draining_ && !headStarted_)) close();
        return false;
      }
      parseRequestHead();
      return state_ != State::ReadingHead;
    }
    case State::Proxying: {
      if (needUpstream_ && !connecting_ && conn_ == nullptr && !req_.sendOp.inFlight() &&
          !connectOp_.inFlight()) {
        pickAndConnect();
      }
      if (conn_ != nullptr) pump(req_, conn_->fd());
      if (req_.framingError) {
        req_.framingError = false;
        reject(400, RejectReason::BadRequest);
        return true;
      }
      if (conn_ != nullptr && !respHeadDone_) parseResponseHead();
      if (state_ != State::Proxying) return true;
      checkUpstreamEnd();
      if (state_ != State::Proxying) return true;
      pump(resp_, clientFd_);  // after the checks: they may have queued an error page
      if (needUpstream_ && conn_ == nullptr && !connecting_) {
        // A retry is due: go round again once the old ops are back.
        return !req_.sendOp.inFlight() && !connectOp_.inFlight();
      }
      if (respHeadDone_ && resp_.bodyDone && resp_.flushed() && !req_.sendOp.inFlight() &&
          !connectOp_.inFlight()) {
        finishExchange();
        return true;
      }
      return false;
    }
    case State::Tunnel: stepTunnel(); return false;
    case State::Lingering:
      recycleAll(req_.in);
      if (clientEof_) close();
      return false;
    case State::Closing: return false;
  }
  return false;
}

void HttpSession::stepTunnel() {
  if (conn_ != nullptr) pump(req_, conn_->fd());
  pump(resp_, clientFd_);
  if (upError_ != 0) {
    close();
    return;
  }
  // Half-close each way once everything before the EOF was passed on.
  if (clientEof_ && req_.in.empty() && req_.flushed() && !upShut_ && conn_ != nullptr) {
    upShut_ = true;
    ::shutdown(conn_->fd(), SHUT_WR);
  }
  if (upEof_ && resp_.in.empty() && resp_.flushed() && !clientShut_) {
    clientShut_ = true;
    ::shutdown(clientFd_, SHUT_WR);
  }
  if (upShut_ && clientShut_) close();
}

void HttpSession::updateRecvInterest() {
  if (state_ == State::Closing) return;
  bool wantClient =
      !clientEof_ && (state_ == State::Lingering || req_.in.size() < kMaxQueuedBuffers);
  if (wantClient) {
    armClientRecv();
  } else if (clientRecvOp_.inFlight() && !clientPaused_) {
    clientPaused_ = true;  // backpressure: TCP flow control slows the client
    service_.worker().ring().cancelOp(cancelRecvOp_, clientRecvOp_);
  }
  if (conn_ == nullptr) return;
  if (resp_.in.size() >= kMaxQueuedBuffers) {
    conn_->pauseRecv();
  } else if (conn_->recvPaused() && resp_.in.size() <= kMaxQueuedBuffers / 2) {
    conn_->resumeRecv();
  }
}

// ------------------------------------------------------------- client side

void HttpSession::armClientRecv() {
  if (clientRecvOp_.inFlight() || clientEof_ || clientNeedRearm_ || state_ == State::Closing)
    return;
  clientPaused_ = false;
  Worker& worker = service_.worker();
  worker.ring().recvMultishot(clientRecvOp_, clientFd_, worker.buffers().groupId());
}

void HttpSession::onClientRecv(Op& op) {
  Worker& worker = service_.worker();
  if (op.result > 0) {
    worker.buffers().take(op.bufferId(), static_cast<size_t>(op.result));
    if (state_ == State::Closing || state_ == State::Lingering) {
      worker.buffers().recycle(op.bufferId());
      return;
    }
    req_.in.push({op.bufferId(), static_cast<uint32_t>(op.result), 0});
    stats_.bytesIn.add(static_cast<uint64_t>(op.result));
    touch();
    if (state_ == State::ReadingHead && !headStarted_) {
      headStarted_ = true;  // from here the whole head must come within header_timeout
      worker.timers().schedule(clientTimer_, worker.now() + listener_->headerTimeout);
    }
    return;
  }
  if (state_ == State::Closing) return;
  if (op.result == 0) {
    clientEof_ = true;
    if (state_ == State::Proxying && !req_.bodyDone) close();  // the body will never end
    return;
  }
  if (op.result == -ENOBUFS) {
    clientNeedRearm_ = true;
    if (!rearmTimer_.armed()) worker.timers().schedule(rearmTimer_, worker.now() + kRearmDelay);
    return;
  }
  if (op.result == -ECANCELED) return;  // paused for backpressure
  close();
}

void HttpSession::parseRequestHead() {
  while (!req_.in.empty()) {
    std::string_view bytes = frontBytes(req_.in);
    http::ParseResult r = reqParser_.feed(bytes);
    if (r.status == http::ParseStatus::Error) {
      uint16_t status = http::httpStatusFor(r.error, http::MessageKind::Request);
      logDebug("listener {}: bad request from {}: {}", service_.name(), clientIp_,
               http::errorName(r.error));
      reject(status,
             status == 414 || status == 431 ? RejectReason::TooLarge : RejectReason::BadRequest);
      return;
    }
    consume(req_.in, r.consumed);
    if (r.status == http::ParseStatus::HeadComplete) {
      startRequest();
      return;
    }
  }
}

void HttpSession::startRequest() {
  Worker& worker = service_.worker();
  const http::MessageHead& h = reqParser_.head();
  requestStart_ = worker.now();
  state_ = State::Proxying;
  worker.timers().schedule(clientTimer_, worker.now() + idleTimeout_);
  client10_ = h.version == http::Version::Http10;
  clientKeepAlive_ = h.keepAlive && !draining_;
  idempotent_ = isIdempotent(h.method);
  expectContinue_ = h.expectContinue;
  wantsUpgrade_ = h.wantsUpgrade();
  setRequestFraming(h);
  if (h.method == http::Method::Connect) {
    respondError(405);
    return;
  }
  RouteMatch match = Router(*listener_).match({h.authority, h.path, h.methodName, h.headers});
  if (!match.found()) {
    reject(404, RejectReason::NoRoute);
    return;
  }
  route_ = match.route;
  pool_ = config_->findPool(*match.pool);
  poolState_ = worker.pool(*match.pool);
  if (pool_ == nullptr || poolState_ == nullptr) {
    reject(503, RejectReason::NoBackend);
    return;
  }
  keyHash_ = hashKeyOf(h);
  buildUpstreamHead(h);
  respParser_.reset();
  respParser_.setRequestMethod(h.method);
  needUpstream_ = true;
}

void HttpSession::setRequestFraming(const http::MessageHead& h) {
  req_.bodyStarted = false;
  req_.dropFraming = false;
  switch (h.framing) {
    case http::BodyFraming::ContentLength:
      req_.framing = Framing::Length;
      req_.length = http::LengthBody(h.contentLength);
      req_.bodyDone = h.contentLength == 0;
      break;
    case http::BodyFraming::Chunked:
      req_.framing = Framing::Chunked;
      req_.chunked.reset();
      req_.bodyDone = false;
      break;
    default:
      req_.framing = Framing::None;
      req_.bodyDone = true;
      break;
  }
}

void HttpSession::buildUpstreamHead(const http::MessageHead& h) {
  std::string requestId;
  if (h.find("x-request-id") == nullptr) {
    requestId = formatRequestId(service_.nextRandom(), service_.nextRandom());
  }
  ForwardInfo info{clientIp_, "http", requestId, listener_->bind.text};
  upstreamHead_.clear();
  writeUpstreamRequestHead(h, route_, info, upstreamHead_);
}

std::optional<uint64_t> HttpSession::hashKeyOf(const http::MessageHead& h) {
  if (pool_->balance != config::BalanceAlgorithm::Hash) return std::nullopt;
  hashFields_.clear();
  for (const auto& f : h.headers) hashFields_.push_back({f.name, f.value});
  upstream::RequestKeyView view{clientIp_, h.target, hashFields_};
  auto key = upstream::extractHashKey(pool_->hashKey, view);
  if (!key) return std::nullopt;
  return upstream::hashBytes(*key);
}

void HttpSession::reject(uint16_t status, RejectReason reason) {
  stats_.rejected[static_cast<size_t>(reason)].add();
  respondError(status);
}

void HttpSession::respondError(uint16_t status) {
  if (respHeadDone_ || state_ == State::Closing || state_ == State::Lingering) {
    close();  // part of a response already went out: a reset is all that is left
    return;
  }
  if (state_ == State::ReadingHead) requestStart_ = service_.worker().now();
  dropUpstream();
  releaseLease();
  state_ = State::Proxying;
  needUpstream_ = false;
  respHeadDone_ = true;
  closeAfter_ = true;
  status_ = status;
  resp_.framing = Framing::None;
  resp_.bodyDone = true;
  queueHead(resp_, errorResponse(status));
}

void HttpSession::finishExchange() {
  Worker& worker = service_.worker();
  bool reusable = conn_ != nullptr && respKeepAlive_ && req_.bodyDone && req_.flushed() &&
                  resp_.in.empty() && !upEof_ && upError_ == 0;
  if (conn_ != nullptr && status_ < 500) reportPassiveSuccess(pool_->name, backendKey_);
  if (reusable) {
    service_.upstreams().release(*conn_);
    conn_ = nullptr;
  } else {
    dropUpstream();
  }
  releaseLease();
  worker.timers().cancel(upstreamTimer_);
  stats_.countRequest(status_);
  stats_.requestDuration.observe(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - requestStart_).count()));
  if (closeAfter_ || !clientKeepAlive_ || !req_.bodyDone || draining_) {
    startLingering();
    return;
  }
  resetExchange();
  startReadingHead();
}

void HttpSession::resetExchange() {
  reqParser_.reset();
  route_ = nullptr;
  tried_.clear();
  keyHash_.reset();
  status_ = 0;
  connectAttempts_ = 0;
  respBytes_ = 0;
  headStarted_ = false;
  needUpstream_ = false;
  retried_ = false;
  forceFresh_ = false;
  respHeadDone_ = false;
  respKeepAlive_ = false;
  closeAfter_ = false;
  req_.framing = Framing::None;
  req_.bodyDone = true;
  resp_.framing = Framing::None;
  resp_.bodyDone = true;
  resp_.dropFraming = false;
}

void HttpSession::startReadingHead() {
  Worker& worker = service_.worker();
  state_ = State::ReadingHead;
  headStarted_ = !req_.in.empty();  // a pipelined request already started
  auto limit = headStarted_ ? listener_->headerTimeout : idleTimeout_;
  worker.timers().schedule(clientTimer_, worker.now() + limit);
}

void HttpSession::startLingering() {
  if (clientEof_) {
    close();
    return;
  }
  state_ = State::Lingering;
  recycleAll(req_.in);
  ::shutdown(clientFd_, SHUT_WR);
  Worker& worker = service_.worker();
  worker.timers().schedule(clientTimer_, worker.now() + kLingerTime);
}

void HttpSession::touch() { lastActivity_ = service_.worker().now(); }

// --------------------------------------------------------------- upstream

void HttpSession::pickAndConnect() {
  Worker& worker = service_.worker();
  needUpstream_ = false;
  auto picked = poolState_->acquire(worker.now(), keyHash_, &tried_);
  if (!picked.ok()) {
    bool noneUp = picked.failure == upstream::PickFailure::NoBackendUp;
    if (noneUp) {
      reject(503, RejectReason::NoBackend);
    } else {
      respondError(502);
    }
    return;
  }
  lease_ = std::move(picked.lease);
  leasePool_ = poolState_;
  backendKey_.assign(lease_.backend().address);
  backendStats_ = &service_.backendStats(pool_->name, backendKey_);
  backendStats_->requests.add();
  backendStats_->active.add();
  if (!forceFresh_) {
    if (UpstreamConn* idle = service_.upstreams().take(backendKey_)) {
      attachConn(idle);
      return;
    }
  }
  const config::SocketAddress& address = lease_.backend().resolved;
  int fd = openTcpSocket(address.family());
  if (fd < 0) {
    connectFailed(-fd);
    return;
  }
  setNoDelay(fd);
  connectFd_ = fd;
  connecting_ = true;
  worker.ring().connect(connectOp_, fd, address.sa(), address.length);
  worker.timers().schedule(upstreamTimer_, worker.now() + pool_->connectTimeout);
}

void HttpSession::onConnect(Op& op) {
  service_.worker().timers().cancel(upstreamTimer_);
  if (!connecting_ || state_ == State::Closing) {  // abandoned meanwhile
    if (connectFd_ >= 0) ::close(connectFd_);
    connectFd_ = -1;
    return;
  }
  connecting_ = false;
  if (op.result < 0) {
    connectFailed(op.result == -ECANCELED ? ETIMEDOUT : -op.result);
    return;
  }
  UpstreamConn* conn = service_.upstreams().adopt(connectFd_, backendKey_);
  connectFd_ = -1;
  attachConn(conn);
}

void HttpSession::connectFailed(int err) {
  logDebug("listener {}: connect to {} failed: {}", service_.name(), backendKey_,
           std::strerror(err));
  if (connectFd_ >= 0) ::close(connectFd_);
  connectFd_ = -1;
  connecting_ = false;
  if (backendStats_ != nullptr) backendStats_->connectFailures.add();
  reportPassiveFailure(pool_->name, backendKey_, std::strerror(err));
  tried_.add(lease_.id());
  releaseLease();
  if (++connectAttempts_ <= pool_->retries) {
    needUpstream_ = true;
    return;
  }
  respondError(502);
}

void HttpSession::attachConn(UpstreamConn* conn) {
  Worker& worker = service_.worker();
  conn_ = conn;
  conn->attach(*this);
  upEof_ = false;
  upError_ = 0;
  upShut_ = false;
  respBytes_ = 0;
  req_.head.assign(upstreamHead_);
  req_.headSent = 0;
  req_.headNext.clear();
  req_.sendingHead = false;
  worker.timers().schedule(upstreamTimer_, worker.now() + listener_->responseTimeout);
}

void HttpSession::upstreamFailed(uint16_t status, bool retryable) {
  bool reused = conn_ != nullptr && conn_->reuses() > 0;
  if (!reused) {
    // A stale keep-alive connection is not the backend's fault; anything else is.
    if (backendStats_ != nullptr) backendStats_->connectFailures.add();
    reportPassiveFailure(pool_->name, backendKey_,
                         status == 504 ? "response timeout" : "bad or no response");
    if (lease_) tried_.add(lease_.id());
  }
  dropUpstream();
  releaseLease();
  bool canRetry = retryable && !retried_ && idempotent_ && !req_.bodyStarted && respBytes_ == 0;
  if (canRetry) {
    // A reused keep-alive connection the backend had closed, or a backend that
    // failed before answering: once more, on a fresh connection.
    retried_ = true;
    forceFresh_ = true;
    needUpstream_ = true;
    return;
  }
  respondError(status);
}

void HttpSession::dropUpstream() {
  Worker& worker = service_.worker();
  worker.timers().cancel(upstreamTimer_);
  if (conn_ != nullptr) {
    conn_->close();
    conn_ = nullptr;
  }
  if (req_.sendOp.inFlight()) worker.ring().cancelOp(cancelUpSendOp_, req_.sendOp);
  if (connecting_) {
    connecting_ = false;  // onConnect closes the socket
    if (connectOp_.inFlight()) worker.ring().cancelOp(cancelConnectOp_, connectOp_);
  }
  recycleAll(resp_.in);
  resp_.sendable = 0;
}

void HttpSession::releaseLease() {
  if (!lease_) return;
  if (backendStats_ != nullptr) backendStats_->active.sub();
  leasePool_->release(lease_);
}

void HttpSession::parseResponseHead() {
  while (!resp_.in.empty() && !respHeadDone_) {
    http::ParseResult r = respParser_.feed(frontBytes(resp_.in));
    if (r.status == http::ParseStatus::Error) {
      logDebug("listener {}: bad response from {}: {}", service_.name(), backendKey_,
               http::errorName(r.error));
      upstreamFailed(502, false);
      return;
    }
    consume(resp_.in, r.consumed);
    if (r.status == http::ParseStatus::HeadComplete) {
      onResponseHead();
      if (state_ != State::Proxying) return;
    }
  }
}

void HttpSession::onResponseHead() {
  const http::MessageHead& h = respParser_.head();
  if (h.status == 101) {
    if (wantsUpgrade_) {
      startTunnel(h);
    } else {
      upstreamFailed(502, false);  // a switch nobody asked for
    }
    return;
  }
  if (h.isInterim()) {
    // 100 Continue goes to a client that asked for it; other 1xx to HTTP/1.1
    // clients. Then the final response follows on the same connection.
    bool relay = !client10_ && (h.status != 100 || expectContinue_);
    if (relay) {
      std::string interim;
      writeClientResponseHead(h, nullptr, {}, interim);
      queueHead(resp_, interim);
    }
    respParser_.reset();
    respParser_.setRequestMethod(reqParser_.head().method);
    return;
  }
  service_.worker().timers().cancel(upstreamTimer_);
  respHeadDone_ = true;
  status_ = h.status;
  respKeepAlive_ = h.keepAlive;
  resp_.bodyStarted = false;
  resp_.dropFraming = false;
  switch (h.framing) {
    case http::BodyFraming::ContentLength:
      resp_.framing = Framing::Length;
      resp_.length = http::LengthBody(h.contentLength);
      resp_.bodyDone = h.contentLength == 0;
      break;
    case http::BodyFraming::Chunked:
      resp_.framing = Framing::Chunked;
      resp_.chunked.reset();
      resp_.bodyDone = false;
      resp_.dropFraming = client10_;  // HTTP/1.0 has no chunked: send payload, then close
      if (client10_) closeAfter_ = true;
      break;
    case http::BodyFraming::None:
      resp_.framing = Framing::None;
      resp_.bodyDone = true;
      break;
    default:  // until close (and CONNECT tunnels, which this mode refuses)
      resp_.framing = Framing::All;
      resp_.bodyDone = false;
      closeAfter_ = true;
      break;
  }
  if (!req_.bodyDone) closeAfter_ = true;  // answered before the body ended
  ResponseHeadOptions options;
  options.close = closeAfter_ || !clientKeepAlive_ || draining_;
  options.keepAlive = client10_ && !options.close;
  options.dechunk = resp_.dropFraming;
  std::string head;
  head.reserve(512);
  writeClientResponseHead(h, route_, options, head);
  queueHead(resp_, head);
}

void HttpSession::startTunnel(const http::MessageHead& h) {
  service_.worker().timers().cancel(upstreamTimer_);
  respHeadDone_ = true;
  status_ = 101;
  std::string head;
  ResponseHeadOptions options;
  options.upgrade = true;
  writeClientResponseHead(h, route_, options, head);
  queueHead(resp_, head);
  // From here every byte either way is tunnel data.
  req_.framing = Framing::All;
  req_.bodyDone = false;
  resp_.framing = Framing::All;
  resp_.bodyDone = false;
  releaseLease();
  stats_.countRequest(101);
  state_ = State::Tunnel;
  service_.worker().timers().schedule(clientTimer_, service_.worker().now() + idleTimeout_);
}

void HttpSession::checkUpstreamEnd() {
  if (conn_ == nullptr || (!upEof_ && upError_ == 0) || !resp_.in.empty()) return;
  if (!respHeadDone_) {
    // Closed or reset before a complete head: retry when nothing came back.
    upstreamFailed(502, respBytes_ == 0);
    return;
  }
  if (resp_.bodyDone) return;
  if (resp_.framing == Framing::All && upError_ == 0) {
    resp_.bodyDone = true;  // a close-delimited body ends here
    return;
  }
  logDebug("listener {}: backend {} cut the response short", service_.name(), backendKey_);
  close();  // the client must see the truncation: no clean end
}

// ------------------------------------------------------------------- pipes

std::string_view HttpSession::frontBytes(ChunkQueue& q) {
  Chunk& c = q.front();
  return {service_.worker().buffers().data(c.id) + c.off, c.len - c.off};
}

void HttpSession::consume(ChunkQueue& q, size_t n) {
  Chunk& c = q.front();
  c.off += static_cast<uint32_t>(n);
  if (c.off == c.len) {
    service_.worker().buffers().recycle(c.id);
    q.pop();
  }
}

void HttpSession::recycleAll(ChunkQueue& q) {
  while (!q.empty()) {
    service_.worker().buffers().recycle(q.front().id);
    q.pop();
  }
}

void HttpSession::queueHead(Pipe& p, std::string_view bytes) {
  if (p.sendingHead && p.sendOp.inFlight()) {
    p.headNext.append(bytes);  // `head` is being read by the kernel: do not move it
    return;
  }
  if (p.headSent == p.head.size()) {
    p.head.clear();
    p.headSent = 0;
  }
  p.head.append(bytes);
}

void HttpSession::pump(Pipe& p, int fd) {
  if (p.sendOp.inFlight() || fd < 0 || state_ == State::Closing) return;
  Ring& ring = service_.worker().ring();
  if (p.headSent < p.head.size()) {
    coalesceBody(p);
    if (p.framingError) return;
    p.sendingHead = true;
    ring.send(p.sendOp, fd, p.head.data() + p.headSent, p.head.size() - p.headSent);
    return;
  }
  while (p.sendable == 0 && !p.bodyDone && !p.in.empty()) {
    bool forward = true;
    size_t n = classify(p, frontBytes(p.in), forward);
    if (p.framingError) return;
    if (n == 0) break;
    p.bodyStarted = true;
    if (forward) {
      p.sendable = static_cast<uint32_t>(n);
    } else {
      consume(p.in, n);
    }
  }
  if (p.sendable == 0) return;
  p.sendingHead = false;
  std::string_view bytes = frontBytes(p.in);
  ring.send(p.sendOp, fd, bytes.data(), p.sendable);
}

void HttpSession::coalesceBody(Pipe& p) {
  // Body bytes already received go out in the same send as the head: one
  // syscall and one packet for a small message instead of two.
  while (p.sendable == 0 && !p.bodyDone && !p.in.empty() && p.head.size() < kCoalesceLimit) {
    std::string_view bytes = frontBytes(p.in).substr(0, kCoalesceLimit - p.head.size());
    bool forward = true;
    size_t n = classify(p, bytes, forward);
    if (p.framingError || n == 0) return;
    p.bodyStarted = true;
    if (forward) p.head.append(bytes.data(), n);
    consume(p.in, n);
  }
}

size_t HttpSession::classify(Pipe& p, std::string_view avail, bool& forward) {
  switch (p.framing) {
    case Framing::Length: {
      size_t n = p.length.take(avail.size());
      p.bodyDone = p.length.done();
      return n;
    }
    case Framing::Chunked: {
      if (p.dropFraming) {  // one segment at a time: payload is sent, framing skipped
        http::BodySegment seg = p.chunked.next(avail);
        p.framingError = seg.kind == http::BodySegmentKind::Error;
        p.bodyDone = p.chunked.done();
        forward = seg.kind == http::BodySegmentKind::Data;
        return seg.length;
      }
      // Relay the framing as received: every segment up to the end of the body.
      size_t taken = 0;
      while (taken < avail.size() && !p.chunked.done()) {
        http::BodySegment seg = p.chunked.next(avail.substr(taken));
        if (seg.kind == http::BodySegmentKind::Error) {
          p.framingError = true;
          return 0;
        }
        if (seg.kind == http::BodySegmentKind::End) break;
        taken += seg.length;
      }
      p.bodyDone = p.chunked.done();
      return taken;
    }
    case Framing::All: return avail.size();
    case Framing::None: p.bodyDone = true; return 0;
  }
  return 0;
}

void HttpSession::onPipeSent(Pipe& p, int result) {
  bool toClient = &p == &resp_;
  if (state_ == State::Closing) return;
  if (!toClient && conn_ == nullptr) return;  // the connection was dropped meanwhile
  if (result < 0) {
    if (toClient) {
      close();
    } else {
      upError_ = -result;  // handled like a reset from the backend
    }
    return;
  }
  size_t n = static_cast<size_t>(result);
  if (toClient) stats_.bytesOut.add(n);
  touch();
  if (p.sendingHead) {
    p.headSent += n;
    if (p.headSent == p.head.size()) {
      p.head.clear();
      p.headSent = 0;
      p.head.swap(p.headNext);
    }
    p.sendingHead = false;
  } else {
    p.sendable -= static_cast<uint32_t>(n);
    consume(p.in, n);
  }
  if (!toClient && !respHeadDone_) {
    // The backend is receiving: the response timeout counts from its last progress.
    Worker& worker = service_.worker();
    worker.timers().schedule(upstreamTimer_, worker.now() + listener_->responseTimeout);
  }
}

// ------------------------------------------------------------------ closing

void HttpSession::close() {
  if (state_ == State::Closing) return;
  state_ = State::Closing;
  Worker& worker = service_.worker();
  worker.timers().cancel(clientTimer_);
  worker.timers().cancel(upstreamTimer_);
  worker.timers().cancel(rearmTimer_);
  dropUpstream();
  releaseLease();
  // Cancel everything still pending on the client socket; the fd is closed
  // once every CQE has come back.
  worker.ring().cancelFd(cancelClientOp_, clientFd_);
}

void HttpSession::maybeFree() {
  if (state_ != State::Closing || opsInFlight() != 0) return;
  Worker& worker = service_.worker();
  recycleAll(req_.in);
  recycleAll(resp_.in);
  worker.ring().closeDetached(clientFd_);
  if (connectFd_ >= 0) ::close(connectFd_);
  if (registered_) worker.removeSession(*this);
  stats_.connectionsActive.sub();
  service_.sessionEnded();
  delete this;
}

}  // namespace ringlb::l7
