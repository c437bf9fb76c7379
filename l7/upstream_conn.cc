#include "l7/upstream_conn.h"

#include <unistd.h>

#include <cerrno>

#include "common/worker.h"
#include "l7/upstream_pool.h"

namespace ringlb::l7 {
namespace {

// A recv that found the buffer pool empty is re-armed after this pause.
constexpr auto kRearmDelay = std::chrono::milliseconds(2);

}  // namespace

UpstreamConn::UpstreamConn(UpstreamPool& pool, Worker& worker, int fd, std::string backend)
    : pool_(pool), worker_(worker), fd_(fd), backend_(std::move(backend)) {
  armRecv();
}

UpstreamConn::~UpstreamConn() { assert(opsInFlight() == 0); }

void UpstreamConn::attach(UpstreamHandler& handler) {
  if (state_ == State::Idle) ++reuses_;
  state_ = State::Active;
  handler_ = &handler;
  worker_.timers().cancel(idleTimer_);
}

void UpstreamConn::makeIdle() {
  state_ = State::Idle;
  handler_ = nullptr;
  paused_ = false;
  armRecv();
  worker_.timers().schedule(idleTimer_, worker_.now() + pool_.options().idleTimeout);
}

void UpstreamConn::pauseRecv() {
  if (paused_ || state_ != State::Active) return;
  paused_ = true;
  if (recvOp_.inFlight()) worker_.ring().cancelOp(cancelOp_, recvOp_);
}

void UpstreamConn::resumeRecv() {
  if (!paused_) return;
  paused_ = false;
  armRecv();
}

void UpstreamConn::armRecv() {
  if (recvOp_.inFlight() || paused_ || state_ == State::Closing) return;
  worker_.ring().recvMultishot(recvOp_, fd_, worker_.buffers().groupId());
}

void UpstreamConn::close() {
  if (state_ == State::Closing) return;
  if (state_ == State::Idle) pool_.unlinkIdle(*this);
  state_ = State::Closing;
  handler_ = nullptr;
  worker_.timers().cancel(idleTimer_);
  worker_.timers().cancel(rearmTimer_);
  if (recvOp_.inFlight()) worker_.ring().cancelFd(cancelOp_, fd_);
  if (!inCallback_) maybeFree();  // else onCompletion frees it on the way out
}

void UpstreamConn::onCompletion(Op& op) {
  inCallback_ = true;
  if (&op == &recvOp_) onRecv(op);
  inCallback_ = false;
  maybeFree();
}

void UpstreamConn::onRecv(Op& op) {
  if (op.result > 0) worker_.buffers().take(op.bufferId(), static_cast<size_t>(op.result));
  const bool last = !op.hasMore();
  if (op.result == -ENOBUFS && state_ != State::Closing) {
    if (!rearmTimer_.armed()) worker_.timers().schedule(rearmTimer_, worker_.now() + kRearmDelay);
    return;
  }
  if (op.result == -ECANCELED) {
    if (state_ != State::Closing && !paused_) armRecv();  // resumed before the cancel landed
    return;
  }
  if (state_ == State::Active && handler_ != nullptr) {
    handler_->onUpstreamRecv(*this, op);  // may close() or release this connection
  } else {
    if (op.result > 0) worker_.buffers().recycle(op.bufferId());
    // A parked connection must stay silent: data or EOF means it is done.
    if (state_ == State::Idle) close();
    return;
  }
  if (last && op.result > 0 && state_ != State::Closing) armRecv();
}

void UpstreamConn::onTimer(Timer& timer) {
  if (timer.id() == kIdleTimer) {
    if (state_ == State::Idle) close();
  } else if (state_ != State::Closing) {
    armRecv();
  }
}

void UpstreamConn::maybeFree() {
  if (state_ != State::Closing || opsInFlight() != 0) return;
  worker_.ring().closeDetached(fd_);
  pool_.onFreed();
  delete this;
}

}  // namespace ringlb::l7
