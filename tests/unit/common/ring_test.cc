#include "common/ring.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/buffer_ring.h"

namespace ringlb {
namespace {

// Records every completion it receives, in order.
class Recorder : public OpOwner {
 public:
  struct Seen {
    const Op* op;
    int32_t result;
    bool more;
  };
  void onCompletion(Op& op) override {
    seen.push_back({&op, op.result, op.hasMore()});
    if (onEach) onEach(op);
  }
  std::vector<Seen> seen;
  std::function<void(Op&)> onEach;
};

// Runs the ring until `done` or a bounded number of rounds pass.
template <typename Pred>
void runUntil(Ring& ring, Pred done, int rounds = 200) {
  for (int i = 0; i < rounds && !done(); ++i) ring.run(true, std::chrono::milliseconds(10));
}

struct SocketPair {
  int fds[2] = {-1, -1};
  SocketPair() { EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0); }
  ~SocketPair() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
};

TEST(Ring, SetsUpWithSingleIssuerAndDeferTaskrunOnThisKernel) {
  Ring ring(64);
  EXPECT_TRUE(ring.features().singleIssuer);
  EXPECT_TRUE(ring.features().deferTaskrun);
  EXPECT_TRUE(ring.features().multishotRecv);
  EXPECT_TRUE(ring.features().providedBufferRing);
}

TEST(Ring, NopCompletesOnItsOpAndClearsTheInFlightCount) {
  Ring ring(8);
  Recorder owner;
  Op op(&owner, OpKind::Nop);
  ring.nop(op);
  EXPECT_EQ(owner.opsInFlight(), 1u);
  runUntil(ring, [&] { return !owner.seen.empty(); });
  ASSERT_EQ(owner.seen.size(), 1u);
  EXPECT_EQ(owner.seen[0].op, &op);
  EXPECT_EQ(owner.seen[0].result, 0);
  EXPECT_EQ(owner.opsInFlight(), 0u);
  EXPECT_FALSE(op.inFlight());
}

TEST(Ring, ABatchedWaitSubmitsAndReturnsOnceTheBatchIsReady) {
  Ring ring(64);
  ASSERT_TRUE(ring.features().minTimeout) << "kernel 6.12+ expected on this machine";
  Recorder owner;
  std::vector<std::unique_ptr<Op>> ops;
  for (int i = 0; i < 4; ++i) {
    ops.push_back(std::make_unique<Op>(&owner, OpKind::Nop));
    ring.nop(*ops.back());
  }
  auto start = std::chrono::steady_clock::now();
  ring.enter(true, std::chrono::seconds(5), {4, std::chrono::microseconds(100000)});
  EXPECT_EQ(ring.dispatch(), 4u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(90))
      << "four ready completions satisfy a batch of four without waiting out minWait";
}

TEST(Ring, ABatchedWaitReturnsWithFewerOnceMinWaitPassed) {
  Ring ring(64);
  Recorder owner;
  Op op(&owner, OpKind::Nop);
  ring.nop(op);
  auto start = std::chrono::steady_clock::now();
  ring.enter(true, std::chrono::seconds(5), {16, std::chrono::microseconds(20000)});
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(ring.dispatch(), 1u);
  EXPECT_LT(waited, std::chrono::seconds(2)) << "the 5 s timeout must not be reached";
}

TEST(Ring, ABatchedWaitWithNothingToDoEndsAtItsTimeout) {
  Ring ring(64);
  auto start = std::chrono::steady_clock::now();
  ring.enter(true, std::chrono::milliseconds(30), {16, std::chrono::microseconds(50)});
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(25));
  EXPECT_EQ(ring.dispatch(), 0u);
}

TEST(Ring, GetSqeSubmitsWhenTheQueueIsFullInsteadOfFailing) {
  Ring ring(4);  // SQ of 4 entries
  Recorder owner;
  std::vector<std::unique_ptr<Op>> ops;
  for (int i = 0; i < 100; ++i) ops.push_back(std::make_unique<Op>(&owner, OpKind::Nop));
  for (auto& op : ops) ring.nop(*op);
  runUntil(ring, [&] { return owner.seen.size() == 100; });
  EXPECT_EQ(owner.seen.size(), 100u);
  EXPECT_EQ(owner.opsInFlight(), 0u);
}

TEST(Ring, HandlersRunAfterReapingSoAHandlerCanQueueNewOpsSafely) {
  Ring ring(8);
  Recorder owner;
  Op first(&owner, OpKind::Nop);
  Op second(&owner, OpKind::Nop);
  owner.onEach = [&](Op& op) {
    if (&op == &first) ring.nop(second);  // queued from inside a handler
  };
  ring.nop(first);
  runUntil(ring, [&] { return owner.seen.size() == 2; });
  ASSERT_EQ(owner.seen.size(), 2u);
  EXPECT_EQ(owner.seen[1].op, &second);
}

TEST(Ring, CancelledRecvDeliversBothTheCancelledOpAndTheCancelCompletion) {
  Ring ring(8);
  Recorder owner;
  SocketPair pair;
  char buf[16];
  Op recv(&owner, OpKind::Recv);
  Op cancel(&owner, OpKind::Cancel);
  ring.recv(recv, pair.fds[0], buf, sizeof buf);
  ring.run(false, std::nullopt);
  ring.cancelOp(cancel, recv);
  runUntil(ring, [&] { return owner.opsInFlight() == 0; });
  EXPECT_EQ(owner.opsInFlight(), 0u);
  ASSERT_EQ(owner.seen.size(), 2u);
  bool sawCancelled = false;
  for (const auto& s : owner.seen) {
    if (s.op == &recv) sawCancelled = s.result == -ECANCELED;
  }
  EXPECT_TRUE(sawCancelled);
}

TEST(Ring, CancelFdEndsAMultishotRecvWithAFinalCqeWithoutMore) {
  Ring ring(8);
  BufferRing buffers(ring, 1, 8, 4096);
  Recorder owner;
  SocketPair pair;
  Op recv(&owner, OpKind::Recv);
  Op cancel(&owner, OpKind::Cancel);
  ring.recvMultishot(recv, pair.fds[0], buffers.groupId());
  ASSERT_EQ(write(pair.fds[1], "hello", 5), 5);
  runUntil(ring, [&] { return !owner.seen.empty(); });
  ASSERT_EQ(owner.seen.size(), 1u);
  EXPECT_EQ(owner.seen[0].result, 5);
  EXPECT_TRUE(owner.seen[0].more);
  EXPECT_TRUE(recv.inFlight());  // a multishot op stays in flight
  buffers.take(recv.bufferId(), 5);
  buffers.recycle(recv.bufferId());

  ring.cancelFd(cancel, pair.fds[0]);
  runUntil(ring, [&] { return owner.opsInFlight() == 0; });
  EXPECT_EQ(owner.opsInFlight(), 0u);
  EXPECT_FALSE(recv.inFlight());
  EXPECT_FALSE(owner.seen.back().more);
}

TEST(Ring, MultishotRecvFillsProvidedBuffersAndReportsEnobufsWhenExhausted) {
  Ring ring(8);
  BufferRing buffers(ring, 2, 2, 64);  // only two buffers
  Recorder owner;
  SocketPair pair;
  Op recv(&owner, OpKind::Recv);
  std::vector<std::string> got;
  std::vector<uint16_t> held;
  owner.onEach = [&](Op& op) {
    if (op.result > 0) {
      auto data = buffers.take(op.bufferId(), static_cast<size_t>(op.result));
      got.emplace_back(data.data(), data.size());
      held.push_back(op.bufferId());  // keep it: the pool runs dry
    }
  };
  ring.recvMultishot(recv, pair.fds[0], buffers.groupId());
  for (const char* msg : {"one", "two", "three"}) {
    ASSERT_EQ(write(pair.fds[1], msg, strlen(msg)), static_cast<ssize_t>(strlen(msg)));
    ring.run(true, std::chrono::milliseconds(20));
  }
  runUntil(ring, [&] { return !recv.inFlight(); });
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two"}));
  ASSERT_FALSE(owner.seen.empty());
  EXPECT_EQ(owner.seen.back().result, -ENOBUFS);
  EXPECT_FALSE(owner.seen.back().more);

  // Replenish and re-arm: the third message is still there.
  for (uint16_t id : held) buffers.recycle(id);
  ring.recvMultishot(recv, pair.fds[0], buffers.groupId());
  runUntil(ring, [&] { return got.size() == 3; });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2], "three");
  Op cancel(&owner, OpKind::Cancel);
  ring.cancelFd(cancel, pair.fds[0]);
  runUntil(ring, [&] { return owner.opsInFlight() == 0; });
}

// Residency::Now: every page of the buffers is resident before any receive
// (mincore), so no first receive pays for faulting one in.
TEST(BufferRing, ResidentNowFaultsEveryBufferPageInUpFront) {
  Ring ring(8);
  constexpr uint16_t kCount = 64;
  constexpr uint32_t kSize = 16 * 1024;
  BufferRing buffers(ring, 3, kCount, kSize, BufferRing::Residency::Now);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t pages = size_t{kCount} * kSize / page;
  std::vector<unsigned char> resident(pages);
  ASSERT_EQ(mincore(buffers.data(0), size_t{kCount} * kSize, resident.data()), 0)
      << std::strerror(errno);
  size_t missing = 0;
  for (unsigned char r : resident) missing += (r & 1) == 0;
  EXPECT_EQ(missing, 0u) << "of " << pages << " pages";
}

TEST(Ring, DetachedOpsCompleteWithoutDispatch) {
  Ring ring(8);
  int fd = dup(STDERR_FILENO);
  ring.closeDetached(fd);
  EXPECT_EQ(ring.run(true, std::chrono::milliseconds(50)), 0u);
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);  // closed by the ring
}

TEST(RingDeathTest, DestroyingAnOwnerWithAnOpInFlightAssertsInDebugBuilds) {
  auto destroyWithOpInFlight = [] {
    Ring ring(8);
    SocketPair pair;
    char buf[8];
    auto* owner = new Recorder;
    Op* op = new Op(owner, OpKind::Recv);
    ring.recv(*op, pair.fds[0], buf, sizeof buf);
    delete owner;
  };
  EXPECT_DEBUG_DEATH(destroyWithOpInFlight(), "in flight");
}

TEST(RingSetupError, DescribesPermissionProblemsWithTheFix) {
  std::string why = describeRingSetupError(EPERM);
  EXPECT_NE(why.find("io_uring_disabled"), std::string::npos);
  EXPECT_NE(why.find("seccomp"), std::string::npos);
}

}  // namespace
}  // namespace ringlb
