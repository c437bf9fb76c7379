#include "health/publisher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/address.h"

namespace ringlb::health {
namespace {

using SetPtr = Publisher::SetPtr;

config::PoolConfig poolWith(const std::string& name, const std::vector<std::string>& addresses) {
  config::PoolConfig pool;
  pool.name = name;
  for (const std::string& a : addresses) {
    config::BackendConfig b;
    b.address = a;
    std::string error;
    b.resolved = *config::resolveAddress(a, &error);
    pool.backends.push_back(b);
  }
  return pool;
}

config::Config configWith(std::vector<config::PoolConfig> pools) {
  config::Config config;
  for (auto& p : pools) config.pools.emplace(p.name, std::move(p));
  return config;
}

bool isUp(const SetPtr& set, const std::string& address) { return (*set)[*set->find(address)].up; }

class PublisherTest : public ::testing::Test {
 protected:
  std::vector<SetPtr> posted;
  Publisher publisher{[this](SetPtr set) { posted.push_back(std::move(set)); }};
  upstream::MonoTime now = upstream::MonoTime{} + std::chrono::seconds(100);
};

TEST_F(PublisherTest, AFirstConfigPostsNothingBecauseEveryBackendIsUp) {
  publisher.setConfig(configWith({poolWith("api", {"127.0.0.1:1", "127.0.0.1:2"})}), now);
  EXPECT_TRUE(posted.empty());
  EXPECT_TRUE(isUp(publisher.current("api"), "127.0.0.1:1"));
}

TEST_F(PublisherTest, ABackendGoingDownPostsASetThatDoesNotServeIt) {
  publisher.setConfig(configWith({poolWith("api", {"127.0.0.1:1", "127.0.0.1:2"})}), now);
  EXPECT_TRUE(publisher.update("api", {{"127.0.0.1:1", false}}, now));
  ASSERT_EQ(posted.size(), 1u);
  EXPECT_EQ(posted[0]->pool(), "api");
  EXPECT_FALSE(isUp(posted[0], "127.0.0.1:1"));
  ASSERT_EQ(posted[0]->serving().size(), 1u);
  EXPECT_EQ((*posted[0])[posted[0]->serving()[0]].address, "127.0.0.1:2");
}

TEST_F(PublisherTest, AnUnchangedStatePostsNothing) {
  publisher.setConfig(configWith({poolWith("api", {"127.0.0.1:1"})}), now);
  EXPECT_FALSE(publisher.update("api", {{"127.0.0.1:1", true}}, now));
  EXPECT_TRUE(posted.empty());
}

TEST_F(PublisherTest, ABackendComingBackIsStampedForSlowStart) {
  publisher.setConfig(configWith({poolWith("api", {"127.0.0.1:1", "127.0.0.1:2"})}), now);
  publisher.update("api", {{"127.0.0.1:1", false}}, now);
  publisher.update("api", {{"127.0.0.1:1", true}}, now + std::chrono::seconds(5));
  ASSERT_EQ(posted.size(), 2u);
  const upstream::Backend& b = (*posted[1])[*posted[1]->find("127.0.0.1:1")];
  EXPECT_TRUE(b.up);
  EXPECT_EQ(b.upSince, now + std::chrono::seconds(5));
}

TEST_F(PublisherTest, EverySnapshotHasAHigherVersion) {
  publisher.setConfig(configWith({poolWith("api", {"127.0.0.1:1", "127.0.0.1:2"})}), now);
  publisher.update("api", {{"127.0.0.1:1", false}}, now);
  publisher.update("api", {{"127.0.0.1:2", false}}, now);
  ASSERT_EQ(posted.size(), 2u);
  EXPECT_LT(posted[0]->version(), posted[1]->version());
}

TEST_F(PublisherTest, AReloadKeepsTheHealthOfBackendsThatStay) {
  publisher.setConfig(configWith({poolWith("api", {"127.0.0.1:1", "127.0.0.1:2"})}), now);
  publisher.update("api", {{"127.0.0.1:1", false}}, now);
  posted.clear();
  publisher.setConfig(configWith({poolWith("api", {"127.0.0.1:3", "127.0.0.1:1", "127.0.0.1:2"})}),
                      now);
  ASSERT_EQ(posted.size(), 1u);  // posted right away: the reload must not revive it
  EXPECT_FALSE(isUp(posted[0], "127.0.0.1:1"));
  EXPECT_TRUE(isUp(posted[0], "127.0.0.1:2"));
  EXPECT_TRUE(isUp(posted[0], "127.0.0.1:3"));
}

TEST_F(PublisherTest, ABackendThatLeftAndReturnsStartsUp) {
  publisher.setConfig(configWith({poolWith("api", {"127.0.0.1:1", "127.0.0.1:2"})}), now);
  publisher.update("api", {{"127.0.0.1:1", false}}, now);
  publisher.setConfig(configWith({poolWith("api", {"127.0.0.1:2"})}), now);
  posted.clear();
  publisher.setConfig(configWith({poolWith("api", {"127.0.0.1:1", "127.0.0.1:2"})}), now);
  EXPECT_TRUE(posted.empty());
  EXPECT_TRUE(isUp(publisher.current("api"), "127.0.0.1:1"));
}

TEST_F(PublisherTest, HealthIsKeptPerPool) {
  publisher.setConfig(configWith({poolWith("a", {"127.0.0.1:1"}), poolWith("b", {"127.0.0.1:1"})}),
                      now);
  publisher.update("a", {{"127.0.0.1:1", false}}, now);
  EXPECT_FALSE(isUp(publisher.current("a"), "127.0.0.1:1"));
  EXPECT_TRUE(isUp(publisher.current("b"), "127.0.0.1:1"));
}

TEST_F(PublisherTest, UpdatesForUnknownPoolsOrBackendsAreIgnored) {
  publisher.setConfig(configWith({poolWith("api", {"127.0.0.1:1"})}), now);
  EXPECT_FALSE(publisher.update("gone", {{"127.0.0.1:1", false}}, now));
  EXPECT_FALSE(publisher.update("api", {{"127.0.0.1:9", false}}, now));
  EXPECT_TRUE(posted.empty());
}

}  // namespace
}  // namespace ringlb::health
