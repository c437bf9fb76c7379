// Bulk relay modes compared (issue 6, "zero copy where it pays"): which way of
// moving bytes socket -> relay -> socket costs the least CPU per GB here.
//
// Each iteration forks a sender process (writes kBytesPerIteration as fast as
// it can) and a receiver process (reads and discards, checks the count), both
// on loopback TCP. The relay runs on the benchmark thread with its own Ring
// (SINGLE_ISSUER|DEFER_TASKRUN). Because the peers are other processes,
// getrusage(RUSAGE_SELF) over the relay loop is the relay's CPU, io-wq worker
// threads included. The peers run on the CPUs the relay was not given (all
// CPUs when it was given all), like the probes in FACTS.md.
//
// Counters (GB = 1e9 bytes, MB = 1e6): cpu_s_per_GB, MB_per_s, ops_per_GB
// (CQEs plus direct splice(2) calls), waits_per_GB (io_uring_enter waits),
// threads (process threads at the end of the relay loop: 1 + io-wq workers).
//
// Run: taskset -c 0 build/bench/ringlb_bench --benchmark_filter=Relay
//        --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/buffer_ring.h"
#include "common/ring.h"

// liburing 2.3 predates the SEND_ZC usage report (Linux 6.2).
#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

namespace ringlb {
namespace {

constexpr size_t kKiB = 1024;
constexpr size_t kMiB = 1024 * kKiB;
constexpr size_t kBytesPerIteration = 256 * kMiB;
constexpr size_t kPeerChunk = kMiB;  // the peers' write and read size

// ---------------------------------------------------------------------------
// Peers: a sender and a receiver process connected over loopback.

struct Peers {
  int fromSender = -1;  // the relay reads here
  int toReceiver = -1;  // the relay writes here
  pid_t sender = -1;
  pid_t receiver = -1;
};

int listenLoopback() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, 4) != 0) {
    return -1;
  }
  return fd;
}

// Child side only: async-signal-safe calls, no allocation (the parent may
// have other threads).
int connectLoopback(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) _exit(2);
  return fd;
}

// Moves a child onto the CPUs the relay does not run on, so that `taskset`
// on the command line places the relay alone.
void leaveRelayCpus(const cpu_set_t& relayCpus) {
  cpu_set_t others;
  CPU_ZERO(&others);
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &relayCpus)) CPU_SET(cpu, &others);
  }
  if (sched_setaffinity(0, sizeof others, &others) == 0) return;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) CPU_SET(cpu, &others);
  sched_setaffinity(0, sizeof others, &others);
}

[[noreturn]] void runSender(int port, size_t bytes, const char* chunk) {
  int fd = connectLoopback(port);
  char go = 0;
  if (recv(fd, &go, 1, MSG_WAITALL) != 1) _exit(3);
  while (bytes > 0) {
    ssize_t n = send(fd, chunk, std::min(bytes, kPeerChunk), MSG_NOSIGNAL);
    if (n <= 0) _exit(4);
    bytes -= static_cast<size_t>(n);
  }
  close(fd);
  _exit(0);
}

[[noreturn]] void runReceiver(int port, size_t bytes, char* chunk) {
  int fd = connectLoopback(port);
  size_t got = 0;
  for (;;) {
    ssize_t n = recv(fd, chunk, kPeerChunk, 0);
    if (n < 0) _exit(5);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  _exit(got == bytes ? 0 : 6);
}

pid_t forkPeer(int listener, const cpu_set_t& relayCpus, void (*body)(int, size_t, char*),
               size_t bytes, char* chunk) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  pid_t pid = fork();
  if (pid == 0) {
    leaveRelayCpus(relayCpus);
    body(port, bytes, chunk);
  }
  return pid;
}

void senderBody(int port, size_t bytes, char* chunk) { runSender(port, bytes, chunk); }
void receiverBody(int port, size_t bytes, char* chunk) { runReceiver(port, bytes, chunk); }

int acceptOne(int listener) {
  int fd = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  int one = 1;
  if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // as the proxy does
  return fd;
}

// Main thread: forks both peers and accepts their connections. Returns false
// when set-up failed.
bool startPeers(Peers* peers, std::vector<char>& chunk) {
  cpu_set_t relayCpus;
  if (sched_getaffinity(0, sizeof relayCpus, &relayCpus) != 0) return false;
  int senderListener = listenLoopback();
  int receiverListener = listenLoopback();
  if (senderListener < 0 || receiverListener < 0) return false;
  peers->sender = forkPeer(senderListener, relayCpus, senderBody, kBytesPerIteration, chunk.data());
  peers->receiver =
      forkPeer(receiverListener, relayCpus, receiverBody, kBytesPerIteration, chunk.data());
  peers->fromSender = acceptOne(senderListener);
  peers->toReceiver = acceptOne(receiverListener);
  close(senderListener);
  close(receiverListener);
  return peers->sender > 0 && peers->receiver > 0 && peers->fromSender >= 0 &&
         peers->toReceiver >= 0;
}

// Closes the relay's sockets and reaps both peers. True when the receiver got
// every byte.
bool finishPeers(Peers& peers) {
  close(peers.fromSender);
  close(peers.toReceiver);
  int senderStatus = 0;
  int receiverStatus = 0;
  waitpid(peers.sender, &senderStatus, 0);
  waitpid(peers.receiver, &receiverStatus, 0);
  return WIFEXITED(receiverStatus) && WEXITSTATUS(receiverStatus) == 0;
}

// ---------------------------------------------------------------------------
// Relays. Each moves bytes from `in` to `out` until `in` reaches EOF, then
// shuts `out` down for writing. Benchmark thread only; the Ring must outlive
// the relay.

struct RelayStats {
  uint64_t ops = 0;  // CQEs plus direct splice(2) calls
  uint64_t recvs = 0;
  uint64_t recvBytes = 0;
  uint64_t notifications = 0;
  uint64_t copiedNotifications = 0;
};

class Relay : public OpOwner {
 public:
  Relay(Ring& ring, int in, int out) : ring_(ring), in_(in), out_(out) {}
  virtual void start() = 0;
  // Finished and no CQE still owed (the multishot recv's last CQE, SEND_ZC
  // notifications).
  bool done() const { return finished_ && opsInFlight() == 0; }
  const std::string& error() const { return error_; }
  const RelayStats& stats() const { return stats_; }

 protected:
  void finish() {
    if (finished_) return;
    finished_ = true;
    shutdown(out_, SHUT_WR);
  }
  // Ends the transfer; shutting both sockets down completes any op still
  // waiting on them.
  void fail(const char* what, int err) {
    if (error_.empty()) error_ = std::string(what) + ": " + std::strerror(err);
    finished_ = true;
    shutdown(in_, SHUT_RDWR);
    shutdown(out_, SHUT_RDWR);
  }
  bool finished() const { return finished_; }

  Ring& ring_;
  int in_;
  int out_;
  RelayStats stats_;

 private:
  bool finished_ = false;
  std::string error_;
};

// Mode 1: multishot recv into a provided-buffer ring; every queued buffer goes
// out in one sendmsg (the proxy's tcp mode), one sendmsg in flight.
class MultishotRelay : public Relay {
 public:
  MultishotRelay(Ring& ring, int in, int out, uint32_t bufferSize, uint16_t count)
      : Relay(ring, in, out), buffers_(ring, 1, count, bufferSize), queue_(count) {}

  void start() override { armRecv(); }

  void onCompletion(Op& op) override {
    ++stats_.ops;
    if (&op == &recvOp_) {
      onRecv(op);
    } else {
      onSend(op.result);
    }
  }

 private:
  struct Chunk {
    uint16_t id;
    uint32_t offset;
    uint32_t length;
  };
  static constexpr size_t kMaxIov = 64;

  void armRecv() {
    if (eof_ || finished() || recvOp_.inFlight() || buffers_.outstanding() == buffers_.count()) {
      return;
    }
    ring_.recvMultishot(recvOp_, in_, buffers_.groupId());
  }

  void onRecv(const Op& op) {
    if (op.result > 0) {
      buffers_.take(op.bufferId(), static_cast<size_t>(op.result));
      queue_[(head_ + queued_++) % queue_.size()] = {op.bufferId(), 0,
                                                     static_cast<uint32_t>(op.result)};
      ++stats_.recvs;
      stats_.recvBytes += static_cast<uint64_t>(op.result);
      trySend();
    } else if (op.result == 0) {
      eof_ = true;
      if (queued_ == 0 && !sendOp_.inFlight()) finish();
    } else if (op.result != -ENOBUFS) {
      fail("multishot recv", -op.result);
    }
    // -ENOBUFS ends the multishot recv: re-armed once a buffer is recycled.
    if (!op.hasMore()) armRecv();
  }

  void trySend() {
    if (sendOp_.inFlight() || queued_ == 0 || finished()) return;
    size_t n = std::min(queued_, kMaxIov);
    for (size_t i = 0; i < n; ++i) {
      const Chunk& c = queue_[(head_ + i) % queue_.size()];
      iov_[i] = {buffers_.data(c.id) + c.offset, c.length - c.offset};
    }
    msg_ = {};
    msg_.msg_iov = iov_.data();
    msg_.msg_iovlen = n;
    ring_.sendmsg(sendOp_, out_, &msg_);
  }

  void onSend(int32_t result) {
    if (result < 0) return fail("sendmsg", -result);
    auto sent = static_cast<uint32_t>(result);
    while (sent > 0) {
      Chunk& c = queue_[head_];
      uint32_t take = std::min(sent, c.length - c.offset);
      c.offset += take;
      sent -= take;
      if (c.offset == c.length) {
        buffers_.recycle(c.id);
        head_ = (head_ + 1) % queue_.size();
        --queued_;
      }
    }
    if (eof_ && queued_ == 0) return finish();
    trySend();
    armRecv();
  }

  BufferRing buffers_;
  std::vector<Chunk> queue_;  // FIFO of received buffers, oldest at head_
  size_t head_ = 0;
  size_t queued_ = 0;
  std::array<iovec, kMaxIov> iov_{};
  msghdr msg_{};
  bool eof_ = false;
  Op recvOp_{this, OpKind::Recv};
  Op sendOp_{this, OpKind::Send};
};

// Mode 2: recv into one buffer, send it all, recv again: one op at a time.
class SerialRelay : public Relay {
 public:
  SerialRelay(Ring& ring, int in, int out, size_t bufferSize)
      : Relay(ring, in, out), buffer_(bufferSize) {}

  void start() override { ring_.recv(op_, in_, buffer_.data(), buffer_.size()); }

  void onCompletion(Op& op) override {
    ++stats_.ops;
    if (op.result < 0) return fail(receiving_ ? "recv" : "send", -op.result);
    if (receiving_) {
      if (op.result == 0) return finish();
      length_ = static_cast<size_t>(op.result);
      sent_ = 0;
      receiving_ = false;
    } else {
      sent_ += static_cast<size_t>(op.result);
    }
    if (sent_ < length_) {
      ring_.send(op_, out_, buffer_.data() + sent_, length_ - sent_);
    } else {
      receiving_ = true;
      ring_.recv(op_, in_, buffer_.data(), buffer_.size());
    }
  }

 private:
  std::vector<char> buffer_;
  size_t length_ = 0;
  size_t sent_ = 0;
  bool receiving_ = true;
  Op op_{this, OpKind::Recv};
};

// A pipe of `size` bytes (F_SETPIPE_SZ) for the splice relays.
class Pipe {
 public:
  Pipe(size_t size, bool nonBlocking) {
    if (pipe2(fds_, O_CLOEXEC | (nonBlocking ? O_NONBLOCK : 0)) != 0) return;
    int got = fcntl(fds_[1], F_SETPIPE_SZ, static_cast<int>(size));
    size_ = got > 0 ? static_cast<size_t>(got) : 0;
  }
  ~Pipe() {
    close(fds_[0]);
    close(fds_[1]);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  int readEnd() const { return fds_[0]; }
  int writeEnd() const { return fds_[1]; }
  size_t size() const { return size_; }  // 0 when set-up failed

 private:
  int fds_[2] = {-1, -1};
  size_t size_ = 0;
};

// Mode 3: IORING_OP_SPLICE socket -> pipe and pipe -> socket, one of each in
// flight.
class RingSpliceRelay : public Relay {
 public:
  RingSpliceRelay(Ring& ring, int in, int out, size_t pipeSize)
      : Relay(ring, in, out), pipe_(pipeSize, false) {}

  void start() override {
    if (pipe_.size() == 0) return fail("pipe", errno);
    pump();
  }

  void onCompletion(Op& op) override {
    ++stats_.ops;
    bool in = &op == &inOp_;
    if (op.result < 0) return fail(in ? "splice in" : "splice out", -op.result);
    if (in && op.result == 0) eof_ = true;
    if (in) inPipe_ += static_cast<size_t>(op.result);
    if (!in) inPipe_ -= static_cast<size_t>(op.result);
    if (eof_ && inPipe_ == 0 && !inOp_.inFlight() && !outOp_.inFlight()) return finish();
    pump();
  }

 private:
  void pump() {
    if (finished()) return;
    if (!eof_ && !inOp_.inFlight() && inPipe_ < pipe_.size()) {
      auto n = static_cast<unsigned>(pipe_.size() - inPipe_);
      io_uring_prep_splice(ring_.prepare(inOp_), in_, -1, pipe_.writeEnd(), -1, n, SPLICE_F_MOVE);
    }
    if (!outOp_.inFlight() && inPipe_ > 0) {
      auto n = static_cast<unsigned>(inPipe_);
      io_uring_prep_splice(ring_.prepare(outOp_), pipe_.readEnd(), -1, out_, -1, n, SPLICE_F_MOVE);
    }
  }

  Pipe pipe_;
  size_t inPipe_ = 0;
  bool eof_ = false;
  Op inOp_{this, OpKind::Read};
  Op outOp_{this, OpKind::Write};
};

// Mode 4: splice(2) on non-blocking sockets until EAGAIN; a one-shot
// IORING_OP_POLL_ADD waits for readiness.
class PollSpliceRelay : public Relay {
 public:
  PollSpliceRelay(Ring& ring, int in, int out, size_t pipeSize)
      : Relay(ring, in, out), pipe_(pipeSize, true) {
    fcntl(in_, F_SETFL, fcntl(in_, F_GETFL) | O_NONBLOCK);
    fcntl(out_, F_SETFL, fcntl(out_, F_GETFL) | O_NONBLOCK);
  }

  void start() override {
    if (pipe_.size() == 0) return fail("pipe", errno);
    pump();
  }

  void onCompletion(Op& op) override {
    ++stats_.ops;
    if (op.result < 0) return fail("poll", -op.result);
    pump();
  }

 private:
  // Moves what it can. A splice in may also stop on a full pipe (a pipe
  // holds `size / 4 KiB` buffers, however little each holds), so the
  // relay waits for the socket to read only when the pipe is empty, and
  // otherwise for the socket to write to.
  void pump() {
    bool moved = true;
    while (moved && !finished()) {
      bool in = spliceIn();
      bool out = spliceOut();
      moved = in || out;
    }
    if (finished()) return;
    if (eof_ && inPipe_ == 0) return finish();
    if (inPipe_ > 0) return armPoll(outPoll_, out_, POLLOUT);
    armPoll(inPoll_, in_, POLLIN);
  }

  bool spliceIn() {
    if (eof_ || inPipe_ >= pipe_.size()) return false;
    ++stats_.ops;
    ssize_t n = splice(in_, nullptr, pipe_.writeEnd(), nullptr, pipe_.size() - inPipe_,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n == 0) eof_ = true;
    if (n < 0 && errno != EAGAIN) fail("splice in", errno);
    if (n > 0) inPipe_ += static_cast<size_t>(n);
    return n > 0;
  }

  bool spliceOut() {
    if (inPipe_ == 0) return false;
    ++stats_.ops;
    ssize_t n =
        splice(pipe_.readEnd(), nullptr, out_, nullptr, inPipe_, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n < 0 && errno != EAGAIN) fail("splice out", errno);
    if (n > 0) inPipe_ -= static_cast<size_t>(n);
    return n > 0;
  }

  void armPoll(Op& op, int fd, unsigned events) {
    if (op.inFlight()) return;
    io_uring_prep_poll_add(ring_.prepare(op), fd, events);
  }

  Pipe pipe_;
  size_t inPipe_ = 0;
  bool eof_ = false;
  Op inPoll_{this, OpKind::Wakeup};
  Op outPoll_{this, OpKind::Wakeup};
};

// Mode 5: recv into a pool of buffers (one recv in flight) and send them in
// order (one send in flight), with IORING_OP_SEND_ZC or plain send. A
// zero-copy buffer is reused only after its notification.
class PipelinedRelay : public Relay {
 public:
  PipelinedRelay(Ring& ring, int in, int out, size_t bufferSize, bool zeroCopy)
      : Relay(ring, in, out), bufferSize_(bufferSize), zeroCopy_(zeroCopy) {
    for (size_t i = 0; i < kSlots; ++i) {
      slots_[i].data.resize(bufferSize);
      slots_[i].op.owner = this;
      slots_[i].op.kind = OpKind::Send;
      free_.push_back(i);
    }
  }

  void start() override { postRecv(); }

  void onCompletion(Op& op) override {
    ++stats_.ops;
    if (&op == &recvOp_) return onRecv(op.result);
    size_t i = 0;
    while (&slots_[i].op != &op) ++i;
    if (op.flags & IORING_CQE_F_NOTIF) return onNotification(i, op.result);
    onSend(i, op);
  }

 private:
  static constexpr size_t kSlots = 4;
  struct Slot {
    Op op;
    std::vector<char> data;
    size_t length = 0;
    size_t sent = 0;
    uint32_t notificationsOwed = 0;
  };

  void postRecv() {
    if (eof_ || finished() || recvOp_.inFlight() || free_.empty()) return;
    recvSlot_ = free_.back();
    free_.pop_back();
    ring_.recv(recvOp_, in_, slots_[recvSlot_].data.data(), bufferSize_);
  }

  void onRecv(int32_t result) {
    if (result < 0) return fail("recv", -result);
    Slot& s = slots_[recvSlot_];
    if (result == 0) {
      eof_ = true;
      free_.push_back(recvSlot_);
      return maybeFinish();
    }
    s.length = static_cast<size_t>(result);
    s.sent = 0;
    sendQueue_.push_back(recvSlot_);
    trySend();
    postRecv();
  }

  void trySend() {
    if (sending_ || sendQueue_.empty() || finished()) return;
    Slot& s = slots_[sendQueue_.front()];
    io_uring_sqe* sqe = ring_.prepare(s.op);
    if (zeroCopy_) {
      io_uring_prep_send_zc(sqe, out_, s.data.data() + s.sent, s.length - s.sent, MSG_NOSIGNAL, 0);
      sqe->ioprio |= IORING_SEND_ZC_REPORT_USAGE;
    } else {
      io_uring_prep_send(sqe, out_, s.data.data() + s.sent, s.length - s.sent, MSG_NOSIGNAL);
    }
    sending_ = true;
  }

  void onSend(size_t i, const Op& op) {
    sending_ = false;
    Slot& s = slots_[i];
    if (op.hasMore()) ++s.notificationsOwed;
    if (op.result < 0) return fail(zeroCopy_ ? "send_zc" : "send", -op.result);
    s.sent += static_cast<size_t>(op.result);
    if (s.sent == s.length) {
      sendQueue_.erase(sendQueue_.begin());
      release(i);
    }
    trySend();
    maybeFinish();
  }

  void onNotification(size_t i, int32_t result) {
    ++stats_.notifications;
    if (static_cast<uint32_t>(result) & IORING_NOTIF_USAGE_ZC_COPIED) {
      ++stats_.copiedNotifications;
    }
    --slots_[i].notificationsOwed;
    release(i);
  }

  // Returns a fully sent buffer to the pool once the kernel no longer reads it.
  void release(size_t i) {
    Slot& s = slots_[i];
    if (s.sent != s.length || s.notificationsOwed != 0) return;
    s.length = s.sent = 0;
    free_.push_back(i);
    postRecv();
  }

  void maybeFinish() {
    if (eof_ && sendQueue_.empty() && !sending_) finish();
  }

  size_t bufferSize_;
  bool zeroCopy_;
  std::array<Slot, kSlots> slots_;
  std::vector<size_t> free_;
  std::vector<size_t> sendQueue_;  // slots received and not yet fully sent, in order
  size_t recvSlot_ = 0;
  bool sending_ = false;
  bool eof_ = false;
  Op recvOp_{this, OpKind::Recv};
};

// ---------------------------------------------------------------------------
// Harness.

double cpuSeconds() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  auto sec = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec * 1e-6; };
  return sec(r.ru_utime) + sec(r.ru_stime);
}

int threadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::stoi(line.substr(8));
  }
  return 0;
}

// io-wq workers of an earlier ring linger for a while after it is gone: wait
// (up to 5 s) until they have exited, so that `threads` and the CPU figures
// belong to this transfer.
void waitForOtherThreadsToExit() {
  for (int i = 0; i < 500 && threadCount() > 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

struct Totals {
  double cpu = 0;
  double wall = 0;
  double bytes = 0;
  double waits = 0;
  int maxThreads = 0;
  RelayStats stats;
};

void addStats(RelayStats& into, const RelayStats& s) {
  into.ops += s.ops;
  into.recvs += s.recvs;
  into.recvBytes += s.recvBytes;
  into.notifications += s.notifications;
  into.copiedNotifications += s.copiedNotifications;
}

void reportCounters(benchmark::State& state, const Totals& t) {
  double gb = t.bytes / 1e9;
  state.counters["cpu_s_per_GB"] = t.cpu / gb;
  state.counters["MB_per_s"] = t.bytes / 1e6 / t.wall;
  state.counters["ops_per_GB"] = static_cast<double>(t.stats.ops) / gb;
  state.counters["waits_per_GB"] = t.waits / gb;
  state.counters["threads"] = t.maxThreads;
  if (t.stats.recvs > 0) {
    state.counters["KiB_per_recv"] =
        static_cast<double>(t.stats.recvBytes) / static_cast<double>(t.stats.recvs) / 1024;
  }
  if (t.stats.notifications > 0) {
    state.counters["zc_copied_share"] = static_cast<double>(t.stats.copiedNotifications) /
                                        static_cast<double>(t.stats.notifications);
  }
}

using RelayFactory = std::unique_ptr<Relay> (*)(Ring&, int, int, int64_t);

// One transfer of kBytesPerIteration per iteration, fresh peers and ring each
// time; only the relay loop is timed and charged.
void runRelay(benchmark::State& state, RelayFactory make) {
  std::vector<char> chunk(kPeerChunk, 'x');
  Totals totals;
  for (auto _ : state) {
    waitForOtherThreadsToExit();
    Peers peers;
    if (!startPeers(&peers, chunk)) return state.SkipWithError("cannot start the peers");
    std::string error;
    {
      Ring ring(256);
      std::unique_ptr<Relay> relay = make(ring, peers.fromSender, peers.toReceiver, state.range(0));
      send(peers.fromSender, "g", 1, MSG_NOSIGNAL);
      double cpu0 = cpuSeconds();
      auto t0 = std::chrono::steady_clock::now();
      relay->start();
      while (!relay->done()) {
        ring.run(true, std::nullopt);
        ++totals.waits;
      }
      std::chrono::duration<double> wall = std::chrono::steady_clock::now() - t0;
      totals.cpu += cpuSeconds() - cpu0;
      totals.wall += wall.count();
      state.SetIterationTime(wall.count());
      totals.maxThreads = std::max(totals.maxThreads, threadCount());
      addStats(totals.stats, relay->stats());
      error = relay->error();
    }
    bool delivered = finishPeers(peers);
    if (!error.empty()) return state.SkipWithError(error.c_str());
    if (!delivered) return state.SkipWithError("the receiver did not get every byte");
    totals.bytes += static_cast<double>(kBytesPerIteration);
  }
  reportCounters(state, totals);
  state.SetBytesProcessed(static_cast<int64_t>(totals.bytes));
}

// Provided-buffer memory is 4 MiB in every size (the count is a power of two).
std::unique_ptr<Relay> makeMultishot(Ring& ring, int in, int out, int64_t size) {
  auto count = static_cast<uint16_t>(std::max<int64_t>(4, static_cast<int64_t>(4 * kMiB) / size));
  return std::make_unique<MultishotRelay>(ring, in, out, static_cast<uint32_t>(size), count);
}
std::unique_ptr<Relay> makeSerial(Ring& ring, int in, int out, int64_t size) {
  return std::make_unique<SerialRelay>(ring, in, out, static_cast<size_t>(size));
}
std::unique_ptr<Relay> makeRingSplice(Ring& ring, int in, int out, int64_t size) {
  return std::make_unique<RingSpliceRelay>(ring, in, out, static_cast<size_t>(size));
}
std::unique_ptr<Relay> makePollSplice(Ring& ring, int in, int out, int64_t size) {
  return std::make_unique<PollSpliceRelay>(ring, in, out, static_cast<size_t>(size));
}
// Argument: 1 for SEND_ZC, 0 for plain send; 1 MiB buffers.
std::unique_ptr<Relay> makePipelined(Ring& ring, int in, int out, int64_t zeroCopy) {
  return std::make_unique<PipelinedRelay>(ring, in, out, kMiB, zeroCopy != 0);
}

void BM_RelayMultishotRecv(benchmark::State& s) { runRelay(s, makeMultishot); }
void BM_RelaySerialRecv(benchmark::State& s) { runRelay(s, makeSerial); }
void BM_RelayUringSplice(benchmark::State& s) { runRelay(s, makeRingSplice); }
void BM_RelayPollSplice(benchmark::State& s) { runRelay(s, makePollSplice); }
void BM_RelayPipelinedSend(benchmark::State& s) { runRelay(s, makePipelined); }

constexpr int kIterations = 4;  // 1 GiB per repetition

BENCHMARK(BM_RelayMultishotRecv)
    ->ArgName("buffer")
    ->Arg(16 * kKiB)
    ->Arg(64 * kKiB)
    ->Arg(512 * kKiB)
    ->Arg(kMiB)
    ->Iterations(kIterations)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RelaySerialRecv)
    ->ArgName("buffer")
    ->Arg(64 * kKiB)
    ->Arg(kMiB)
    ->Iterations(kIterations)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RelayUringSplice)
    ->ArgName("pipe")
    ->Arg(64 * kKiB)
    ->Arg(kMiB)
    ->Iterations(kIterations)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RelayPollSplice)
    ->ArgName("pipe")
    ->Arg(64 * kKiB)
    ->Arg(kMiB)
    ->Iterations(kIterations)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_RelayPipelinedSend)
    ->ArgName("zc")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(kIterations)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace ringlb
