#include "common/passive_reports.h"

#include <gtest/gtest.h>

#include <vector>

namespace ringlb {
namespace {

TEST(PassiveReportQueue, ReportsAreDroppedWhileNoHealthThreadReads) {
  PassiveReportQueue queue;
  queue.push({"api", "127.0.0.1:1", true, "refused"});
  std::vector<PassiveReport> out;
  queue.drain(out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(queue.dropped(), 1u);
}

TEST(PassiveReportQueue, AnOpenQueueHandsOverReportsInOrder) {
  PassiveReportQueue queue;
  queue.open();
  queue.push({"api", "127.0.0.1:1", true, "refused"});
  queue.push({"api", "127.0.0.1:2", false, {}});
  std::vector<PassiveReport> out;
  queue.drain(out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].address, "127.0.0.1:1");
  EXPECT_EQ(out[0].reason, "refused");
  EXPECT_FALSE(out[1].failure);
  out.clear();
  queue.drain(out);
  EXPECT_TRUE(out.empty());
}

TEST(PassiveReportQueue, TheBacklogIsBounded) {
  PassiveReportQueue queue;
  queue.open();
  for (size_t i = 0; i < PassiveReportQueue::kMaxBacklog + 3; ++i) {
    queue.push({"api", "a", true, {}});
  }
  std::vector<PassiveReport> out;
  queue.drain(out);
  EXPECT_EQ(out.size(), PassiveReportQueue::kMaxBacklog);
  EXPECT_EQ(queue.dropped(), 3u);
}

TEST(ReportPassive, SuccessesAreQueuedOnlyWhileAFailureRunIsOpen) {
  PassiveReportQueue queue;
  queue.open();
  queue.success("api", "127.0.0.1:1");
  queue.setWantSuccesses(true);
  queue.success("api", "127.0.0.1:2");
  queue.failure("api", "127.0.0.1:3", "connection refused");
  std::vector<PassiveReport> out;
  queue.drain(out);
  queue.setWantSuccesses(false);
  queue.close();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].address, "127.0.0.1:2");
  EXPECT_EQ(out[1].reason, "connection refused");
}

}  // namespace
}  // namespace ringlb
