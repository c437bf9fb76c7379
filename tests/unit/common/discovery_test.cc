// DNS discovery: the pure half (answers into backends, changes, filling a
// config) and PoolDiscovery's thread against a fake DNS server on loopback
// (first answer, a changed record, a failed lookup keeping the set, SRV).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "common/discovery/discovered_backends.h"
#include "common/discovery/pool_discovery.h"
#include "config/address.h"
#include "config/load.h"
#include "config/values.h"
#include "tests/fakes/dns_server.h"

namespace ringlb::discovery {
namespace {

using std::chrono::milliseconds;
using testing::FakeDnsServer;

config::SocketAddress ip(const std::string& text) {
  std::string error;
  return *config::parseNumericAddress(text + ":0", &error);
}

std::vector<std::string> addresses(const std::vector<config::BackendConfig>& list) {
  std::vector<std::string> out;
  for (const auto& b : list) out.push_back(b.address);
  return out;
}

ResolvedTarget target(std::string host, uint16_t port, uint16_t priority, uint16_t weight,
                      std::vector<std::string> ips) {
  ResolvedTarget t{{std::move(host), port, priority, weight}, {}};
  for (const auto& i : ips) t.addresses.push_back(ip(i));
  return t;
}

TEST(DiscoveredBackends, AddressesGetThePortSortedOnce) {
  auto list = backendsFromAddresses({ip("10.0.0.3"), ip("10.0.0.1"), ip("10.0.0.3")}, 8080);
  EXPECT_EQ(addresses(list), (std::vector<std::string>{"10.0.0.1:8080", "10.0.0.3:8080"}));
  EXPECT_EQ(list[0].resolved.port(), 8080);
  EXPECT_EQ(list[0].resolved.text, "10.0.0.1:8080");
  EXPECT_EQ(list[0].weight, 1u);
  auto v6 = backendsFromAddresses({ip("[2001:db8::1]")}, 443);
  EXPECT_EQ(addresses(v6), std::vector<std::string>{"[2001:db8::1]:443"});
}

TEST(DiscoveredBackends, SrvGivesPortsWeightsAndBackups) {
  auto list =
      backendsFromSrv({target("a", 81, 10, 60, {"10.0.0.1"}), target("b", 82, 10, 0, {"10.0.0.2"}),
                       target("c", 83, 20, 5, {"10.0.0.3", "10.0.0.4"})});
  ASSERT_EQ(addresses(list),
            (std::vector<std::string>{"10.0.0.1:81", "10.0.0.2:82", "10.0.0.3:83", "10.0.0.4:83"}));
  EXPECT_EQ(list[0].weight, 60u);
  EXPECT_FALSE(list[0].backup);
  EXPECT_EQ(list[1].weight, 1u);  // weight 0 still serves, rarely
  EXPECT_TRUE(list[2].backup);    // a higher priority value: only when the others are down
  EXPECT_TRUE(list[3].backup);
}

TEST(DiscoveredBackends, SrvWeightsAboveTheConfigLimitAreScaled) {
  auto list = backendsFromSrv(
      {target("a", 80, 0, 1000, {"10.0.0.1"}), target("b", 80, 0, 500, {"10.0.0.2"})});
  EXPECT_EQ(list[0].weight, 256u);
  EXPECT_EQ(list[1].weight, 128u);
}

TEST(DiscoveredBackends, SrvAddressListedTwiceKeepsItsPreferredRole) {
  auto list = backendsFromSrv(
      {target("backup", 80, 20, 5, {"10.0.0.1"}), target("primary", 80, 10, 7, {"10.0.0.1"})});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_FALSE(list[0].backup);
  EXPECT_EQ(list[0].weight, 7u);
}

TEST(DiscoveredBackends, SrvSkipsRecordsThatOfferNothing) {
  // target "." (the service is not offered) arrives as "", port 0 is no port
  auto list =
      backendsFromSrv({target("", 80, 0, 1, {"10.0.0.1"}), target("a", 0, 0, 1, {"10.0.0.2"})});
  EXPECT_TRUE(list.empty());
}

TEST(DiscoveredBackends, ChangesAreDescribedAndCompared) {
  auto before = backendsFromAddresses({ip("10.0.0.1"), ip("10.0.0.2")}, 80);
  auto after = backendsFromAddresses({ip("10.0.0.2"), ip("10.0.0.3")}, 80);
  EXPECT_EQ(describeChange(before, after), "+10.0.0.3:80 -10.0.0.1:80");
  EXPECT_FALSE(sameBackends(before, after));
  auto reordered = backendsFromAddresses({ip("10.0.0.2"), ip("10.0.0.1")}, 80);
  EXPECT_TRUE(sameBackends(before, reordered));
  EXPECT_EQ(describeChange(before, reordered), "");
  auto heavier = before;
  heavier[0].weight = 5;
  EXPECT_FALSE(sameBackends(before, heavier));
  EXPECT_EQ(describeChange(before, heavier), "~10.0.0.1:80");
}

config::Config load(const std::string& text) {
  config::LoadResult r = config::loadConfigText(text, "test.toml");
  if (!r.config) {
    ADD_FAILURE() << (r.errors.empty() ? "" : r.errors[0].format());
    return {};
  }
  return std::move(*r.config);
}

std::string twoPools(const std::string& target) {
  return "[pools.d]\ndiscover = \"" + target +
         "\"\n[pools.s]\nbackends = [\"127.0.0.1:9\"]\n"
         "[listeners.w]\nbind = \"127.0.0.1:1\"\nmode = \"http\"\npool = \"d\"\n";
}

TEST(DiscoveredBackends, FillGivesOnlyTheSameTargetItsSet) {
  config::Config c = load(twoPools("dns:a.test:80"));
  ASSERT_TRUE(c.pools.at("d").backends.empty());
  ASSERT_EQ(c.pools.at("d").refresh, std::chrono::seconds(10));
  std::map<std::string, DiscoveredPool> found;
  found["d"] = {*c.pools.at("d").discover, backendsFromAddresses({ip("10.0.0.1")}, 80)};
  found["s"] = found["d"];  // not a discovered pool: left alone
  fillDiscovered(c, found);
  EXPECT_EQ(addresses(c.pools.at("d").backends), std::vector<std::string>{"10.0.0.1:80"});
  EXPECT_EQ(addresses(c.pools.at("s").backends), std::vector<std::string>{"127.0.0.1:9"});

  config::Config other = load(twoPools("dns:b.test:80"));
  fillDiscovered(other, found);  // another name: what a.test gave does not apply
  EXPECT_TRUE(other.pools.at("d").backends.empty());
}

TEST(ParseDiscover, ReadsBothForms) {
  std::string error;
  auto dns = config::parseDiscover("dns:API.internal:8080", &error);
  ASSERT_TRUE(dns) << error;
  EXPECT_EQ(dns->kind, config::DiscoverConfig::Kind::Dns);
  EXPECT_EQ(dns->name, "api.internal");
  EXPECT_EQ(dns->port, 8080);
  auto srv = config::parseDiscover("srv:_http._tcp.api.internal.", &error);
  ASSERT_TRUE(srv) << error;
  EXPECT_EQ(srv->kind, config::DiscoverConfig::Kind::Srv);
  EXPECT_EQ(srv->name, "_http._tcp.api.internal.");
}

TEST(ParseDiscover, RejectsWhatIsNotATarget) {
  for (const char* bad : {"dns:api.internal", "dns:api.internal:0", "dns:api.internal:65536",
                          "dns:api.internal:80x", "dns::80", "dns:a..b:80", "dns:a b:80",
                          "srv:api.internal", "srv:_http", "api.internal:80", ""}) {
    std::string error;
    EXPECT_FALSE(config::parseDiscover(bad, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

// PoolDiscovery's thread against the fake server.
class PoolDiscoveryTest : public ::testing::Test {
 protected:
  // Waits (bounded) for the next change of pool "d".
  std::optional<PoolDiscovery::Change> nextChange(PoolDiscovery& d,
                                                  milliseconds limit = milliseconds(5000)) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      for (auto& c : d.takeChanges()) {
        if (c.pool == "d") return c;
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    return std::nullopt;
  }
  uint64_t failures() {
    for (const auto& s : board.read()) {
      if (s.pool == "d") return s.lookupsFailed;
    }
    return 0;
  }

  FakeDnsServer dns;
  DiscoveryStatusBoard board;
};

TEST_F(PoolDiscoveryTest, FollowsAddressRecordsAndKeepsTheSetWhenTheNameFails) {
  dns.add("a.test", "10.0.0.1", 300);
  config::Config c =
      load("[global]\nresolvers = [\"" + dns.address() + "\"]\n" + twoPools("dns:a.test:80") + "");
  c.pools.at("d").refresh = milliseconds(50);
  PoolDiscovery d(board);
  ASSERT_EQ(d.setConfig(c, {}), "");
  auto first = nextChange(d);
  ASSERT_TRUE(first);
  EXPECT_EQ(addresses(first->found.backends), std::vector<std::string>{"10.0.0.1:80"});
  EXPECT_TRUE(d.settled());

  dns.add("a.test", "10.0.0.2", 300);  // asked again at the next refresh: no caching
  auto second = nextChange(d);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->diff, "+10.0.0.2:80");

  dns.remove("a.test");  // NXDOMAIN: a failed lookup, not an empty set
  auto end = std::chrono::steady_clock::now() + milliseconds(5000);
  while (failures() < 2 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_GE(failures(), 2u);
  EXPECT_TRUE(d.takeChanges().empty());
  auto status = board.read();
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].backends, 2u);
  EXPECT_EQ(status[0].lastError, "no such host");
}

TEST_F(PoolDiscoveryTest, SrvRecordsAndTheirTargets) {
  dns.addSrv("_http._tcp.s.test", 10, 3, 8081, "a.s.test", 300);
  dns.addSrv("_http._tcp.s.test", 20, 1, 8082, "b.s.test", 300);
  dns.addSrv("_http._tcp.s.test", 10, 1, 8083, "gone.s.test", 300);  // no address: left out
  dns.add("a.s.test", "10.0.1.1", 300);
  dns.add("b.s.test", "10.0.1.2", 300);
  config::Config c = load("[global]\nresolvers = [\"" + dns.address() + "\"]\n" +
                          twoPools("srv:_http._tcp.s.test"));
  PoolDiscovery d(board);
  ASSERT_EQ(d.setConfig(c, {}), "");
  auto first = nextChange(d);
  ASSERT_TRUE(first);
  const auto& b = first->found.backends;
  ASSERT_EQ(addresses(b), (std::vector<std::string>{"10.0.1.1:8081", "10.0.1.2:8082"}));
  EXPECT_EQ(b[0].weight, 3u);
  EXPECT_FALSE(b[0].backup);
  EXPECT_TRUE(b[1].backup);
  EXPECT_EQ(dns.queries("_http._tcp.s.test", FakeDnsServer::kTypeSrv), 1);
}

TEST_F(PoolDiscoveryTest, AReloadWithTheSameTargetKeepsTheSetUnreported) {
  dns.add("a.test", "10.0.0.1", 300);
  config::Config c =
      load("[global]\nresolvers = [\"" + dns.address() + "\"]\n" + twoPools("dns:a.test:80"));
  PoolDiscovery d(board);
  ASSERT_EQ(d.setConfig(c, {}), "");
  auto first = nextChange(d);
  ASSERT_TRUE(first);
  std::map<std::string, DiscoveredPool> known{{"d", first->found}};
  ASSERT_EQ(d.setConfig(c, known), "");
  EXPECT_TRUE(d.settled());
  EXPECT_FALSE(nextChange(d, milliseconds(300)));
}

}  // namespace
}  // namespace ringlb::discovery
