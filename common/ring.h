// Ring: one io_uring per thread.
//
// - get_sqe never fails: when the SQ is full, it submits what is queued and
//   tries again.
// - Every SQE carries one Op* in user_data (or 0 for fire-and-forget ops whose
//   result nobody needs). The Ring counts ops in flight on the Op and its owner.
// - Completions are reaped into a list first and dispatched after, so no
//   handler runs while the CQ is being walked and no handler is re-entered.
//
// Thread rules: created, used and destroyed on one thread (SINGLE_ISSUER).
#pragma once

#include <liburing.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/op.h"

namespace ringlb {

// Thrown only at set-up (never on the data path): the message says what is
// wrong and how to fix it.
class RingSetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Kernel features ringlb relies on or uses when present.
struct RingFeatures {
  bool singleIssuer = false;
  bool deferTaskrun = false;
  bool multishotAccept = false;
  bool multishotRecv = false;
  bool providedBufferRing = false;
  bool msgRing = false;
  bool sendZeroCopy = false;
  bool extArg = false;
  bool minTimeout = false;  // IORING_FEAT_MIN_TIMEOUT (6.12): a wait can batch completions
};

// How a wait may hold completions back to hand them over in one batch: it
// returns once `completions` are ready, or once `minWait` has passed with at
// least one ready (then as soon as one is). {1, 0} waits for the first.
// Fewer wake-ups and io_uring_enter calls per completion, at the price of up
// to `minWait` of latency; the worker uses it only under load (WaitPolicy).
struct WaitBatch {
  unsigned completions = 1;
  std::chrono::microseconds minWait{0};
};

class Ring {
 public:
  explicit Ring(unsigned entries = 1024);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  const RingFeatures& features() const { return features_; }
  io_uring* raw() { return &ring_; }
  int fd() const { return ring_.ring_fd; }

  // An SQE whose user_data is this op; counts the op in flight.
  io_uring_sqe* prepare(Op& op);
  // An SQE whose completion is ignored (user_data 0).
  io_uring_sqe* prepareDetached();

  // Convenience preparers. The op must stay at its address until its last CQE.
  void accept(Op& op, int fd, bool multishot);
  // `Arm::Again`: the op's owner had a receive armed before on this socket (a
  // re-arm, counted for /metrics).
  enum class Arm { First, Again };
  void recvMultishot(Op& op, int fd, uint16_t bufferGroup, Arm arm = Arm::First);
  void recv(Op& op, int fd, void* buf, size_t len);
  void send(Op& op, int fd, const void* buf, size_t len, int msgFlags = MSG_NOSIGNAL);
  // `msg` and its iovecs must stay put until the op completes.
  void sendmsg(Op& op, int fd, const msghdr* msg, int msgFlags = MSG_NOSIGNAL);
  void connect(Op& op, int fd, const sockaddr* addr, socklen_t len);
  void read(Op& op, int fd, void* buf, size_t len);
  // A multishot poll. It is edge-triggered (the kernel rejects LEVEL with
  // MULTI): data that arrived before the SQE reached the kernel raises no
  // event. Callers submit() right after, then read until EAGAIN once.
  void pollMultishot(Op& op, int fd, unsigned events);
  // Cancels every op on fd; the cancel itself completes on `op`.
  void cancelFd(Op& op, int fd);
  // Cancels one op; the cancel itself completes on `op`.
  void cancelOp(Op& op, const Op& target);
  void closeDetached(int fd);
  void nop(Op& op);

  // Submits queued SQEs; waits up to `timeout` (forever when nullopt) for at
  // least one completion when `wait`; then reaps and dispatches every CQE.
  // Returns the number of completions dispatched.
  size_t run(bool wait, std::optional<std::chrono::nanoseconds> timeout);
  // run() in two steps, so a loop can read the clock between waking up and
  // running handlers: enter() submits and waits; dispatch() reaps and runs.
  // `batch` applies when waiting with the kernel's min-timeout support.
  void enter(bool wait, std::optional<std::chrono::nanoseconds> timeout, WaitBatch batch = {});
  size_t dispatch();
  // Submits queued SQEs without waiting.
  void submit();

  uint64_t completionsDispatched() const { return dispatched_; }
  // Receives that found their provided-buffer ring empty (-ENOBUFS); each
  // owner re-arms after a pause.
  uint64_t buffersExhausted() const { return buffersExhausted_; }
  // Multishot receives armed again on a socket that had one: after the
  // kernel ended one early, -ENOBUFS, a backpressure pause or a switch to
  // bulk buffers. One per request would mean the multishot path is lost.
  uint64_t recvRearms() const { return recvRearms_; }

 private:
  struct Completion {
    Op* op;
    int32_t result;
    uint32_t flags;
  };

  void probeFeatures(unsigned setupFlags);
  void enterBatched(std::optional<std::chrono::nanoseconds> timeout, WaitBatch batch);
  unsigned flushSubmissions();
  size_t reap();
  void dispatchOne(const Completion& c);

  io_uring ring_{};
  RingFeatures features_;
  std::vector<Completion> ready_;
  uint64_t dispatched_ = 0;
  uint64_t buffersExhausted_ = 0;
  uint64_t recvRearms_ = 0;
};

// Describes an io_uring setup failure (errno from io_uring_queue_init) in one
// line that says how to fix it.
std::string describeRingSetupError(int err);

}  // namespace ringlb
