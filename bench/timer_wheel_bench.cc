// TimerWheel costs on the worker's hot path: arming and disarming a timeout
// per operation, and one advance() per loop iteration with many idle timers.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

#include "common/timer_wheel.h"

namespace ringlb {
namespace {

using namespace std::chrono_literals;
using TimePoint = TimerWheel::TimePoint;

const TimePoint kStart = TimePoint{} + 1000s;

class NoopHandler : public TimerHandler {
 public:
  void onTimer(Timer&) override {}
};

// Like an idle timeout: re-armed for the same span whenever it fires.
class RearmHandler : public TimerHandler {
 public:
  RearmHandler(TimerWheel& wheel, const TimePoint& now) : wheel_(wheel), now_(now) {}
  void onTimer(Timer& timer) override { wheel_.schedule(timer, now_ + 60s); }

 private:
  TimerWheel& wheel_;
  const TimePoint& now_;
};

void BM_ScheduleCancel(benchmark::State& state) {
  TimerWheel wheel(kStart);
  NoopHandler handler;
  Timer timer(handler);
  for (auto _ : state) {
    wheel.schedule(timer, kStart + 30s);
    wheel.cancel(timer);
  }
}
BENCHMARK(BM_ScheduleCancel);

// Moving an armed timer: what an idle timeout costs on every read.
void BM_Reschedule(benchmark::State& state) {
  TimerWheel wheel(kStart);
  NoopHandler handler;
  Timer timer(handler);
  int64_t i = 0;
  for (auto _ : state) wheel.schedule(timer, kStart + 30s + std::chrono::milliseconds(++i % 1000));
}
BENCHMARK(BM_Reschedule);

// One 1 ms advance with N timers armed over the next 60 s, re-armed on firing.
void BM_AdvanceOneTick(benchmark::State& state) {
  TimePoint now = kStart;
  TimerWheel wheel(now);
  RearmHandler handler(wheel, now);
  std::mt19937_64 rng(1);
  std::vector<std::unique_ptr<Timer>> timers;
  for (int64_t i = 0; i < state.range(0); ++i) {
    timers.push_back(std::make_unique<Timer>(handler));
    wheel.schedule(*timers.back(), now + std::chrono::milliseconds(rng() % 60'000));
  }
  size_t fired = 0;
  for (auto _ : state) fired += wheel.advance(now += 1ms);
  state.counters["fired_per_tick"] =
      benchmark::Counter(static_cast<double>(fired) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_AdvanceOneTick)->Arg(1000)->Arg(100'000);

// advance() plus timeUntilNext(), as an event loop does each iteration.
void BM_AdvanceAndTimeUntilNext(benchmark::State& state) {
  TimePoint now = kStart;
  TimerWheel wheel(now);
  RearmHandler handler(wheel, now);
  std::mt19937_64 rng(2);
  std::vector<std::unique_ptr<Timer>> timers;
  for (int64_t i = 0; i < state.range(0); ++i) {
    timers.push_back(std::make_unique<Timer>(handler));
    wheel.schedule(*timers.back(), now + std::chrono::milliseconds(rng() % 60'000));
  }
  for (auto _ : state) {
    wheel.advance(now += 1ms);
    benchmark::DoNotOptimize(wheel.timeUntilNext(now));
  }
}
BENCHMARK(BM_AdvanceAndTimeUntilNext)->Arg(100)->Arg(100'000);

// Keep-alive traffic: 50 connections idle-timed at 60 s; each request arms a
// 10 s header timer and cancels it, then the loop asks how long it may sleep.
// Arg 0: an unbounded query (rescans up to a whole turn each time); arg 1:
// bounded by the worker's 500 ms longest sleep.
void BM_KeepAliveRearmThenTimeUntilNext(benchmark::State& state) {
  TimePoint now = kStart;
  TimerWheel wheel(now);
  RearmHandler handler(wheel, now);
  std::vector<std::unique_ptr<Timer>> idle;
  for (int i = 0; i < 50; ++i) {
    idle.push_back(std::make_unique<Timer>(handler));
    wheel.schedule(*idle.back(), now + 60s);
  }
  Timer header(handler);
  bool bounded = state.range(0) != 0;
  size_t i = 0;
  for (auto _ : state) {
    now += 20us;
    wheel.advance(now);
    wheel.schedule(header, now + 10s);
    wheel.cancel(header);
    wheel.schedule(*idle[i++ % idle.size()], now + 60s);
    benchmark::DoNotOptimize(bounded ? wheel.timeUntilNext(now, 500ms) : wheel.timeUntilNext(now));
  }
}
BENCHMARK(BM_KeepAliveRearmThenTimeUntilNext)->Arg(0)->Arg(1);

}  // namespace
}  // namespace ringlb
