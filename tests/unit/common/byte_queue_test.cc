// ByteQueue: order, ownership of buffers, moves without copies.
#include "common/byte_queue.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/fakes/test_loop.h"

namespace ringlb {
namespace {

using testing::TestLoop;

std::string drain(ByteQueue& q) {
  std::string out;
  while (!q.empty()) {
    std::string_view f = q.front();
    out.append(f);
    q.consume(f.size());
  }
  return out;
}

TEST(ByteQueue, AppendedBytesComeOutInOrderAcrossBlocks) {
  TestLoop loop;
  ByteQueue q(loop.store());
  std::string big(40 * 1024, 'x');
  big[0] = 'a';
  big.back() = 'z';
  q.append("head:");
  q.append(big);
  EXPECT_EQ(q.size(), 5 + big.size());
  EXPECT_EQ(q.buffers(), 3u) << "16 KiB blocks, the first one filled before a new one";
  EXPECT_EQ(drain(q), "head:" + big);
  EXPECT_EQ(loop.blocks().inUse(), 0u);
}

TEST(ByteQueue, ConsumeReleasesBuffersOnceFullyRead) {
  TestLoop loop;
  ByteQueue q(loop.store());
  q.append("abcdef");
  q.consume(2);
  EXPECT_EQ(q.front(), "cdef");
  EXPECT_EQ(loop.blocks().inUse(), 1u);
  q.consume(4);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(loop.blocks().inUse(), 0u);
}

TEST(ByteQueue, MoveHandsWholeBuffersOverWithoutCopying) {
  TestLoop loop;
  ByteQueue from(loop.store());
  ByteQueue to(loop.store());
  from.append(std::string(16 * 1024, 'a'));
  from.append("b");
  const char* before = from.front().data();
  from.moveTo(to, 16 * 1024);
  EXPECT_EQ(to.front().data(), before) << "the same block, not a copy";
  EXPECT_EQ(from.front(), "b");
  EXPECT_EQ(loop.blocks().inUse(), 2u);
}

TEST(ByteQueue, AMoveThatCutsABufferCopiesTheMovedPart) {
  TestLoop loop;
  ByteQueue from(loop.store());
  ByteQueue to(loop.store());
  from.append("request-1|request-2");
  from.moveTo(to, 10);
  EXPECT_EQ(drain(to), "request-1|");
  EXPECT_EQ(drain(from), "request-2");
  EXPECT_EQ(loop.blocks().inUse(), 0u);
}

TEST(ByteQueue, GatherNamesTheFrontBuffersForOneSend) {
  TestLoop loop;
  ByteQueue q(loop.store());
  q.append(std::string(16 * 1024, 'a'));
  q.append("tail");
  q.consume(100);
  iovec iov[4];
  ASSERT_EQ(q.gather(iov, 4), 2u);
  EXPECT_EQ(iov[0].iov_len, 16 * 1024 - 100u);
  EXPECT_EQ(std::string_view(static_cast<char*>(iov[1].iov_base), iov[1].iov_len), "tail");
}

TEST(ByteQueue, ClearAndDestructionGiveEveryBufferBack) {
  TestLoop loop;
  {
    ByteQueue q(loop.store());
    q.append(std::string(50 * 1024, 'x'));
    EXPECT_EQ(loop.blocks().inUse(), 4u);
  }
  EXPECT_EQ(loop.blocks().inUse(), 0u);
}

}  // namespace
}  // namespace ringlb
