#include "health/state.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringlb::health::state_test {
namespace {

using namespace std::chrono_literals;

const TimePoint kStart = TimePoint{} + 1000s;

// --- RiseFall: sequences of results -> states --------------------------------

// 'P' = probe passed, 'F' = failed; expected: 'U' up, 'D' down, '?' unknown.
struct RiseFallCase {
  const char* name;
  uint32_t rise;
  uint32_t fall;
  std::string results;
  std::string expected;
};

char letter(BackendState state) {
  switch (state) {
    case BackendState::Up: return 'U';
    case BackendState::Down: return 'D';
    case BackendState::Unknown: return '?';
    case BackendState::Ejected: return 'E';
  }
  return '!';
}

class RiseFallTable : public ::testing::TestWithParam<RiseFallCase> {};

TEST_P(RiseFallTable, StatesFollowTheResults) {
  const RiseFallCase& c = GetParam();
  RiseFall rf({c.rise, c.fall, "http"});
  std::string states;
  for (char r : c.results) {
    rf.record(r == 'P', "connect refused");
    states += letter(rf.state());
  }
  EXPECT_EQ(states, c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    Sequences, RiseFallTable,
    ::testing::Values(RiseFallCase{"FirstPassMarksUpAtOnce", 2, 3, "P", "U"},
                      RiseFallCase{"FirstFailureMarksDownAtOnce", 2, 3, "F", "D"},
                      RiseFallCase{"FallFailuresMarkUpDown", 2, 3, "PFFF", "UUUD"},
                      RiseFallCase{"APassBreaksTheFailureRun", 2, 3, "PFFPFF", "UUUUUU"},
                      RiseFallCase{"RisePassesMarkDownUp", 2, 3, "FPP", "DDU"},
                      RiseFallCase{"AFailureBreaksTheSuccessRun", 2, 3, "FPFP", "DDDD"},
                      RiseFallCase{"FlapsBackAndForthWithFullRuns", 2, 3, "PFFFPPFFF", "UUUDDUUUD"},
                      RiseFallCase{"RiseAndFallOfOneFlipOnEveryResult", 1, 1, "PFPF", "UDUD"},
                      RiseFallCase{"ZeroRiseAndFallActAsOne", 0, 0, "FPF", "DUD"}),
    [](const auto& param) { return std::string(param.param.name); });

TEST(RiseFall, StartsUnknown) {
  RiseFall rf({});
  EXPECT_EQ(rf.state(), BackendState::Unknown);
  EXPECT_TRUE(carriesTraffic(rf.state()));
}

TEST(RiseFall, FirstFailureReasonNamesTheCheckAndTheError) {
  RiseFall rf({2, 3, "http"});
  auto t = rf.record(false, "connect refused");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->from, BackendState::Unknown);
  EXPECT_EQ(t->to, BackendState::Down);
  EXPECT_EQ(t->reason, "first http check failed: connect refused");
}

TEST(RiseFall, FallReasonCountsTheFailuresAndKeepsTheLastError) {
  RiseFall rf({2, 3, "http"});
  rf.record(true, "");
  rf.record(false, "timeout");
  rf.record(false, "timeout");
  auto t = rf.record(false, "connect refused");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->from, BackendState::Up);
  EXPECT_EQ(t->to, BackendState::Down);
  EXPECT_EQ(t->reason, "3 consecutive failed http checks: connect refused");
}

TEST(RiseFall, RiseReasonCountsTheSuccesses) {
  RiseFall rf({2, 3, "tcp"});
  rf.record(false, "reset");
  rf.record(true, "");
  auto t = rf.record(true, "");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->reason, "2 consecutive successful tcp checks");
}

TEST(RiseFall, ASingleFailureIsNotCalledConsecutive) {
  RiseFall rf({1, 1, "tcp"});
  rf.record(true, "");
  auto t = rf.record(false, "timeout");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->reason, "1 failed tcp check: timeout");
}

TEST(RiseFall, ResultsThatKeepTheStateReportNoTransition) {
  RiseFall rf({2, 3, "tcp"});
  rf.record(true, "");
  EXPECT_FALSE(rf.record(true, ""));
  EXPECT_FALSE(rf.record(false, "timeout"));
}

struct TransitioningCase {
  const char* name;
  std::string results;
  bool transitioning;
};

class TransitioningTable : public ::testing::TestWithParam<TransitioningCase> {};

TEST_P(TransitioningTable, IsTrueOnlyBetweenStates) {
  RiseFall rf({2, 3, "tcp"});
  for (char r : GetParam().results) rf.record(r == 'P', "");
  EXPECT_EQ(rf.transitioning(), GetParam().transitioning);
}

INSTANTIATE_TEST_SUITE_P(Sequences, TransitioningTable,
                         ::testing::Values(TransitioningCase{"Unknown", "", false},
                                           TransitioningCase{"SteadyUp", "PP", false},
                                           TransitioningCase{"UpWithAFailure", "PF", true},
                                           TransitioningCase{"UpFallenDown", "PFFF", false},
                                           TransitioningCase{"DownWithAPass", "FP", true},
                                           TransitioningCase{"DownRisenUp", "FPP", false}),
                         [](const auto& param) { return std::string(param.param.name); });

// --- PoolHealth: passive ejection -------------------------------------------

HealthParams params(uint32_t maxPercent = 50) {
  HealthParams p;
  p.active = {2, 3, "http"};
  p.passive.failures = 3;
  p.passive.baseTime = 30s;
  p.passive.maxTime = 100s;
  p.passive.stablePeriod = 300s;
  p.passive.maxEjectionPercent = maxPercent;
  return p;
}

std::optional<Transition> failPassively(PoolHealth& pool, size_t backend, int times,
                                        TimePoint now = kStart) {
  std::optional<Transition> last;
  for (int i = 0; i < times; ++i) last = pool.onPassiveFailure(backend, "connect refused", now);
  return last;
}

TEST(PassiveEjection, ConsecutiveFailuresEjectTheBackend) {
  PoolHealth pool(4, params());
  EXPECT_FALSE(failPassively(pool, 1, 2));
  auto t = pool.onPassiveFailure(1, "connect refused", kStart);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->backend, 1u);
  EXPECT_EQ(t->from, BackendState::Unknown);
  EXPECT_EQ(t->to, BackendState::Ejected);
  EXPECT_EQ(t->reason, "3 consecutive passive failures: connect refused; ejected for 30s");
  EXPECT_FALSE(carriesTraffic(pool.state(1)));
}

TEST(PassiveEjection, ASuccessBreaksTheFailureRun) {
  PoolHealth pool(4, params());
  failPassively(pool, 0, 2);
  pool.onPassiveSuccess(0);
  EXPECT_FALSE(failPassively(pool, 0, 2));
  EXPECT_EQ(pool.state(0), BackendState::Unknown);
}

TEST(PassiveEjection, EjectionEndsWhenItsTimeIsUp) {
  PoolHealth pool(4, params());
  pool.onProbeResult(0, true, "", kStart);
  failPassively(pool, 0, 3);
  std::vector<Transition> out;
  pool.expireEjections(kStart + 30s - 1ms, out);
  EXPECT_TRUE(out.empty());
  pool.expireEjections(kStart + 30s, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].from, BackendState::Ejected);
  EXPECT_EQ(out[0].to, BackendState::Up);
  EXPECT_EQ(out[0].reason, "ejection time over");
  EXPECT_EQ(pool.ejectedCount(), 0u);
}

TEST(PassiveEjection, NextEjectionEndIsTheEarliestEnd) {
  PoolHealth pool(4, params());
  EXPECT_EQ(pool.nextEjectionEnd(), std::nullopt);
  failPassively(pool, 0, 3, kStart + 5s);
  failPassively(pool, 1, 3, kStart);
  EXPECT_EQ(pool.nextEjectionEnd(), kStart + 30s);
}

// Ejects backend 0 of a large pool at `now` and ends that ejection; returns
// its length.
Duration ejectAndExpire(PoolHealth& pool, TimePoint now) {
  auto t = failPassively(pool, 0, 3, now);
  EXPECT_TRUE(t);
  Duration length = *pool.nextEjectionEnd() - now;
  std::vector<Transition> out;
  pool.expireEjections(now + length, out);
  return length;
}

TEST(PassiveEjection, RepeatedEjectionsDoubleUpToTheCap) {
  PoolHealth pool(10, params());
  std::vector<Duration> lengths;
  TimePoint now = kStart;
  for (int i = 0; i < 4; ++i) {
    lengths.push_back(ejectAndExpire(pool, now));
    now += lengths.back() + 1s;
  }
  EXPECT_EQ(lengths, (std::vector<Duration>{30s, 60s, 100s, 100s}));
}

TEST(PassiveEjection, DoublingStartsOverAfterAStablePeriod) {
  PoolHealth pool(10, params());
  ejectAndExpire(pool, kStart);        // ends at +30s
  ejectAndExpire(pool, kStart + 40s);  // 60s, ends at +100s
  Duration third = ejectAndExpire(pool, kStart + 100s + 300s);
  EXPECT_EQ(third, 30s);
}

TEST(PassiveEjection, MaxEjectionPercentBoundsTheEjectedShare) {
  PoolHealth pool(10, params(30));
  for (size_t b = 0; b < 3; ++b) EXPECT_TRUE(failPassively(pool, b, 3));
  EXPECT_FALSE(failPassively(pool, 3, 3));
  EXPECT_EQ(pool.ejectedCount(), 3u);
  EXPECT_EQ(pool.refusedEjections(), 1u);
  EXPECT_EQ(pool.state(3), BackendState::Unknown);
}

TEST(PassiveEjection, RefusedEjectionIsRetriedOnTheNextFailureOnceAllowed) {
  PoolHealth pool(10, params(10));
  failPassively(pool, 0, 3);
  EXPECT_FALSE(failPassively(pool, 1, 3));
  std::vector<Transition> out;
  pool.expireEjections(kStart + 30s, out);
  EXPECT_TRUE(pool.onPassiveFailure(1, "reset", kStart + 30s));
}

TEST(PassiveEjection, NeverEjectsTheLastBackendCarryingTraffic) {
  PoolHealth pool(2, params(100));
  EXPECT_TRUE(failPassively(pool, 0, 3));
  EXPECT_FALSE(failPassively(pool, 1, 3));
  EXPECT_EQ(pool.state(1), BackendState::Unknown);
}

TEST(PassiveEjection, ASingleBackendPoolIsNeverEjected) {
  PoolHealth pool(1, params(100));
  EXPECT_FALSE(failPassively(pool, 0, 10));
  EXPECT_EQ(pool.refusedEjections(), 8u);  // one refusal per failure from the 3rd on
}

TEST(PassiveEjection, ActivelyDownBackendsDoNotCountAsCarryingTraffic) {
  PoolHealth pool(3, params(100));
  pool.onProbeResult(0, false, "timeout", kStart);
  EXPECT_TRUE(failPassively(pool, 1, 3));
  EXPECT_FALSE(failPassively(pool, 2, 3));
}

TEST(PassiveEjection, FailuresOfADownBackendAreIgnored) {
  PoolHealth pool(4, params());
  pool.onProbeResult(0, false, "timeout", kStart);
  EXPECT_FALSE(failPassively(pool, 0, 5));
  EXPECT_EQ(pool.ejectedCount(), 0u);
  EXPECT_EQ(pool.refusedEjections(), 0u);
}

TEST(PassiveEjection, ZeroFailureThresholdDisablesEjection) {
  HealthParams p = params();
  p.passive.failures = 0;
  PoolHealth pool(4, p);
  EXPECT_FALSE(failPassively(pool, 0, 100));
}

TEST(PassiveEjection, RiseActiveSuccessesEndTheEjectionEarly) {
  PoolHealth pool(4, params());
  pool.onProbeResult(0, true, "", kStart);
  failPassively(pool, 0, 3);
  EXPECT_FALSE(pool.onProbeResult(0, true, "", kStart + 2s));
  auto t = pool.onProbeResult(0, true, "", kStart + 4s);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->from, BackendState::Ejected);
  EXPECT_EQ(t->to, BackendState::Up);
  EXPECT_EQ(t->reason, "2 consecutive successful http checks ended the ejection early");
  EXPECT_EQ(pool.nextEjectionEnd(), std::nullopt);
}

TEST(PassiveEjection, AnActiveFailureRestartsTheCountForAnEarlyReturn) {
  PoolHealth pool(4, params());
  pool.onProbeResult(0, true, "", kStart);
  failPassively(pool, 0, 3);
  pool.onProbeResult(0, true, "", kStart + 2s);
  pool.onProbeResult(0, false, "timeout", kStart + 4s);
  EXPECT_FALSE(pool.onProbeResult(0, true, "", kStart + 6s));
  EXPECT_EQ(pool.state(0), BackendState::Ejected);
}

TEST(PassiveEjection, ActiveDownWinsOverEjected) {
  PoolHealth pool(4, params());
  pool.onProbeResult(0, true, "", kStart);
  failPassively(pool, 0, 3);
  pool.onProbeResult(0, false, "timeout", kStart + 1s);
  pool.onProbeResult(0, false, "timeout", kStart + 2s);
  auto t = pool.onProbeResult(0, false, "timeout", kStart + 3s);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->from, BackendState::Ejected);
  EXPECT_EQ(t->to, BackendState::Down);
  std::vector<Transition> out;
  pool.expireEjections(kStart + 30s, out);
  EXPECT_TRUE(out.empty());  // still down: nothing visible changed
  EXPECT_EQ(pool.state(0), BackendState::Down);
}

TEST(HealthParams, FromConfigTakesThePoolSettings) {
  config::PoolConfig pool;
  pool.health = config::HealthConfig{};
  pool.health->check = config::HealthCheckKind::Http;
  pool.health->rise = 4;
  pool.health->fall = 5;
  pool.passiveFailures = 7;
  pool.ejectionTime = 10s;
  pool.maxEjectionPercent = 20;
  HealthParams p = HealthParams::fromConfig(pool);
  EXPECT_EQ(p.active.rise, 4u);
  EXPECT_EQ(p.active.fall, 5u);
  EXPECT_EQ(p.active.check, "http");
  EXPECT_EQ(p.passive.failures, 7u);
  EXPECT_EQ(p.passive.baseTime, 10s);
  EXPECT_EQ(p.passive.maxTime, 300s);
  EXPECT_EQ(p.passive.maxEjectionPercent, 20u);
}

}  // namespace
}  // namespace ringlb::health::state_test
