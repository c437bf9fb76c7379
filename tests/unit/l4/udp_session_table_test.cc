#include "l4/udp_session_table.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <memory>
#include <vector>

namespace ringlb::l4 {
namespace {

UdpFlowKey v4(const char* ip, uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  inet_pton(AF_INET, ip, &sin.sin_addr);
  return *UdpFlowKey::from(reinterpret_cast<sockaddr*>(&sin), sizeof sin);
}

UdpFlowKey v6(const char* ip, uint16_t port) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(port);
  inet_pton(AF_INET6, ip, &sin6.sin6_addr);
  return *UdpFlowKey::from(reinterpret_cast<sockaddr*>(&sin6), sizeof sin6);
}

TEST(UdpFlowKeyTest, SameAddressAndPortGiveEqualKeys) {
  EXPECT_EQ(v4("127.0.0.1", 5000), v4("127.0.0.1", 5000));
  EXPECT_EQ(UdpFlowKeyHash{}(v4("127.0.0.1", 5000)), UdpFlowKeyHash{}(v4("127.0.0.1", 5000)));
}

TEST(UdpFlowKeyTest, PortIpAndFamilyEachTellFlowsApart) {
  EXPECT_NE(v4("127.0.0.1", 5000), v4("127.0.0.1", 5001));
  EXPECT_NE(v4("127.0.0.1", 5000), v4("127.0.0.2", 5000));
  EXPECT_NE(v4("0.0.0.0", 5000), v6("::", 5000));
}

TEST(UdpFlowKeyTest, IpBytesHoldTheAddressWithoutThePort) {
  EXPECT_EQ(v4("10.1.2.3", 53).ipBytes(), std::string_view("\x0a\x01\x02\x03", 4));
  EXPECT_EQ(v6("::1", 53).ipBytes().size(), 16u);
}

TEST(UdpFlowKeyTest, RejectsUnknownFamilyAndShortLength) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  EXPECT_FALSE(UdpFlowKey::from(reinterpret_cast<sockaddr*>(&sin), 4).has_value());
  sockaddr sa{};
  sa.sa_family = AF_UNIX;
  EXPECT_FALSE(UdpFlowKey::from(&sa, sizeof sa).has_value());
}

class UdpSessionTableTest : public ::testing::Test {
 protected:
  UdpFlowEntry& add(const UdpFlowKey& key) {
    entries_.push_back(std::make_unique<UdpFlowEntry>(key));
    table_.insert(*entries_.back());
    return *entries_.back();
  }

  UdpSessionTable table_{3};
  std::vector<std::unique_ptr<UdpFlowEntry>> entries_;
};

TEST_F(UdpSessionTableTest, FindsAnEntryByClientAddress) {
  UdpFlowEntry& a = add(v4("127.0.0.1", 1000));
  UdpFlowEntry& b = add(v6("::1", 1000));
  EXPECT_EQ(table_.find(v4("127.0.0.1", 1000)), &a);
  EXPECT_EQ(table_.find(v6("::1", 1000)), &b);
  EXPECT_EQ(table_.find(v4("127.0.0.1", 1001)), nullptr);
}

TEST_F(UdpSessionTableTest, IsFullAtCapacity) {
  add(v4("127.0.0.1", 1));
  add(v4("127.0.0.1", 2));
  EXPECT_FALSE(table_.full());
  add(v4("127.0.0.1", 3));
  EXPECT_TRUE(table_.full());
  EXPECT_EQ(table_.size(), 3u);
}

TEST_F(UdpSessionTableTest, VictimIsTheLeastRecentlyInserted) {
  UdpFlowEntry& first = add(v4("127.0.0.1", 1));
  add(v4("127.0.0.1", 2));
  add(v4("127.0.0.1", 3));
  EXPECT_EQ(table_.lruVictim(), &first);
}

TEST_F(UdpSessionTableTest, TouchSavesAnEntryFromEviction) {
  UdpFlowEntry& first = add(v4("127.0.0.1", 1));
  UdpFlowEntry& second = add(v4("127.0.0.1", 2));
  add(v4("127.0.0.1", 3));
  table_.touch(first);
  EXPECT_EQ(table_.lruVictim(), &second);
}

TEST_F(UdpSessionTableTest, EvictingTheVictimMakesRoomForANewFlow) {
  add(v4("127.0.0.1", 1));
  UdpFlowEntry& second = add(v4("127.0.0.1", 2));
  add(v4("127.0.0.1", 3));
  table_.remove(*table_.lruVictim());
  UdpFlowEntry& fourth = add(v4("127.0.0.1", 4));
  EXPECT_EQ(table_.find(v4("127.0.0.1", 1)), nullptr);
  EXPECT_EQ(table_.find(v4("127.0.0.1", 4)), &fourth);
  EXPECT_EQ(table_.lruVictim(), &second);
}

TEST_F(UdpSessionTableTest, RemovedEntryIsNotFoundAndRemovingTwiceIsHarmless) {
  UdpFlowEntry& a = add(v4("127.0.0.1", 1));
  table_.remove(a);
  table_.remove(a);
  EXPECT_FALSE(a.inTable());
  EXPECT_EQ(table_.find(a.key()), nullptr);
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(table_.lruVictim(), nullptr);
}

TEST_F(UdpSessionTableTest, RemovingFromTheMiddleKeepsTheOrder) {
  UdpFlowEntry& a = add(v4("127.0.0.1", 1));
  UdpFlowEntry& b = add(v4("127.0.0.1", 2));
  UdpFlowEntry& c = add(v4("127.0.0.1", 3));
  table_.remove(b);
  std::vector<UdpFlowEntry*> order;
  table_.forEach([&](UdpFlowEntry& e) { order.push_back(&e); });
  EXPECT_EQ(order, (std::vector<UdpFlowEntry*>{&a, &c}));
}

TEST_F(UdpSessionTableTest, ForEachMayRemoveEveryEntry) {
  add(v4("127.0.0.1", 1));
  add(v4("127.0.0.1", 2));
  table_.forEach([&](UdpFlowEntry& e) { table_.remove(e); });
  EXPECT_EQ(table_.size(), 0u);
  EXPECT_EQ(table_.lruVictim(), nullptr);
}

}  // namespace
}  // namespace ringlb::l4
