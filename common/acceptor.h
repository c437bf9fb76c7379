// Acceptor: a multishot accept on one worker's SO_REUSEPORT listening socket.
//
// - When the owner says it is at its connection limit, the accept is
//   cancelled and new connections wait in the kernel backlog; resume() re-arms
//   it. Connections already accepted are always handed over, never dropped.
// - A failed accept (EMFILE/ENFILE: out of file descriptors; ENOMEM; or an
//   error nothing expects) backs off 100 ms, then re-arms, without spinning;
//   the pending connections stay in the backlog. The handler hears of the
//   first failure of each episode (until an accept succeeds).
//
// Worker thread only. Owns the listening fd from the constructor on.
#pragma once

#include <linux/time_types.h>

#include <cstdint>

#include "common/op.h"
#include "common/ring.h"

namespace ringlb {

class AcceptHandler {
 public:
  virtual ~AcceptHandler() = default;
  // Takes ownership of `fd`.
  virtual void onAccepted(int fd) = 0;
  // False while the worker or listener is at its connection limit.
  virtual bool canAccept() const = 0;
  // Every failed accept; `firstOfEpisode` for the first one since an accept
  // last succeeded (what to log). The acceptor retries after a back-off.
  virtual void onAcceptError(int err, bool firstOfEpisode) = 0;
};

class Acceptor : public OpOwner {
 public:
  Acceptor(Ring& ring, int listenFd, AcceptHandler& handler);
  ~Acceptor() override;

  void start();
  // Re-arm after a pause for the connection limit (no-op when armed).
  void resume();
  // Stop for good: cancel the accept and close the socket. The acceptor may
  // be destroyed once opsInFlight() is zero.
  void stop();

  bool paused() const { return paused_; }
  bool stopped() const { return stopped_; }
  uint64_t accepted() const { return accepted_; }
  uint64_t fdExhaustion() const { return fdExhaustion_; }

  void onCompletion(Op& op) override;

 private:
  void arm();
  void pause();
  void onAccept(Op& op);
  void backOff();

  Ring& ring_;
  int fd_;
  AcceptHandler& handler_;
  Op acceptOp_{this, OpKind::Accept};
  Op cancelOp_{this, OpKind::Cancel};
  Op backoffOp_{this, OpKind::Timeout};
  __kernel_timespec backoff_{};
  bool paused_ = false;
  bool backingOff_ = false;       // an accept failed: waiting for backoffOp_
  bool failureReported_ = false;  // the failure was reported; cleared by an accept
  bool stopped_ = false;
  uint64_t accepted_ = 0;
  uint64_t fdExhaustion_ = 0;
};

}  // namespace ringlb
