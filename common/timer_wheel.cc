#include "common/timer_wheel.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <limits>

namespace ringlb {

void TimerHook::unlink() {
  prev->next = next;
  next->prev = prev;
  prev = next = this;
}

void TimerHook::linkBefore(TimerHook& pos) {
  prev = pos.prev;
  next = &pos;
  pos.prev->next = this;
  pos.prev = this;
}

Timer::~Timer() {
  if (wheel_ != nullptr) wheel_->cancel(*this);
}

TimerWheel::TimerWheel(TimePoint now, Duration tick, size_t slots)
    : origin_(now),
      tick_(tick),
      slots_(std::bit_ceil(std::max<size_t>(slots, 1))),
      mask_(slots_.size() - 1) {
  assert(tick > Duration::zero());
}

TimerWheel::~TimerWheel() {
  for (TimerHook& slot : slots_) {
    while (slot.linked()) {
      Timer& timer = static_cast<Timer&>(*slot.next);
      timer.unlink();
      timer.wheel_ = nullptr;
    }
  }
}

uint64_t TimerWheel::tickOf(TimePoint t) const {
  if (t <= origin_) return 0;
  return static_cast<uint64_t>((t - origin_) / tick_);
}

uint64_t TimerWheel::tickAtOrAfter(TimePoint t) const {
  if (t <= origin_) return 0;
  Duration d = t - origin_;
  auto ticks = static_cast<uint64_t>(d / tick_);
  return d % tick_ == Duration::zero() ? ticks : ticks + 1;
}

void TimerWheel::schedule(Timer& timer, TimePoint deadline) {
  if (timer.wheel_ == this) {
    timer.unlink();  // a move: stays counted as armed
  } else {
    assert(timer.wheel_ == nullptr && "timer armed on another wheel");
    timer.wheel_ = this;
    if (armed_++ == 0) earliestHint_ = std::numeric_limits<uint64_t>::max();
  }
  // Ticks up to current_ have been processed: a past deadline fires next tick.
  timer.dueTick_ = std::max(tickAtOrAfter(deadline), current_ + 1);
  earliestHint_ = std::min(earliestHint_, timer.dueTick_);
  link(timer);
}

void TimerWheel::link(Timer& timer) { timer.linkBefore(slotOf(timer.dueTick_)); }

void TimerWheel::cancel(Timer& timer) {
  if (timer.wheel_ != this) return;
  timer.unlink();
  timer.wheel_ = nullptr;
  --armed_;
}

size_t TimerWheel::advance(TimePoint now) {
  uint64_t target = tickOf(now);
  if (target <= current_) return 0;
  if (target - current_ > slots_.size()) return advanceJump(target);
  return advanceStepwise(target);
}

size_t TimerWheel::advanceStepwise(uint64_t target) {
  size_t fired = 0;
  while (current_ < target) {
    if (armed_ == 0 || earliestHint_ > target) {
      current_ = target;  // nothing can be due before the hint
      break;
    }
    current_ = std::max(current_ + 1, earliestHint_);
    earliestHint_ = current_ + 1;  // handlers' schedules can only lower it to here
    TimerHook due;
    collectDue(slotOf(current_), current_, due);
    fired += fire(due);
  }
  return fired;
}

// The gap is longer than one turn: every slot is visited once and everything
// due by `target` fires. The firing order across slots is then unspecified.
size_t TimerWheel::advanceJump(uint64_t target) {
  uint64_t first = current_ + 1;
  current_ = target;
  earliestHint_ = target + 1;
  size_t fired = 0;
  for (uint64_t i = 0; i < slots_.size(); ++i) {
    TimerHook due;
    collectDue(slotOf(first + i), target, due);
    fired += fire(due);
  }
  return fired;
}

void TimerWheel::collectDue(TimerHook& slot, uint64_t upTo, TimerHook& due) {
  TimerHook* hook = slot.next;
  while (hook != &slot) {
    TimerHook* next = hook->next;
    if (static_cast<Timer*>(hook)->dueTick_ <= upTo) {
      hook->unlink();
      hook->linkBefore(due);
    }
    hook = next;
  }
}

// Pops one timer at a time: a handler may cancel, move or destroy any timer
// still waiting in `due`, which simply leaves the list.
size_t TimerWheel::fire(TimerHook& due) {
  size_t fired = 0;
  while (due.linked()) {
    Timer& timer = static_cast<Timer&>(*due.next);
    timer.unlink();
    timer.wheel_ = nullptr;
    --armed_;
    ++fired;
    timer.owner_->onTimer(timer);
  }
  return fired;
}

std::optional<TimerWheel::Duration> TimerWheel::timeUntilNext(TimePoint now, Duration limit) {
  if (armed_ == 0) return std::nullopt;
  uint64_t start = std::max(earliestHint_, current_ + 1);
  uint64_t end = start + slots_.size();
  bool bounded = limit < tick_ * static_cast<int64_t>(slots_.size());
  if (bounded) end = std::min(end, std::max(start, tickAtOrAfter(now + limit)) + 1);
  uint64_t earliest = std::numeric_limits<uint64_t>::max();
  bool found = false;
  for (uint64_t t = start; t < end; ++t) {
    TimerHook& slot = slotOf(t);
    for (TimerHook* hook = slot.next; hook != &slot; hook = hook->next) {
      earliest = std::min(earliest, static_cast<Timer*>(hook)->dueTick_);
    }
    if (earliest == t) {  // no earlier tick holds a timer
      found = true;
      break;
    }
  }
  if (!found && bounded) {
    // Every tick in [start, end) was visited without a timer due there.
    earliestHint_ = end;
    return limit;
  }
  // Only timers being fired right now (inside advance) are not in a slot.
  if (earliest == std::numeric_limits<uint64_t>::max()) return Duration::zero();
  earliestHint_ = earliest;
  TimePoint wake = startOf(earliest);
  return wake > now ? wake - now : Duration::zero();
}

}  // namespace ringlb
