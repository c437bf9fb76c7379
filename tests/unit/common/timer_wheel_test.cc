#include "common/timer_wheel.h"

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <random>
#include <vector>

namespace ringlb {
namespace {

using namespace std::chrono_literals;
using TimePoint = TimerWheel::TimePoint;

const TimePoint kStart = TimePoint{} + 1000s;

// Records every expiration; an optional hook runs inside onTimer.
class TimerRecorder : public TimerHandler {
 public:
  void onTimer(Timer& timer) override {
    fired.push_back(timer.id());
    if (hook) hook(timer);
  }
  std::vector<uint8_t> fired;
  std::function<void(Timer&)> hook;
};

class TimerWheelTest : public ::testing::Test {
 protected:
  TimerWheel wheel_{kStart};
  TimerRecorder owner_;
};

TEST_F(TimerWheelTest, TimerFiresWhenItsDeadlineIsReachedAndNotBefore) {
  Timer timer(owner_);
  wheel_.schedule(timer, kStart + 10ms);
  EXPECT_EQ(wheel_.advance(kStart + 9ms + 999us), 0u);
  EXPECT_EQ(wheel_.advance(kStart + 10ms), 1u);
  EXPECT_FALSE(timer.armed());
}

TEST_F(TimerWheelTest, DeadlineInsideATickFiresAtTheNextTickBoundary) {
  Timer timer(owner_);
  wheel_.schedule(timer, kStart + 10ms + 500us);
  EXPECT_EQ(wheel_.advance(kStart + 10ms + 700us), 0u);  // tick 10 started before the deadline
  EXPECT_EQ(wheel_.advance(kStart + 11ms), 1u);
}

TEST_F(TimerWheelTest, FiresNeverEarlyAndAtMostOneTickLateForRandomDeadlines) {
  std::mt19937_64 rng(7);
  struct Probe : TimerHandler {
    TimePoint deadline;
    TimePoint* clock = nullptr;
    TimePoint firedAt;
    void onTimer(Timer&) override { firedAt = *clock; }
  };
  TimePoint now = kStart;
  std::vector<std::unique_ptr<Probe>> probes;
  std::vector<std::unique_ptr<Timer>> timers;
  for (int i = 0; i < 500; ++i) {
    auto probe = std::make_unique<Probe>();
    probe->clock = &now;
    probe->deadline = kStart + std::chrono::microseconds(rng() % 8'000'000);  // 0-8 s: wraps
    timers.push_back(std::make_unique<Timer>(*probe));
    wheel_.schedule(*timers.back(), probe->deadline);
    probes.push_back(std::move(probe));
  }
  const auto step = 37us;
  while (wheel_.size() > 0) wheel_.advance(now += step);
  for (const auto& probe : probes) {
    EXPECT_GE(probe->firedAt, probe->deadline);
    EXPECT_LT(probe->firedAt, probe->deadline + wheel_.tick() + step);
  }
}

TEST_F(TimerWheelTest, CancelledTimerDoesNotFire) {
  Timer timer(owner_);
  wheel_.schedule(timer, kStart + 5ms);
  wheel_.cancel(timer);
  EXPECT_FALSE(wheel_.armed(timer));
  EXPECT_EQ(wheel_.advance(kStart + 1s), 0u);
  EXPECT_EQ(wheel_.size(), 0u);
}

TEST_F(TimerWheelTest, CancellingAnUnarmedTimerIsHarmless) {
  Timer timer(owner_);
  wheel_.cancel(timer);
  EXPECT_EQ(wheel_.size(), 0u);
}

TEST_F(TimerWheelTest, ReschedulingLaterMovesTheTimer) {
  Timer timer(owner_);
  wheel_.schedule(timer, kStart + 5ms);
  wheel_.schedule(timer, kStart + 50ms);
  EXPECT_EQ(wheel_.size(), 1u);
  EXPECT_EQ(wheel_.advance(kStart + 49ms), 0u);
  EXPECT_EQ(wheel_.advance(kStart + 50ms), 1u);
}

TEST_F(TimerWheelTest, ReschedulingEarlierMovesTheTimer) {
  Timer timer(owner_);
  wheel_.schedule(timer, kStart + 50ms);
  wheel_.schedule(timer, kStart + 5ms);
  EXPECT_EQ(wheel_.advance(kStart + 5ms), 1u);
  EXPECT_EQ(wheel_.advance(kStart + 100ms), 0u);
}

TEST_F(TimerWheelTest, PastDeadlineFiresAtTheNextTick) {
  wheel_.advance(kStart + 10ms);
  Timer timer(owner_);
  wheel_.schedule(timer, kStart + 1ms);
  EXPECT_EQ(wheel_.advance(kStart + 10ms), 0u);
  EXPECT_EQ(wheel_.advance(kStart + 11ms), 1u);
}

TEST_F(TimerWheelTest, ManyTimersInOneSlotAllFireInTheSameTick) {
  std::vector<std::unique_ptr<Timer>> timers;
  for (int i = 0; i < 1000; ++i) {
    timers.push_back(std::make_unique<Timer>(owner_));
    wheel_.schedule(*timers.back(), kStart + 3ms);
  }
  EXPECT_EQ(wheel_.advance(kStart + 3ms), 1000u);
  EXPECT_EQ(wheel_.size(), 0u);
}

TEST_F(TimerWheelTest, TimerOfALaterRoundInTheSameSlotWaitsForItsRound) {
  TimerWheel small(kStart, 1ms, 8);
  Timer soon(owner_, 1);
  Timer nextRound(owner_, 2);
  small.schedule(soon, kStart + 3ms);
  small.schedule(nextRound, kStart + 11ms);  // same slot, one turn later
  EXPECT_EQ(small.advance(kStart + 3ms), 1u);
  EXPECT_EQ(owner_.fired, std::vector<uint8_t>{1});
  EXPECT_EQ(small.advance(kStart + 10ms), 0u);
  EXPECT_EQ(small.advance(kStart + 11ms), 1u);
}

TEST_F(TimerWheelTest, OneOwnerTellsItsTimersApartById) {
  Timer connect(owner_, 1);
  Timer idle(owner_, 2);
  wheel_.schedule(idle, kStart + 2ms);
  wheel_.schedule(connect, kStart + 1ms);
  wheel_.advance(kStart + 5ms);
  EXPECT_EQ(owner_.fired, (std::vector<uint8_t>{1, 2}));
}

TEST_F(TimerWheelTest, HandlerCancellingAnotherTimerDueInTheSameTickStopsIt) {
  Timer first(owner_, 1);
  Timer second(owner_, 2);
  wheel_.schedule(first, kStart + 4ms);
  wheel_.schedule(second, kStart + 4ms);
  owner_.hook = [&](Timer& fired) { wheel_.cancel(fired.id() == 1 ? second : first); };
  EXPECT_EQ(wheel_.advance(kStart + 4ms), 1u);
  EXPECT_EQ(owner_.fired.size(), 1u);
  EXPECT_EQ(wheel_.size(), 0u);
}

TEST_F(TimerWheelTest, HandlerReschedulingAnotherDueTimerDefersIt) {
  Timer first(owner_, 1);
  Timer second(owner_, 2);
  wheel_.schedule(first, kStart + 4ms);
  wheel_.schedule(second, kStart + 4ms);
  owner_.hook = [&](Timer& fired) {
    if (owner_.fired.size() == 1) wheel_.schedule(fired.id() == 1 ? second : first, kStart + 9ms);
  };
  EXPECT_EQ(wheel_.advance(kStart + 8ms), 1u);
  EXPECT_EQ(wheel_.advance(kStart + 9ms), 1u);
}

TEST_F(TimerWheelTest, HandlerReschedulingItselfFiresPeriodically) {
  Timer periodic(owner_);
  TimePoint now = kStart;
  owner_.hook = [&](Timer& fired) { wheel_.schedule(fired, now + 5ms); };
  wheel_.schedule(periodic, now + 5ms);
  while (now < kStart + 50ms) wheel_.advance(now += 1ms);
  EXPECT_EQ(owner_.fired.size(), 10u);
}

TEST_F(TimerWheelTest, HandlerReschedulingItselfInThePastFiresOncePerTickNotForever) {
  Timer eager(owner_);
  owner_.hook = [&](Timer& fired) { wheel_.schedule(fired, kStart); };
  wheel_.schedule(eager, kStart);
  EXPECT_EQ(wheel_.advance(kStart + 20ms), 20u);
  EXPECT_TRUE(eager.armed());
}

TEST_F(TimerWheelTest, DestroyingAnArmedTimerCancelsIt) {
  auto timer = std::make_unique<Timer>(owner_);
  wheel_.schedule(*timer, kStart + 5ms);
  timer.reset();
  EXPECT_EQ(wheel_.size(), 0u);
  EXPECT_EQ(wheel_.advance(kStart + 10ms), 0u);
}

TEST_F(TimerWheelTest, HandlerMayDestroyItsOwnTimer) {
  auto timer = std::make_unique<Timer>(owner_);
  owner_.hook = [&](Timer&) { timer.reset(); };
  wheel_.schedule(*timer, kStart + 5ms);
  EXPECT_EQ(wheel_.advance(kStart + 5ms), 1u);
  EXPECT_EQ(timer, nullptr);
}

TEST_F(TimerWheelTest, HandlerDestroyingTheOwnerOfAnotherDueTimerCancelsThatTimer) {
  Timer killer(owner_, 1);
  auto victimOwner = std::make_unique<TimerRecorder>();
  auto victim = std::make_unique<Timer>(*victimOwner, 2);
  wheel_.schedule(killer, kStart + 5ms);
  wheel_.schedule(*victim, kStart + 5ms);
  bool victimFiredFirst = false;
  victimOwner->hook = [&](Timer&) { victimFiredFirst = true; };
  owner_.hook = [&](Timer&) {
    if (!victimFiredFirst) {
      victim.reset();
      victimOwner.reset();
    }
  };
  size_t fired = wheel_.advance(kStart + 5ms);
  EXPECT_EQ(fired, victimFiredFirst ? 2u : 1u);
  EXPECT_EQ(wheel_.size(), 0u);
}

TEST_F(TimerWheelTest, TimerOneHourAwayFiresAfterOneHour) {
  Timer timer(owner_);
  wheel_.schedule(timer, kStart + 1h);
  TimePoint now = kStart;
  while (now < kStart + 1h - 1s) EXPECT_EQ(wheel_.advance(now += 1s), 0u);
  EXPECT_EQ(wheel_.advance(kStart + 1h - 1ms), 0u);
  EXPECT_EQ(wheel_.advance(kStart + 1h), 1u);
}

TEST_F(TimerWheelTest, JumpLongerThanTheWheelFiresEverythingDueAndNothingElse) {
  Timer soon(owner_, 1);
  Timer later(owner_, 2);
  Timer farAway(owner_, 3);
  wheel_.schedule(soon, kStart + 1s);
  wheel_.schedule(later, kStart + 5min);
  wheel_.schedule(farAway, kStart + 1h);
  EXPECT_EQ(wheel_.advance(kStart + 10min), 2u);
  EXPECT_TRUE(farAway.armed());
  EXPECT_EQ(wheel_.advance(kStart + 1h - 1ms), 0u);
  EXPECT_EQ(wheel_.advance(kStart + 1h), 1u);
}

TEST_F(TimerWheelTest, JumpOfBillionsOfTicksDoesNotWalkEveryTick) {
  TimerWheel fine(kStart, 1ns, 1024);  // 10 minutes = 6e11 ticks
  std::vector<std::unique_ptr<Timer>> timers;
  for (int i = 0; i < 100; ++i) {
    timers.push_back(std::make_unique<Timer>(owner_));
    fine.schedule(*timers.back(), kStart + i * 1s);
  }
  EXPECT_EQ(fine.advance(kStart + 10min), 100u);
}

TEST_F(TimerWheelTest, HandlerSchedulingInThePastDuringAJumpFiresAtTheNextTick) {
  Timer timer(owner_);
  owner_.hook = [&](Timer& fired) {
    if (owner_.fired.size() == 1) wheel_.schedule(fired, kStart);
  };
  wheel_.schedule(timer, kStart + 1s);
  EXPECT_EQ(wheel_.advance(kStart + 10min), 1u);
  EXPECT_EQ(wheel_.advance(kStart + 10min + 1ms), 1u);
}

TEST_F(TimerWheelTest, TimeUntilNextIsEmptyWithoutTimers) {
  EXPECT_EQ(wheel_.timeUntilNext(kStart), std::nullopt);
}

TEST_F(TimerWheelTest, TimeUntilNextIsTheWaitForTheEarliestDeadline) {
  Timer a(owner_);
  Timer b(owner_);
  wheel_.schedule(a, kStart + 30ms);
  wheel_.schedule(b, kStart + 10ms);
  EXPECT_EQ(wheel_.timeUntilNext(kStart + 4ms), 6ms);
}

TEST_F(TimerWheelTest, TimeUntilNextRoundsUpToTheTickButNotBeyondIt) {
  Timer a(owner_);
  wheel_.schedule(a, kStart + 10ms + 300us);
  auto wait = wheel_.timeUntilNext(kStart);
  ASSERT_TRUE(wait.has_value());
  EXPECT_GE(*wait, 10ms + 300us);
  EXPECT_LE(*wait, 11ms);
}

TEST_F(TimerWheelTest, TimeUntilNextSkipsACancelledEarliestTimer) {
  Timer a(owner_);
  Timer b(owner_);
  wheel_.schedule(a, kStart + 10ms);
  wheel_.schedule(b, kStart + 20ms);
  EXPECT_EQ(wheel_.timeUntilNext(kStart), 10ms);
  wheel_.cancel(a);
  EXPECT_EQ(wheel_.timeUntilNext(kStart), 20ms);
}

// A bounded query only walks up to its limit. To make it walk at all, the
// hint must lag behind the earliest timer: cancel the timer the hint was on.
TEST_F(TimerWheelTest, TimeUntilNextWithALimitReportsTheLimitForAFarDeadline) {
  Timer near(owner_);
  Timer far(owner_);
  wheel_.schedule(near, kStart + 100ms);
  wheel_.schedule(far, kStart + 10s);
  EXPECT_EQ(wheel_.timeUntilNext(kStart, 500ms), 100ms);
  wheel_.cancel(near);
  EXPECT_EQ(wheel_.timeUntilNext(kStart, 500ms), 500ms);
  // The bounded scan leaves a correct hint: the exact answer is unchanged.
  EXPECT_EQ(wheel_.timeUntilNext(kStart), 10s);
}

TEST_F(TimerWheelTest, TimeUntilNextWithALimitSeesATimerScheduledBeforeItsHint) {
  Timer near(owner_);
  Timer far(owner_);
  wheel_.schedule(near, kStart + 100ms);
  wheel_.schedule(far, kStart + 10s);
  EXPECT_EQ(wheel_.timeUntilNext(kStart, 500ms), 100ms);
  wheel_.cancel(near);
  EXPECT_EQ(wheel_.timeUntilNext(kStart, 500ms), 500ms);
  Timer later(owner_);
  wheel_.schedule(later, kStart + 200ms);  // before the hint the scan left
  EXPECT_EQ(wheel_.timeUntilNext(kStart, 500ms), 200ms);
}

TEST_F(TimerWheelTest, TimersDueAfterABoundedScanStillFireOnTime) {
  Timer near(owner_, 1);
  Timer far(owner_, 2);
  wheel_.schedule(near, kStart + 100ms);
  wheel_.schedule(far, kStart + 2s);
  EXPECT_EQ(wheel_.timeUntilNext(kStart, 500ms), 100ms);
  wheel_.cancel(near);
  EXPECT_EQ(wheel_.timeUntilNext(kStart, 500ms), 500ms);
  EXPECT_EQ(wheel_.advance(kStart + 1999ms), 0u);
  EXPECT_EQ(wheel_.timeUntilNext(kStart + 1999ms, 500ms), 1ms);
  EXPECT_EQ(wheel_.advance(kStart + 2s), 1u);
  EXPECT_EQ(owner_.fired, std::vector<uint8_t>{2});
}

TEST_F(TimerWheelTest, TimeUntilNextFindsATimerBeyondOneTurn) {
  Timer a(owner_);
  wheel_.schedule(a, kStart + 1h);
  EXPECT_EQ(wheel_.timeUntilNext(kStart), 1h);
}

TEST_F(TimerWheelTest, TimeUntilNextIsZeroWhenATimerIsOverdue) {
  Timer a(owner_);
  wheel_.schedule(a, kStart + 10ms);
  EXPECT_EQ(wheel_.timeUntilNext(kStart + 25ms), 0ms);
}

TEST_F(TimerWheelTest, SleepingForTimeUntilNextAlwaysWakesToAFiringTimer) {
  std::mt19937_64 rng(11);
  std::vector<std::unique_ptr<Timer>> timers;
  for (int i = 0; i < 200; ++i) {
    timers.push_back(std::make_unique<Timer>(owner_));
    wheel_.schedule(*timers.back(), kStart + std::chrono::microseconds(rng() % 20'000'000));
  }
  TimePoint now = kStart;
  while (auto wait = wheel_.timeUntilNext(now)) {
    now += *wait;
    ASSERT_GT(wheel_.advance(now), 0u);
  }
  EXPECT_EQ(owner_.fired.size(), 200u);
}

TEST(TimerWheelLifetime, DestroyingTheWheelDisarmsItsTimers) {
  TimerRecorder owner;
  Timer timer(owner);
  {
    TimerWheel wheel(kStart);
    wheel.schedule(timer, kStart + 1s);
  }
  EXPECT_FALSE(timer.armed());
}

}  // namespace
}  // namespace ringlb
