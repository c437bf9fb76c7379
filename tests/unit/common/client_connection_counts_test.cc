// ClientConnectionCounts: max_connections_per_client's bookkeeping, shared
// by the workers of one listener.
#include "common/client_connection_counts.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace ringlb {
namespace {

TEST(ClientConnectionCounts, AClientGetsUpToItsLimitAndAgainAfterAClose) {
  ClientConnectionCounts counts;
  EXPECT_TRUE(counts.acquire("192.0.2.1", 2));
  EXPECT_TRUE(counts.acquire("192.0.2.1", 2));
  EXPECT_FALSE(counts.acquire("192.0.2.1", 2));
  EXPECT_TRUE(counts.acquire("192.0.2.2", 2)) << "another address has its own count";
  EXPECT_EQ(counts.held("192.0.2.1"), 2u);
  counts.release("192.0.2.1");
  EXPECT_TRUE(counts.acquire("192.0.2.1", 2));
}

TEST(ClientConnectionCounts, AnAddressWithNoConnectionLeftIsForgotten) {
  ClientConnectionCounts counts;
  ASSERT_TRUE(counts.acquire("2001:db8::1", 1));
  counts.release("2001:db8::1");
  EXPECT_EQ(counts.held("2001:db8::1"), 0u);
  counts.release("2001:db8::1");  // an unbalanced release changes nothing
  EXPECT_EQ(counts.held("2001:db8::1"), 0u);
  EXPECT_TRUE(counts.acquire("2001:db8::1", 1));
}

TEST(ClientConnectionCounts, WorkersAcquiringAtOnceNeverPassTheLimit) {
  ClientConnectionCounts counts;
  std::vector<std::thread> workers;
  std::atomic<int> granted{0};
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (counts.acquire("198.51.100.7", 10)) granted.fetch_add(1);
      }
    });
  }
  for (auto& t : workers) t.join();
  EXPECT_EQ(granted.load(), 10);
  EXPECT_EQ(counts.held("198.51.100.7"), 10u);
}

TEST(ClientConnectionCounts, OneListenerHasOneCountsObject) {
  EXPECT_EQ(clientConnectionCounts("egress-a"), clientConnectionCounts("egress-a"));
  EXPECT_NE(clientConnectionCounts("egress-a"), clientConnectionCounts("egress-b"));
}

}  // namespace
}  // namespace ringlb
