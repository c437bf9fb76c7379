#include "l4/tcp_session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/passive_reports.h"
#include "common/socket.h"
#include "common/upstream/hash_key.h"
#include "common/worker.h"
#include "l4/tcp_service.h"

namespace ringlb::l4 {
namespace {

// A recv that ran out of provided buffers is re-armed after this pause:
// re-arming at once would spin while the pool is empty.
constexpr auto kRearmDelay = std::chrono::milliseconds(2);

bool isReset(int err) { return err == ECONNRESET || err == EPIPE || err == ETIMEDOUT; }

}  // namespace

TcpSession::TcpSession(TcpService& service, int clientFd)
    : service_(service), clientFd_(clientFd) {}

TcpSession::~TcpSession() = default;

void TcpSession::start() {
  Worker& worker = service_.worker();
  worker.addSession(*this);
  registered_ = true;
  config_ = worker.config();
  const config::ListenerConfig* listener = nullptr;
  for (const auto& l : config_->listeners) {
    if (l.name == service_.name()) listener = &l;
  }
  if (listener == nullptr) {  // removed by a reload in the meantime
    close();
    return;
  }
  idleTimeout_ = listener->effectiveIdleTimeout();
  pool_ = config_->findPool(listener->pool);
  poolState_ = worker.pool(listener->pool);
  if (pool_ == nullptr || poolState_ == nullptr) {
    close();
    return;
  }
  if (pool_->balance == config::BalanceAlgorithm::Hash &&
      pool_->hashKey.kind == config::HashKeyKind::SourceIp) {
    std::array<char, 16> bytes;
    std::string_view key = peerAddressBytes(clientFd_, bytes);
    if (!key.empty()) keyHash_ = upstream::hashBytes(key);
  }
  connectNext();
}

void TcpSession::connectNext() {
  Worker& worker = service_.worker();
  auto picked = poolState_->acquire(worker.now(), keyHash_, &tried_);
  if (!picked.ok()) {
    ++service_.counters().noBackend;
    service_.stats().rejected[static_cast<size_t>(RejectReason::NoBackend)].add();
    logDebug("listener {}: no backend available in pool {}", service_.name(), pool_->name);
    close();
    return;
  }
  lease_ = std::move(picked.lease);
  tried_.add(lease_.id());
  backendAddress_ = lease_.backend().resolved;
  backendStats_ = &service_.backendStats(pool_->name, lease_.backend().address);
  backendStats_->active.add();
  connectStart_ = worker.now();
  ++attempts_;
  upstreamFd_ = openTcpSocket(backendAddress_.family());
  if (upstreamFd_ < 0) {
    connectFailed(-upstreamFd_);
    return;
  }
  worker.ring().connect(connectOp_, upstreamFd_, backendAddress_.sa(), backendAddress_.length);
  worker.timers().schedule(connectTimer_, worker.now() + pool_->connectTimeout);
}

void TcpSession::onConnect(Op& op) {
  service_.worker().timers().cancel(connectTimer_);
  if (state_ == State::Closing) return;
  if (op.result < 0) {
    connectFailed(op.result == -ECANCELED ? ETIMEDOUT : -op.result);
    return;
  }
  startProxying();
}

void TcpSession::connectFailed(int err) {
  ++service_.counters().connectFailures;
  backendStats_->connectFailures.add();
  backendStats_->active.sub();
  reportPassiveFailure(pool_->name, backendAddress_.text, std::strerror(err));
  logDebug("listener {}: connect to {} failed: {}", service_.name(), backendAddress_.text,
           std::strerror(err));
  if (upstreamFd_ >= 0) {
    ::close(upstreamFd_);
    upstreamFd_ = -1;
  }
  poolState_->release(lease_);
  if (attempts_ > pool_->retries) {
    close();
    return;
  }
  connectNext();
}

void TcpSession::startProxying() {
  state_ = State::Proxying;
  backendStats_->requests.add();
  backendStats_->connectTime.observe(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(service_.worker().now() - connectStart_)
          .count()));
  touch();
  armRecv(up_);
  armRecv(down_);
  service_.worker().timers().schedule(idleTimer_, lastActivity_ + idleTimeout_);
}

void TcpSession::armRecv(Direction& d) {
  if (d.recvOp.inFlight() || d.eof || state_ != State::Proxying) return;
  d.paused = false;
  d.needRearm = false;
  service_.worker().ring().recvMultishot(d.recvOp, fromFd(d), service_.worker().buffers().groupId());
}

TcpSession::Direction& TcpSession::directionOf(const Op& op) {
  if (&op == &up_.recvOp || &op == &up_.sendOp || &op == &up_.cancelOp) return up_;
  return down_;
}

void TcpSession::onCompletion(Op& op) {
  switch (op.kind) {
    case OpKind::Connect: onConnect(op); break;
    case OpKind::Recv: onRecv(directionOf(op), op); break;
    case OpKind::Send: onSend(directionOf(op), op); break;
    default: break;  // cancels: their targets complete on their own ops
  }
  maybeFree();
}

void TcpSession::onRecv(Direction& d, Op& op) {
  BufferRing& buffers = service_.worker().buffers();
  if (op.result > 0) {
    buffers.take(op.bufferId(), static_cast<size_t>(op.result));
    if (state_ == State::Closing) {
      buffers.recycle(op.bufferId());
      return;
    }
    d.queue.push_back({op.bufferId(), static_cast<uint32_t>(op.result), 0});
    (d.clientSide ? service_.counters().bytesFromClients : service_.counters().bytesFromBackends) +=
        static_cast<uint64_t>(op.result);
    if (d.clientSide) service_.stats().bytesIn.add(static_cast<uint64_t>(op.result));
    touch();
    if (!d.sendOp.inFlight()) sendHead(d);
    if (d.queued() >= kMaxQueuedBuffers && op.hasMore() && !d.paused) {
      // Backpressure: stop reading until the other side has taken some data.
      d.paused = true;
      service_.worker().ring().cancelOp(d.cancelOp, d.recvOp);
    } else if (!op.hasMore() && !d.paused) {
      armRecv(d);  // the kernel ended the multishot early: carry on
    }
    return;
  }
  if (state_ == State::Closing) return;
  if (op.result == 0) {
    d.eof = true;
    maybeShutdown(d);
    return;
  }
  if (op.result == -ENOBUFS) {
    // The worker's buffer pool is empty: retry shortly instead of spinning.
    d.needRearm = true;
    auto& timers = service_.worker().timers();
    if (!rearmTimer_.armed()) timers.schedule(rearmTimer_, service_.worker().now() + kRearmDelay);
    return;
  }
  if (op.result == -ECANCELED) return;  // paused for backpressure
  if (isReset(-op.result)) resetPeer(toFd(d));
  close();
}

void TcpSession::sendHead(Direction& d) {
  const Chunk& c = d.queue[d.head];
  const char* data = service_.worker().buffers().data(c.bufferId);
  service_.worker().ring().send(d.sendOp, toFd(d), data + c.offset, c.length - c.offset);
}

void TcpSession::onSend(Direction& d, Op& op) {
  if (state_ == State::Closing) return;
  if (op.result < 0) {
    if (isReset(-op.result)) resetPeer(fromFd(d));
    close();
    return;
  }
  if (!d.clientSide) service_.stats().bytesOut.add(static_cast<uint64_t>(op.result));
  Chunk& c = d.queue[d.head];
  c.offset += static_cast<uint32_t>(op.result);
  if (c.offset == c.length) {
    service_.worker().buffers().recycle(c.bufferId);
    if (++d.head == d.queue.size()) {
      d.queue.clear();
      d.head = 0;
    }
  }
  touch();
  if (d.queued() > 0) sendHead(d);
  if (d.paused && !d.recvOp.inFlight() && d.queued() <= kMaxQueuedBuffers / 2) armRecv(d);
  maybeShutdown(d);
}

void TcpSession::maybeShutdown(Direction& d) {
  if (!d.eof || d.queued() > 0 || d.shutDown) return;
  d.shutDown = true;
  // Half-close: the peer learns that no more data comes, the other
  // direction keeps flowing.
  ::shutdown(toFd(d), SHUT_WR);
  if (up_.shutDown && down_.shutDown) close();
}

void TcpSession::resetPeer(int fd) {
  if (fd < 0) return;
  linger lg{1, 0};  // close() now sends RST instead of FIN
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
}

void TcpSession::touch() { lastActivity_ = service_.worker().now(); }

void TcpSession::onTimer(Timer& timer) {
  Worker& worker = service_.worker();
  switch (timer.id()) {
    case kConnectTimer:
      if (connectOp_.inFlight()) worker.ring().cancelOp(cancelConnectOp_, connectOp_);
      break;
    case kIdleTimer:
      if (state_ != State::Proxying) break;
      if (worker.now() - lastActivity_ >= idleTimeout_) {
        ++service_.counters().idleTimeouts;
        close();
        maybeFree();
      } else {
        worker.timers().schedule(idleTimer_, lastActivity_ + idleTimeout_);
      }
      break;
    case kRearmTimer:
      for (Direction* d : {&up_, &down_}) {
        if (d->needRearm) armRecv(*d);
      }
      break;
    default: break;
  }
}

void TcpSession::abort() {
  if (state_ == State::Closing) return;
  close();
  maybeFree();
}

void TcpSession::close() {
  if (state_ == State::Closing) return;
  state_ = State::Closing;
  Worker& worker = service_.worker();
  worker.timers().cancel(connectTimer_);
  worker.timers().cancel(idleTimer_);
  worker.timers().cancel(rearmTimer_);
  // Cancel everything still pending on either socket; the fds are closed once
  // every CQE (cancelled ops and the cancels themselves) has come back.
  if (clientFd_ >= 0) worker.ring().cancelFd(cancelClientOp_, clientFd_);
  if (upstreamFd_ >= 0) worker.ring().cancelFd(cancelUpstreamOp_, upstreamFd_);
}

void TcpSession::maybeFree() {
  if (state_ != State::Closing || opsInFlight() != 0) return;
  Worker& worker = service_.worker();
  for (Direction* d : {&up_, &down_}) {
    for (size_t i = d->head; i < d->queue.size(); ++i) {
      worker.buffers().recycle(d->queue[i].bufferId);
    }
  }
  if (clientFd_ >= 0) worker.ring().closeDetached(clientFd_);
  if (upstreamFd_ >= 0) worker.ring().closeDetached(upstreamFd_);
  if (lease_) {
    poolState_->release(lease_);
    backendStats_->active.sub();
  }
  if (registered_) worker.removeSession(*this);
  service_.sessionEnded();
  delete this;
}

}  // namespace ringlb::l4
