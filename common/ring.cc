#include "common/ring.h"

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstring>

// liburing 2.3 predates these (kernel 6.12): the feature bit, and the
// getevents field that liburing still calls `pad`.
#ifndef IORING_FEAT_MIN_TIMEOUT
#define IORING_FEAT_MIN_TIMEOUT (1U << 15)
#endif

namespace ringlb {
namespace {

__kernel_timespec toTimespec(std::chrono::nanoseconds timeout) {
  auto ns = timeout.count() < 0 ? 0 : timeout.count();
  __kernel_timespec ts{};
  ts.tv_sec = ns / 1'000'000'000;
  ts.tv_nsec = ns % 1'000'000'000;
  return ts;
}

constexpr unsigned kFastFlags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
constexpr unsigned kFallbackFlags = IORING_SETUP_COOP_TASKRUN;

int tryInit(io_uring* ring, unsigned entries, unsigned flags) {
  io_uring_params params{};
  params.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  // Multishot ops can post many CQEs per SQE: give the CQ room to spare.
  params.cq_entries = entries * 8;
  return io_uring_queue_init_params(entries, ring, &params);
}

}  // namespace

std::string describeRingSetupError(int err) {
  switch (err) {
    case EPERM:
      return "io_uring is not permitted here (EPERM): check `sysctl kernel.io_uring_disabled` "
             "(must be 0, or 1 with this user in kernel.io_uring_group) and the container's "
             "seccomp profile (Docker: --security-opt seccomp=unconfined or a profile that allows "
             "io_uring_setup/io_uring_enter/io_uring_register)";
    case ENOSYS:
      return "io_uring is unavailable (ENOSYS): the kernel lacks it (needs Linux >= 6.1) or a "
             "seccomp profile blocks io_uring_setup; allow the io_uring syscalls";
    case ENOMEM:
      return "io_uring setup failed for lack of memory (ENOMEM): raise `ulimit -l` (locked memory) "
             "or lower the number of workers";
    default:
      return fmt::format("io_uring setup failed: {} (needs Linux >= 6.1 with io_uring enabled)",
                         std::strerror(err));
  }
}

Ring::Ring(unsigned entries) {
  unsigned flags = kFastFlags;
  int rc = tryInit(&ring_, entries, flags);
  if (rc == -EINVAL) {
    flags = kFallbackFlags;  // older kernel: no DEFER_TASKRUN
    rc = tryInit(&ring_, entries, flags);
  }
  if (rc == -EINVAL) {
    flags = 0;
    rc = tryInit(&ring_, entries, flags);
  }
  if (rc < 0) throw RingSetupError(describeRingSetupError(-rc));
  probeFeatures(flags);
  ready_.reserve(entries * 8);
}

Ring::~Ring() { io_uring_queue_exit(&ring_); }

void Ring::probeFeatures(unsigned setupFlags) {
  features_.singleIssuer = setupFlags & IORING_SETUP_SINGLE_ISSUER;
  features_.deferTaskrun = setupFlags & IORING_SETUP_DEFER_TASKRUN;
  features_.extArg = ring_.features & IORING_FEAT_EXT_ARG;
  features_.minTimeout = ring_.features & IORING_FEAT_MIN_TIMEOUT;
  io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
  if (probe == nullptr) return;
  // There is no probe for op flags: IORING_OP_SOCKET came with multishot
  // accept and buffer rings (5.19), SEND_ZC with multishot recv (6.0).
  bool has519 = io_uring_opcode_supported(probe, IORING_OP_SOCKET);
  bool has60 = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
  features_.multishotAccept = has519;
  features_.providedBufferRing = has519;
  features_.multishotRecv = has60;
  features_.sendZeroCopy = has60;
  features_.msgRing = io_uring_opcode_supported(probe, IORING_OP_MSG_RING);
  io_uring_free_probe(probe);
}

io_uring_sqe* Ring::prepareDetached() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    // SQ full: hand what is queued to the kernel. Completions stay in the CQ
    // until the next run(), so no handler runs from here.
    io_uring_submit(&ring_);
    sqe = io_uring_get_sqe(&ring_);
  }
  io_uring_sqe_set_data64(sqe, 0);
  return sqe;
}

io_uring_sqe* Ring::prepare(Op& op) {
  io_uring_sqe* sqe = prepareDetached();
  io_uring_sqe_set_data(sqe, &op);
  ++op.pending;
  ++op.owner->opsInFlight_;
  return sqe;
}

void Ring::accept(Op& op, int fd, bool multishot) {
  io_uring_sqe* sqe = prepare(op);
  if (multishot) {
    io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC);
  } else {
    io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC);
  }
}

void Ring::recvMultishot(Op& op, int fd, uint16_t bufferGroup, Arm arm) {
  if (arm == Arm::Again) ++recvRearms_;
  io_uring_sqe* sqe = prepare(op);
  io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = bufferGroup;
}

void Ring::recv(Op& op, int fd, void* buf, size_t len) {
  io_uring_prep_recv(prepare(op), fd, buf, len, 0);
}

void Ring::send(Op& op, int fd, const void* buf, size_t len, int msgFlags) {
  io_uring_prep_send(prepare(op), fd, buf, len, msgFlags);
}

void Ring::sendmsg(Op& op, int fd, const msghdr* msg, int msgFlags) {
  io_uring_prep_sendmsg(prepare(op), fd, msg, static_cast<unsigned>(msgFlags));
}

void Ring::connect(Op& op, int fd, const sockaddr* addr, socklen_t len) {
  io_uring_prep_connect(prepare(op), fd, addr, len);
}

void Ring::read(Op& op, int fd, void* buf, size_t len) {
  io_uring_prep_read(prepare(op), fd, buf, static_cast<unsigned>(len), 0);
}

void Ring::pollMultishot(Op& op, int fd, unsigned events) {
  io_uring_sqe* sqe = prepare(op);
  io_uring_prep_poll_multishot(sqe, fd, events);
}

void Ring::cancelFd(Op& op, int fd) {
  io_uring_prep_cancel_fd(prepare(op), fd, IORING_ASYNC_CANCEL_ALL);
}

void Ring::cancelOp(Op& op, const Op& target) {
  io_uring_prep_cancel(prepare(op), const_cast<Op*>(&target), 0);
}

void Ring::closeDetached(int fd) { io_uring_prep_close(prepareDetached(), fd); }

void Ring::nop(Op& op) { io_uring_prep_nop(prepare(op)); }

void Ring::submit() { io_uring_submit(&ring_); }

size_t Ring::run(bool wait, std::optional<std::chrono::nanoseconds> timeout) {
  enter(wait, timeout);
  return dispatch();
}

void Ring::enter(bool wait, std::optional<std::chrono::nanoseconds> timeout, WaitBatch batch) {
  if (!wait) {
    // With DEFER_TASKRUN completions appear only when we enter the kernel.
    io_uring_submit_and_get_events(&ring_);
  } else if (batch.completions > 1 && features_.minTimeout) {
    enterBatched(timeout, batch);
  } else if (timeout) {
    __kernel_timespec ts = toTimespec(*timeout);
    io_uring_cqe* cqe = nullptr;
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);  // -ETIME is fine
  } else {
    io_uring_submit_and_wait(&ring_, 1);
  }
}

// One io_uring_enter that submits what is queued and waits as `batch` says.
// liburing 2.3 cannot pass min_wait_usec, so this fills the extended
// argument itself (the kernel ABI, struct io_uring_getevents_arg).
void Ring::enterBatched(std::optional<std::chrono::nanoseconds> timeout, WaitBatch batch) {
  __kernel_timespec ts{};
  io_uring_getevents_arg arg{};
  arg.sigmask = 0;
  arg.sigmask_sz = _NSIG / 8;
  arg.pad = static_cast<uint32_t>(batch.minWait.count());  // min_wait_usec since 6.12
  if (timeout) {
    ts = toTimespec(*timeout);
    arg.ts = reinterpret_cast<uint64_t>(&ts);
  }
  unsigned toSubmit = flushSubmissions();
  // -ETIME, -EINTR and a short submit need nothing here: the loop carries on.
  io_uring_enter2(ring_.ring_fd, toSubmit, batch.completions,
                  IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, reinterpret_cast<sigset_t*>(&arg),
                  sizeof arg);
}

// Publishes the SQEs prepared since the last submit to the kernel (the SQ
// tail store that io_uring_submit does first); returns how many wait.
unsigned Ring::flushSubmissions() {
  io_uring_sq* sq = &ring_.sq;
  unsigned tail = sq->sqe_tail;
  if (sq->sqe_head != tail) {
    sq->sqe_head = tail;
    io_uring_smp_store_release(sq->ktail, tail);
  }
  return tail - *sq->khead;
}

size_t Ring::dispatch() {
  size_t n = reap();
  for (const Completion& c : ready_) dispatchOne(c);
  ready_.clear();
  dispatched_ += n;
  return n;
}

size_t Ring::reap() {
  unsigned head = 0;
  unsigned count = 0;
  io_uring_cqe* cqe = nullptr;
  io_uring_for_each_cqe(&ring_, head, cqe) {
    ++count;
    auto* op = static_cast<Op*>(io_uring_cqe_get_data(cqe));
    if (op != nullptr) ready_.push_back({op, cqe->res, cqe->flags});
  }
  io_uring_cq_advance(&ring_, count);
  return ready_.size();
}

void Ring::dispatchOne(const Completion& c) {
  Op& op = *c.op;
  if (!(c.flags & IORING_CQE_F_MORE)) {
    // The op's last CQE: the owner may destroy itself once its count is zero,
    // which is safe because every later CQE in this batch that names the
    // owner still holds a count.
    assert(op.pending > 0);
    --op.pending;
    --op.owner->opsInFlight_;
  }
  if (c.result == -ENOBUFS) ++buffersExhausted_;
  op.result = c.result;
  op.flags = c.flags;
  op.owner->onCompletion(op);
}

}  // namespace ringlb
