#include "health/schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <vector>

namespace ringlb::health {
namespace {

using namespace std::chrono_literals;

const TimePoint kStart = TimePoint{} + 1000s;

ScheduleParams defaults() {
  ScheduleParams p;
  p.interval = 2s;
  p.fastInterval = 500ms;
  p.jitterPercent = 10;
  p.startSpread = 5ms;
  return p;
}

int64_t millisSinceStart(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t - kStart).count();
}

TEST(ProbeSchedule, FirstProbesAreDueWithinTheStartSpread) {
  ProbeSchedule schedule(1000, defaults(), kStart, 1);
  for (size_t i = 0; i < 1000; ++i) {
    EXPECT_GE(schedule.next(i), kStart);
    EXPECT_LT(schedule.next(i), kStart + 5ms);
  }
  EXPECT_EQ(schedule.next(0), kStart);
}

TEST(ProbeSchedule, AThousandBackendsAreNotAllProbedInTheSameMillisecond) {
  ProbeSchedule schedule(1000, defaults(), kStart, 1);
  std::map<int64_t, int> perMillisecond;  // probes started in each millisecond
  for (size_t b = 0; b < 1000; ++b) {
    for (TimePoint t = schedule.next(b); t < kStart + 60s;) {
      ++perMillisecond[millisSinceStart(t)];
      t = schedule.probeFinished(b, t + 3ms, false);  // 3 ms round trip
    }
  }
  int busiest = 0;
  int busiestAfterStart = 0;
  for (auto [ms, count] : perMillisecond) {
    busiest = std::max(busiest, count);
    if (ms >= 1000) busiestAfterStart = std::max(busiestAfterStart, count);
  }
  EXPECT_LE(busiest, 200);           // the first round: 1000 over 5 ms
  EXPECT_LE(busiestAfterStart, 20);  // then jitter spreads them further
}

TEST(ProbeSchedule, DueBackendsAreTakenOnceUntilTheirProbeFinishes) {
  ProbeSchedule schedule(3, defaults(), kStart, 1);
  std::vector<size_t> due;
  schedule.takeDue(kStart + 10ms, due);
  EXPECT_EQ(due, (std::vector<size_t>{0, 1, 2}));
  due.clear();
  schedule.takeDue(kStart + 20ms, due);
  EXPECT_TRUE(due.empty());
  EXPECT_EQ(schedule.earliest(), std::nullopt);
}

TEST(ProbeSchedule, NextProbeIsAnIntervalAfterTheLastOneFinished) {
  ScheduleParams p = defaults();
  p.jitterPercent = 0;
  ProbeSchedule schedule(1, p, kStart, 1);
  EXPECT_EQ(schedule.probeFinished(0, kStart + 700ms, false), kStart + 2700ms);
  EXPECT_EQ(schedule.earliest(), kStart + 2700ms);
}

TEST(ProbeSchedule, JitterStaysWithinItsBoundsAndCoversThem) {
  ProbeSchedule schedule(1, defaults(), kStart, 42);
  Duration low = Duration::max();
  Duration high = Duration::min();
  for (int i = 0; i < 10000; ++i) {
    Duration wait = schedule.nextWait(false);
    low = std::min(low, wait);
    high = std::max(high, wait);
  }
  EXPECT_GE(low, 1800ms);
  EXPECT_LE(high, 2200ms);
  EXPECT_LT(low, 1820ms);
  EXPECT_GT(high, 2180ms);
}

TEST(ProbeSchedule, TransitioningBackendsAreProbedAtTheFastInterval) {
  ProbeSchedule schedule(1, defaults(), kStart, 42);
  for (int i = 0; i < 1000; ++i) {
    Duration wait = schedule.nextWait(true);
    EXPECT_GE(wait, 450ms);
    EXPECT_LE(wait, 550ms);
  }
}

TEST(ProbeSchedule, TheSameSeedGivesTheSameSchedule) {
  ProbeSchedule a(1, defaults(), kStart, 7);
  ProbeSchedule b(1, defaults(), kStart, 7);
  ProbeSchedule c(1, defaults(), kStart, 8);
  std::vector<Duration> fromA, fromB, fromC;
  for (int i = 0; i < 20; ++i) {
    fromA.push_back(a.nextWait(false));
    fromB.push_back(b.nextWait(false));
    fromC.push_back(c.nextWait(false));
  }
  EXPECT_EQ(fromA, fromB);
  EXPECT_NE(fromA, fromC);
}

TEST(ProbeSchedule, JitterIsCappedAtHalfTheInterval) {
  ScheduleParams p = defaults();
  p.jitterPercent = 90;
  ProbeSchedule schedule(1, p, kStart, 3);
  EXPECT_EQ(schedule.maxJitter(2s), 1s);
}

TEST(ScheduleParams, FastIntervalIsAQuarterOfTheIntervalWithinLimits) {
  EXPECT_EQ(ScheduleParams::fastIntervalFor(2s), 500ms);
  EXPECT_EQ(ScheduleParams::fastIntervalFor(200ms), 100ms);  // at least 100 ms
  EXPECT_EQ(ScheduleParams::fastIntervalFor(50ms), 50ms);    // never above the interval
}

TEST(ScheduleParams, FromConfigTakesTheInterval) {
  config::HealthConfig health;
  health.interval = 10s;
  ScheduleParams p = ScheduleParams::fromConfig(health);
  EXPECT_EQ(p.interval, 10s);
  EXPECT_EQ(p.fastInterval, 2500ms);
}

}  // namespace
}  // namespace ringlb::health
