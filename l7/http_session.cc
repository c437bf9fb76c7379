// HttpSession's skeleton: set-up, the entry points (completions, timers,
// upstream receives, drain/abort), the step loop that drives the state
// machine, and the final close/free. The work itself lives in the
// http_session_*.cc files named after each job.
#include "l7/http_session.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/socket.h"
#include "common/worker.h"
#include "l7/http_service.h"
#include "l7/tls_conn.h"

namespace ringlb::l7 {
namespace {

// The listener's configured head limits (the rest keep the parser's defaults).
http::ParserLimits parserLimits(const config::ListenerConfig& l) {
  http::ParserLimits limits;
  limits.maxRequestLine = l.maxRequestLine;
  limits.maxHeaderBytes = l.maxHeaderSize;
  limits.maxHeaderCount = l.maxHeaderFields;
  return limits;
}

}  // namespace

HttpSession::HttpSession(HttpService& service, int clientFd)
    : service_(service),
      clientFd_(clientFd),
      stats_(service.stats()),
      reqParser_(http::MessageKind::Request),
      respParser_(http::MessageKind::Response) {}

HttpSession::~HttpSession() = default;

void HttpSession::start() {
  Worker& worker = service_.worker();
  worker.addSession(*this);
  registered_ = true;
  stats_.connectionsActive.add();
  sockaddr_storage peer{};  // TCP_NODELAY: inherited from the listener
  socklen_t len = sizeof peer;
  if (getpeername(clientFd_, reinterpret_cast<sockaddr*>(&peer), &len) != 0) peer = {};
  setClientAddress(peer);
  if (!loadListener() || (listener_->tls && !startTls())) {
    close();
    maybeFree();
    return;
  }
  lastActivity_ = worker.now();
  worker.timers().schedule(clientTimer_, worker.now() + listener_->headerTimeout);
  if (listener_->acceptProxyProtocol) {
    readProxyHeader();
    return;
  }
  armClientRecv();
}

void HttpSession::setClientAddress(const sockaddr_storage& ss) {
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

bool HttpSession::loadListener() {
  config_ = service_.worker().config();
  for (const auto& l : config_->listeners) {
    if (l.name == service_.name()) listener_ = &l;
  }
  if (listener_ == nullptr) return false;  // removed by a reload in the meantime
  idleTimeout_ = listener_->effectiveIdleTimeout();
  reqParser_.setLimits(parserLimits(*listener_));
  respParser_.setLimits(parserLimits(*listener_));
  return true;
}

void HttpSession::onCompletion(Op& op) {
  if (&op == &clientRecvOp_) {
    onClientRecv(op);
  } else if (&op == &resp_.sendOp) {
    if (tls_ != nullptr) {
      onTlsSent(op.result);  // ciphertext: the pipe hears once a whole send went out
    } else {
      onPipeSent(resp_, op.result);
    }
  } else if (&op == &req_.sendOp) {
    onPipeSent(req_, op.result);
  } else if (&op == &connectOp_) {
    onConnect(op);
  } else if (&op == &proxyRecvOp_) {
    onProxyRecv(op);
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
    resp_.in.push({op.bufferId(), static_cast<uint32_t>(op.result), 0, Origin::Ring});
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
      if (state_ == State::ReadingProxyHeader) {
        rejectProxyHeader(RejectReason::HeaderTimeout, "no complete PROXY header in time");
      } else if (state_ == State::ReadingHead) {
        if (headStarted_) {
          fail(makeError(ErrorCode::HeadTimeout));  // slowloris: the head is too slow
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
        upstreamFailed(makeError(ErrorCode::ResponseTimeout));
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
  if (state_ == State::ReadingProxyHeader || (state_ == State::ReadingHead && !headStarted_)) {
    close();
  }
  maybeFree();
}

void HttpSession::abort() {
  close();
  maybeFree();
}

void HttpSession::progress() {
  // Each step may enable the next (a finished response lets a pipelined
  // request start); the bound only guards against a bug spinning forever.
  for (int i = 0; i < 64; ++i) {
    if (tls_ != nullptr) pullTls();  // decrypt what the queue has room for
    if (!step()) break;
  }
  updateRecvInterest();
}

bool HttpSession::step() {
  switch (state_) {
    case State::ReadingProxyHeader: return false;  // _proxy drives itself
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
      if (req_.framingError || req_.overLimit) {
        // An over-limit chunked body: the upstream request is aborted (its
        // connection closed mid-body) and the client gets 413 unless the
        // response already started.
        fail(makeError(req_.framingError ? ErrorCode::BadRequest : ErrorCode::BodyTooLarge));
        req_.framingError = false;
        req_.overLimit = false;
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
    if (tls_ != nullptr) closeNotify();
    ::shutdown(clientFd_, SHUT_WR);
  }
  if (upShut_ && clientShut_) close();
}

void HttpSession::updateRecvInterest() {
  if (state_ == State::Closing || state_ == State::ReadingProxyHeader) return;
  bool wantClient = !clientEof_ && (state_ == State::Lingering ||
                                    (req_.in.size() < kMaxQueuedBuffers && !tlsBacklogged()));
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

void HttpSession::touch() { lastActivity_ = service_.worker().now(); }

void HttpSession::close() {
  if (state_ == State::Closing) return;
  logRequest();  // a request cut short (reset, truncated body) is logged too
  // An idle keep-alive connection ends cleanly; anything cut short must not
  // look complete, so it gets no close_notify.
  if (tls_ != nullptr && state_ == State::ReadingHead && !headStarted_) closeNotify();
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
