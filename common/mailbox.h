// Mailbox: how other threads hand work to a worker (config and BackendSet
// snapshots, stop requests). Any thread may post(); the worker thread runs the
// posted tasks between completion batches.
//
// An eventfd wakes the worker's ring; the queue behind it is a mutex-guarded
// vector. Posting costs a syscall (about 5 us here), so post snapshots and
// control messages, never per-request work.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "common/op.h"
#include "common/ring.h"

namespace ringlb {

class Mailbox : public OpOwner {
 public:
  using Task = std::function<void()>;

  // Worker thread: the ring the mailbox listens on.
  explicit Mailbox(Ring& ring);
  ~Mailbox() override;

  // Any thread. Tasks run in posting order on the worker thread.
  void post(Task task);

  // Worker thread: arm the eventfd read. Call once when the loop starts.
  void start();
  // Worker thread: cancel the read; the mailbox may be destroyed once
  // opsInFlight() is zero. Tasks posted afterwards are dropped.
  void stop();
  // Worker thread: true after a wake-up, until drain().
  bool woken() const { return woken_; }
  // Worker thread: run what is queued now. The worker loop calls it after
  // each completion batch in which the mailbox was woken.
  size_t drain();

  void onCompletion(Op& op) override;

 private:
  void armRead();

  Ring& ring_;
  int eventFd_;
  Op readOp_{this, OpKind::Read};
  Op cancelOp_{this, OpKind::Cancel};
  uint64_t counter_ = 0;
  bool stopping_ = false;
  bool woken_ = false;

  std::mutex mutex_;
  std::vector<Task> queue_;    // guarded by mutex_
  std::vector<Task> running_;  // worker thread only
};

}  // namespace ringlb
