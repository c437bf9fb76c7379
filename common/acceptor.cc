#include "common/acceptor.h"

#include <unistd.h>

#include <cerrno>

#include "common/socket.h"

namespace ringlb {

Acceptor::Acceptor(Ring& ring, int listenFd, AcceptHandler& handler)
    : ring_(ring), fd_(listenFd), handler_(handler) {
  backoff_.tv_nsec = 100'000'000;
}

Acceptor::~Acceptor() {
  if (fd_ >= 0) close(fd_);
}

void Acceptor::start() { arm(); }

void Acceptor::arm() {
  if (stopped_ || acceptOp_.inFlight() || backoffOp_.inFlight()) return;
  paused_ = false;
  backingOff_ = false;  // a back-off that never started (paused meanwhile) is over
  ring_.accept(acceptOp_, fd_, /*multishot=*/true);
}

void Acceptor::resume() {
  if (paused_ && handler_.canAccept()) arm();
}

void Acceptor::pause() {
  paused_ = true;
  if (acceptOp_.inFlight() && !cancelOp_.inFlight()) ring_.cancelOp(cancelOp_, acceptOp_);
}

void Acceptor::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (acceptOp_.inFlight() && !cancelOp_.inFlight()) ring_.cancelOp(cancelOp_, acceptOp_);
  if (backoffOp_.inFlight()) {
    io_uring_prep_timeout_remove(ring_.prepareDetached(), reinterpret_cast<uint64_t>(&backoffOp_),
                                 0);
  }
  // Closing now refuses new connections at once; the ring holds its own file
  // reference until the cancelled accept completes.
  close(fd_);
  fd_ = -1;
}

void Acceptor::onCompletion(Op& op) {
  switch (op.kind) {
    case OpKind::Accept: onAccept(op); break;
    case OpKind::Timeout:
      backingOff_ = false;
      if (stopped_) break;
      if (handler_.canAccept()) {
        arm();
      } else {
        paused_ = true;
      }
      break;
    default: break;  // cancel completions
  }
}

void Acceptor::onAccept(Op& op) {
  if (op.result >= 0) {
    ++accepted_;
    failureReported_ = false;
    if (stopped_) {
      close(op.result);  // raced with stop(): the listener is gone
      return;
    }
    handler_.onAccepted(op.result);  // TCP_NODELAY is inherited from the listener
    if (!handler_.canAccept()) pause();
  } else if (op.result != -ECANCELED && op.result != -EINTR && op.result != -ECONNABORTED) {
    // Out of descriptors or memory, or an error nothing here expects (a
    // socket that no longer listens): retrying at once would spin, so every
    // failure waits out the back-off and is reported once per episode.
    if (op.result == -EMFILE || op.result == -ENFILE) ++fdExhaustion_;
    backingOff_ = true;
    // Logged once until an accept succeeds again, not every 100 ms.
    handler_.onAcceptError(-op.result, !failureReported_);
    failureReported_ = true;
    if (op.hasMore() && !cancelOp_.inFlight()) ring_.cancelOp(cancelOp_, acceptOp_);
  }
  // A multishot accept can end on its own (errors, or the kernel ends it):
  // re-arm unless we stopped, or paused on purpose.
  if (op.hasMore() || stopped_) return;
  if (paused_) {
    // Room that came back while the pause's cancel was in flight found the
    // op still armed (resume() did nothing): arm now.
    if (handler_.canAccept()) arm();
  } else if (backingOff_) {
    backOff();
  } else if (handler_.canAccept()) {
    arm();
  } else {
    paused_ = true;
  }
}

void Acceptor::backOff() {
  if (stopped_ || backoffOp_.inFlight()) return;
  io_uring_prep_timeout(ring_.prepare(backoffOp_), &backoff_, 0, 0);
}

}  // namespace ringlb
