// TimerWheel: a hashed timing wheel for one thread's timeouts (connect, idle,
// header read, health interval).
//
// - Timers are intrusive: a Timer lives inside its owner, so scheduling never
//   allocates. schedule, re-schedule and cancel are O(1).
// - Time is passed in (steady_clock time points), so tests drive a fake clock.
// - A timer fires at the first advance(now) whose tick has reached its
//   deadline: never before the deadline, at most one tick after it.
// - Deadlines beyond slots x tick wrap around the wheel: each timer keeps its
//   absolute due tick and a slot visit skips entries of later rounds. That
//   walk is the main cost of a tick: 100k timers over 60 s put ~25 entries in
//   a 4096-slot wheel, ~3 us per 1 ms tick (bench/timer_wheel_bench.cc).
// - advance() over a gap longer than the wheel visits every slot once instead
//   of every tick, so a 10-minute pause costs O(slots + timers), not 600k steps.
//
// Thread rules: a wheel and all timers scheduled on it belong to one thread.
// A handler runs inside advance() and may schedule, cancel or destroy any
// timer (its own, its owner, other timers due in the same tick), but must not
// destroy the wheel.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace ringlb {

class Timer;
class TimerWheel;

// Receives expirations. One owner may hold several timers and tell them apart
// by Timer::id().
class TimerHandler {
 public:
  virtual ~TimerHandler() = default;
  // Called after `timer` has been disarmed; the handler may re-arm it.
  virtual void onTimer(Timer& timer) = 0;
};

// The link of an intrusive circular list; a wheel slot is a self-linked hook.
struct TimerHook {
  TimerHook* prev = this;
  TimerHook* next = this;

  TimerHook() = default;
  TimerHook(const TimerHook&) = delete;
  TimerHook& operator=(const TimerHook&) = delete;

  bool linked() const { return next != this; }
  void unlink();
  void linkBefore(TimerHook& pos);
};

class Timer : private TimerHook {
 public:
  explicit Timer(TimerHandler& owner, uint8_t id = 0) : owner_(&owner), id_(id) {}
  // An armed timer cancels itself, so a dying owner leaves no dangling entry.
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  bool armed() const { return wheel_ != nullptr; }
  uint8_t id() const { return id_; }
  TimerHandler& owner() const { return *owner_; }

 private:
  friend class TimerWheel;

  TimerHandler* owner_;
  TimerWheel* wheel_ = nullptr;  // set while armed
  uint64_t dueTick_ = 0;
  uint8_t id_;
};

class TimerWheel {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  using Duration = Clock::duration;

  // `slots` is rounded up to a power of two. Ticks count from `now`.
  explicit TimerWheel(TimePoint now, Duration tick = std::chrono::milliseconds(1),
                      size_t slots = 4096);
  // Disarms the timers still scheduled (they are not fired).
  ~TimerWheel();
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // Arms `timer` to fire once at `deadline`; an armed timer is moved. A
  // deadline already passed fires at the next tick.
  void schedule(Timer& timer, TimePoint deadline);
  // Disarms `timer`; a no-op when it is not armed.
  void cancel(Timer& timer);
  bool armed(const Timer& timer) const { return timer.wheel_ == this; }
  size_t size() const { return armed_; }

  // Fires every timer whose deadline is <= now; returns how many fired.
  size_t advance(TimePoint now);
  // How long the event loop may sleep: the wait until the earliest deadline,
  // rounded up to its tick (never more than one tick late), zero when one is
  // already due, nullopt when no timer is armed. With `limit`, a deadline
  // further away than that may report `limit`, as the scan stops there: a loop
  // that never sleeps longer than `limit` then pays for `limit / tick` slots
  // at most, not a whole turn (keep-alive traffic that re-arms and cancels
  // timers would otherwise rescan the wheel on every iteration). Amortised
  // O(1): it keeps a lower bound of the earliest due tick and scans forward.
  std::optional<Duration> timeUntilNext(TimePoint now, Duration limit = Duration::max());

  Duration tick() const { return tick_; }

 private:
  uint64_t tickAtOrAfter(TimePoint t) const;  // first tick whose start is >= t
  uint64_t tickOf(TimePoint t) const;         // the tick containing t
  TimePoint startOf(uint64_t tick) const { return origin_ + tick_ * tick; }
  TimerHook& slotOf(uint64_t tick) { return slots_[tick & mask_]; }
  void link(Timer& timer);
  void collectDue(TimerHook& slot, uint64_t upTo, TimerHook& due);
  size_t fire(TimerHook& due);
  size_t advanceStepwise(uint64_t target);
  size_t advanceJump(uint64_t target);

  TimePoint origin_;
  Duration tick_;
  std::vector<TimerHook> slots_;
  uint64_t mask_;
  uint64_t current_ = 0;       // every timer due at or before this tick has fired
  uint64_t earliestHint_ = 0;  // no armed timer is due before this tick
  size_t armed_ = 0;
};

}  // namespace ringlb
