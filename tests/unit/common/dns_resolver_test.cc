// DnsResolver (c-ares on the worker's ring) and ForwardResolver, against a
// fake DNS server on loopback: what a lookup returns, that names do not wait
// for each other, the cache and its TTLs, shared queries, failures and their
// bounds, and the servers of global.resolvers (the fake server's random port).
#include "common/dns/dns_resolver.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/address.h"
#include "config/load.h"
#include "l7/forward/forward_resolver.h"
#include "tests/fakes/dns_server.h"
#include "tests/fakes/worker_fixture.h"

namespace ringlb::dns {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using testing::FakeDnsServer;
using testing::WorkerFixture;

constexpr uint16_t kA = FakeDnsServer::kTypeA;
constexpr uint16_t kAAAA = FakeDnsServer::kTypeAAAA;

std::string workerConfig(const std::string& resolvers = "") {
  std::string global = resolvers.empty() ? "" : "[global]\nresolvers = [" + resolvers + "]\n";
  return global +
         "[pools.p]\nbackends = [\"127.0.0.1:9\"]\n"
         "[listeners.front]\nbind = \"127.0.0.1:1\"\nmode = \"http\"\npool = \"p\"\n";
}

config::SocketAddress addressOf(const std::string& text) {
  std::string error;
  return *config::parseNumericAddress(text, &error);
}

struct Request final : DnsRequest {
  void onAnswer(const DnsAnswer& a) override {
    answer = a;
    ++calls;
    at = Clock::now();
  }
  bool done() const { return calls != 0; }
  int calls = 0;
  DnsAnswer answer;
  Clock::time_point at;
};

std::vector<std::string> texts(const DnsAnswer& a) {
  std::vector<std::string> out;
  for (const auto& s : a.addresses) out.push_back(s.text);
  return out;
}

// A resolver asking the fake server, on a worker driven by the test.
struct Dns {
  explicit Dns(DnsOptions options = {}) : fx(workerConfig()) {
    resolver.emplace(fx.worker().io(), std::vector{addressOf(server.address())}, options);
  }
  ~Dns() {
    resolver.reset();
    // Polls cancelled by the resolver's end come back; their watches free themselves.
    for (int i = 0; i < 5; ++i) fx.worker().turn(milliseconds(1));
  }
  std::shared_ptr<Request> lookup(const std::string& name) {
    auto r = std::make_shared<Request>();
    resolver->lookup(name, r);
    return r;
  }
  bool wait(const Request& r, milliseconds limit = milliseconds(3000)) {
    return fx.runUntil([&] { return r.done(); }, limit);
  }

  FakeDnsServer server;
  WorkerFixture fx;
  std::optional<DnsResolver> resolver;
};

TEST(DnsCache, AFullCacheForgetsTheNameStoredLongestAgo) {
  DnsCache cache(2);
  auto now = Clock::now();
  auto answer = std::make_shared<const DnsAnswer>();
  cache.store("a", answer, now + std::chrono::seconds(60));
  cache.store("b", answer, now + std::chrono::seconds(60));
  cache.store("c", answer, now + std::chrono::seconds(60));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_EQ(cache.find("a", now), nullptr);
  EXPECT_NE(cache.find("b", now), nullptr);
  EXPECT_NE(cache.find("c", now), nullptr);
  EXPECT_EQ(cache.find("c", now + std::chrono::seconds(60)), nullptr) << "expired";
}

TEST(DnsResolver, ReturnsTheIpv4AndIpv6AddressesIpv4First) {
  Dns d;
  d.server.add("both.test", "2001:db8::7", 60);
  d.server.add("both.test", "192.0.2.7", 60);
  d.server.add("both.test", "192.0.2.8", 60);
  auto r = d.lookup("both.test");
  ASSERT_TRUE(d.wait(*r));
  EXPECT_TRUE(r->answer.ok()) << r->answer.error;
  EXPECT_EQ(texts(r->answer), (std::vector<std::string>{"192.0.2.7", "192.0.2.8", "2001:db8::7"}));
  EXPECT_EQ(r->answer.addresses.back().family(), AF_INET6);
}

TEST(DnsResolver, AnswerComesOnALaterTurnNeverInsideLookup) {
  Dns d;
  d.server.add("a.test", "192.0.2.1", 60);
  auto first = d.lookup("a.test");
  EXPECT_FALSE(first->done());
  ASSERT_TRUE(d.wait(*first));
  auto cached = d.lookup("a.test");
  EXPECT_FALSE(cached->done()) << "even a cached answer waits for the loop";
  ASSERT_TRUE(d.wait(*cached, milliseconds(100)));
  EXPECT_EQ(texts(cached->answer), std::vector<std::string>{"192.0.2.1"});
}

TEST(DnsResolver, ASlowNameDoesNotDelayAnotherName) {
  Dns d;
  d.server.add("slow.test", "192.0.2.1", 60);
  d.server.add("fast.test", "192.0.2.2", 60);
  d.server.delay("slow.test", milliseconds(1500));
  auto start = Clock::now();
  auto slow = d.lookup("slow.test");
  auto fast = d.lookup("fast.test");
  ASSERT_TRUE(d.wait(*fast));
  EXPECT_FALSE(slow->done());
  EXPECT_LT(fast->at - start, milliseconds(500));
  ASSERT_TRUE(d.wait(*slow));
  EXPECT_TRUE(slow->answer.ok()) << slow->answer.error;
  EXPECT_GE(slow->at - start, milliseconds(1400));
}

TEST(DnsResolver, ARepeatLookupIsAnsweredFromTheCacheUntilTheTtlPasses) {
  Dns d;
  d.server.add("ttl.test", "192.0.2.3", 1);
  auto first = d.lookup("ttl.test");
  ASSERT_TRUE(d.wait(*first));
  auto stored = Clock::now();
  auto again = d.lookup("TTL.test");
  ASSERT_TRUE(d.wait(*again));
  EXPECT_EQ(texts(again->answer), std::vector<std::string>{"192.0.2.3"});
  EXPECT_EQ(d.server.queries("ttl.test", kA), 1) << "answered without a query";
  // Past the 1 s TTL (the loop's clock, which the cache reads, moves with each turn).
  d.fx.runUntil([&] { return Clock::now() > stored + milliseconds(1100); }, milliseconds(2000));
  auto expired = d.lookup("ttl.test");
  ASSERT_TRUE(d.wait(*expired));
  EXPECT_TRUE(expired->answer.ok());
  EXPECT_EQ(d.server.queries("ttl.test", kA), 2) << "asked again after the TTL";
}

TEST(DnsResolver, ConcurrentLookupsOfOneNameShareOneQuery) {
  Dns d;
  d.server.add("shared.test", "192.0.2.4", 60);
  d.server.delay("shared.test", milliseconds(100));
  std::vector<std::shared_ptr<Request>> requests;
  for (int i = 0; i < 3; ++i) requests.push_back(d.lookup("shared.test"));
  for (auto& r : requests) ASSERT_TRUE(d.wait(*r));
  for (auto& r : requests) EXPECT_EQ(texts(r->answer), std::vector<std::string>{"192.0.2.4"});
  EXPECT_EQ(d.server.queries("shared.test", kA), 1);
  EXPECT_EQ(d.server.queries("shared.test", kAAAA), 1);
}

TEST(DnsResolver, AnUnknownNameIsNoSuchHostQuicklyAndCached) {
  Dns d;
  auto start = Clock::now();
  auto r = d.lookup("nowhere.test");
  ASSERT_TRUE(d.wait(*r));
  EXPECT_EQ(r->answer.error, "no such host");
  EXPECT_LT(r->at - start, milliseconds(500));
  auto again = d.lookup("nowhere.test");
  ASSERT_TRUE(d.wait(*again));
  EXPECT_EQ(again->answer.error, "no such host");
  EXPECT_EQ(d.server.queries("nowhere.test", kA), 1) << "the negative answer is kept";
}

TEST(DnsResolver, ANameWithoutAddressRecordsIsNoAddressAndCached) {
  Dns d;
  d.server.addEmpty("empty.test");
  auto r = d.lookup("empty.test");
  ASSERT_TRUE(d.wait(*r));
  EXPECT_EQ(r->answer.error, "no address");
  auto again = d.lookup("empty.test");
  ASSERT_TRUE(d.wait(*again));
  EXPECT_EQ(again->answer.error, "no address");
  EXPECT_EQ(d.server.queries("empty.test", kA), 1);
}

TEST(DnsResolver, AnIpv6OnlyNameIsAnAnswer) {
  Dns d;
  d.server.add("v6only.test", "2001:db8::5", 60);
  auto r = d.lookup("v6only.test");
  ASSERT_TRUE(d.wait(*r));
  EXPECT_TRUE(r->answer.ok()) << r->answer.error;
  EXPECT_EQ(texts(r->answer), std::vector<std::string>{"2001:db8::5"});
}

TEST(DnsResolver, AServerThatNeverAnswersTimesOutAtTheLookupTimeout) {
  DnsOptions options;
  options.tryTimeout = milliseconds(400);  // c-ares alone would take 0.4 + 0.8 s
  options.tries = 2;
  options.lookupTimeout = milliseconds(800);
  Dns d(options);
  d.server.drop("");
  auto start = Clock::now();
  auto r = d.lookup("silent.test");
  ASSERT_TRUE(d.wait(*r, milliseconds(3000)));
  EXPECT_EQ(r->answer.error, "timed out");
  EXPECT_GE(r->at - start, milliseconds(790));
  EXPECT_LT(r->at - start, milliseconds(1100));
}

TEST(DnsResolver, CaresGivingUpFirstIsAlsoTimedOut) {
  DnsOptions options;
  options.tryTimeout = milliseconds(100);
  options.tries = 2;  // 0.1 + 0.2 s, well before the 5 s lookup timeout
  Dns d(options);
  d.server.drop("");
  auto start = Clock::now();
  auto r = d.lookup("silent.test");
  ASSERT_TRUE(d.wait(*r));
  EXPECT_EQ(r->answer.error, "timed out");
  EXPECT_LT(r->at - start, milliseconds(1000));
  EXPECT_EQ(d.server.queries("silent.test", kA), 2) << "two tries";
  auto again = d.lookup("silent.test");
  ASSERT_TRUE(d.wait(*again));
  EXPECT_EQ(d.server.queries("silent.test", kA), 4) << "a timeout is not cached";
}

TEST(DnsResolver, NewServersServeLaterLookupsAndEmptyTheCache) {
  Dns d;
  FakeDnsServer other;
  d.server.add("moved.test", "192.0.2.1", 60);
  other.add("moved.test", "192.0.2.2", 60);
  auto before = d.lookup("moved.test");
  ASSERT_TRUE(d.wait(*before));
  d.resolver->setServers({addressOf(other.address())});
  auto after = d.lookup("moved.test");
  ASSERT_TRUE(d.wait(*after));
  EXPECT_EQ(texts(after->answer), std::vector<std::string>{"192.0.2.2"});
}

TEST(DnsResolver, QueriesInFlightWhenServersChangeStillAnswer) {
  Dns d;
  FakeDnsServer other;
  d.server.add("busy.test", "192.0.2.1", 60);
  d.server.delay("busy.test", milliseconds(200));
  other.add("busy.test", "192.0.2.2", 60);
  auto old = d.lookup("busy.test");
  d.fx.runUntil([&] { return d.server.queries("busy.test", kA) == 1; });
  d.resolver->setServers({addressOf(other.address())});
  auto fresh = d.lookup("busy.test");
  ASSERT_TRUE(d.wait(*fresh));
  ASSERT_TRUE(d.wait(*old));
  EXPECT_EQ(texts(old->answer), std::vector<std::string>{"192.0.2.1"});
  EXPECT_EQ(texts(fresh->answer), std::vector<std::string>{"192.0.2.2"});
}

TEST(DnsResolver, StoppedItDropsItsRequestsAndIsIdleOnceItsPollsCameBack) {
  Dns d;
  d.server.drop("");
  auto r = d.lookup("pending.test");
  d.fx.runUntil([&] { return d.server.queries("pending.test", kA) == 1; });
  EXPECT_FALSE(d.resolver->idle()) << "a query and its socket's poll";
  d.resolver->stop();
  EXPECT_TRUE(d.fx.runUntil([&] { return d.resolver->idle(); }));
  EXPECT_FALSE(r->done());
  auto late = d.lookup("pending.test");
  ASSERT_TRUE(d.wait(*late));
  EXPECT_EQ(late->answer.error, "resolver stopped");
}

TEST(DnsResolver, DestroyedWithAQueryInFlightDropsItsRequests) {
  Dns d;
  d.server.drop("");
  auto r = d.lookup("pending.test");
  d.fx.runUntil([&] { return d.server.queries("pending.test", kA) == 1; });
  d.resolver.reset();  // cancels the polls on the ring; nothing may call the request
  for (int i = 0; i < 20; ++i) d.fx.worker().turn(milliseconds(1));
  EXPECT_FALSE(r->done());
}

// --- ForwardResolver: the adapter the forward proxy uses ---

using l7::ForwardResolver;
using l7::ResolveJob;

struct Waiter final : l7::ResolveWaiter {
  void onResolved(const ResolveJob& job) override {
    done = &job;
    ++calls;
  }
  const ResolveJob* done = nullptr;
  int calls = 0;
};

std::string forwardConfig(const FakeDnsServer& server) {
  return workerConfig(std::string("\"") + server.address() + "\"");
}

std::shared_ptr<ResolveJob> job(const std::string& host, uint16_t port, Waiter& w) {
  auto j = std::make_shared<ResolveJob>();
  j->host = host;
  j->port = port;
  j->waiter = &w;
  return j;
}

TEST(ForwardResolver, AJobGetsEveryAddressWithItsPortAndTheFirstAsAddress) {
  FakeDnsServer server;
  server.add("origin.test", "192.0.2.10", 60);
  server.add("origin.test", "2001:db8::10", 60);
  WorkerFixture fx(forwardConfig(server));
  ForwardResolver resolver(fx.worker());
  Waiter w;
  auto j = job("origin.test", 8080, w);
  resolver.resolve(j);
  EXPECT_EQ(w.calls, 0) << "never inside resolve()";
  ASSERT_TRUE(fx.runUntil([&] { return w.calls != 0; }));
  ASSERT_TRUE(j->ok()) << j->error;
  ASSERT_EQ(j->addresses.size(), 2u);
  EXPECT_EQ(j->addresses[0].text, "192.0.2.10:8080");
  EXPECT_EQ(j->addresses[1].text, "[2001:db8::10]:8080");
  EXPECT_EQ(j->addresses[1].port(), 8080);
  EXPECT_EQ(j->length, j->addresses[0].length);
  EXPECT_EQ(std::memcmp(&j->address, &j->addresses[0].storage, j->length), 0);
}

TEST(ForwardResolver, AnUnknownNameIsAReadableError) {
  FakeDnsServer server;
  WorkerFixture fx(forwardConfig(server));
  ForwardResolver resolver(fx.worker());
  Waiter w;
  auto j = job("missing.test", 80, w);
  resolver.resolve(j);
  ASSERT_TRUE(fx.runUntil([&] { return w.calls != 0; }));
  EXPECT_FALSE(j->ok());
  EXPECT_EQ(j->error, "no such host");
  EXPECT_EQ(j->length, 0u);
}

TEST(ForwardResolver, AJobWhoseWaiterLeftIsDroppedQuietly) {
  FakeDnsServer server;
  server.add("late.test", "192.0.2.11", 60);
  server.delay("late.test", milliseconds(100));
  WorkerFixture fx(forwardConfig(server));
  ForwardResolver resolver(fx.worker());
  Waiter w;
  auto j = job("late.test", 80, w);
  resolver.resolve(j);
  j->waiter = nullptr;  // the exchange ended
  // The answer still reaches the job (the resolver held it), not the waiter.
  ASSERT_TRUE(fx.runUntil([&] { return j->length != 0; }));
  EXPECT_EQ(w.calls, 0);
}

TEST(ForwardResolver, ANewConfigWithOtherResolversIsUsedForTheNextLookup) {
  FakeDnsServer first;
  FakeDnsServer second;
  first.add("switch.test", "192.0.2.1", 60);
  second.add("switch.test", "192.0.2.2", 60);
  WorkerFixture fx(forwardConfig(first));
  ForwardResolver resolver(fx.worker());
  Waiter w1;
  auto j1 = job("switch.test", 80, w1);
  resolver.resolve(j1);
  ASSERT_TRUE(fx.runUntil([&] { return w1.calls != 0; }));
  EXPECT_EQ(j1->addresses.at(0).text, "192.0.2.1:80");

  config::LoadOptions load = config::LoadOptions::system();
  load.checkFiles = false;
  auto reloaded = config::loadConfigText(forwardConfig(second), "test.toml", load);
  ASSERT_TRUE(reloaded.config);
  fx.worker().applyConfig(std::make_shared<const config::Config>(std::move(*reloaded.config)));
  Waiter w2;
  auto j2 = job("switch.test", 80, w2);
  resolver.resolve(j2);
  ASSERT_TRUE(fx.runUntil([&] { return w2.calls != 0; }));
  EXPECT_EQ(j2->addresses.at(0).text, "192.0.2.2:80") << "asked the new server, not the cache";
}

}  // namespace
}  // namespace ringlb::dns
