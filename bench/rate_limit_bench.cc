// The rate-limit phase (l7/gateway/rate_limit.h): SharedRateLimit::take() on
// one hot key, on many keys, on the route bucket, with one and two threads
// sharing one limit (two workers). Each thread has its own fake clock moving
// 1 ns per call, so the clock costs nothing.
//
//   *Allowed  a limit far above the offered rate (and a burst of a second,
//             so the threads' clocks drifting apart changes nothing): every
//             call is a compare-and-swap, the most a take costs
//   *Refused  1 request per second: nearly every call reads and refuses
//   SipHash   hashing a 12-byte key alone (part of every take but Route)
#include <benchmark/benchmark.h>

#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "config/model.h"
#include "l7/gateway/rate_limit.h"
#include "l7/gateway/rate_limit_hash.h"

namespace ringlb::l7 {
namespace {

constexpr int64_t kStart = int64_t{1000} * 1'000'000'000;

enum class Verdicts : uint8_t { Allowed, Refused };

config::RateLimitConfig limitOf(Verdicts verdicts, config::RateLimitKey key) {
  config::RateLimitConfig c;
  c.key = key;
  if (verdicts == Verdicts::Allowed) {
    c.requests = std::numeric_limits<uint32_t>::max();
    c.per = std::chrono::milliseconds(1);
    c.burst = std::numeric_limits<uint32_t>::max();
  } else {
    c.requests = 1;
    c.per = std::chrono::seconds(1);
    c.burst = 100;
  }
  return c;
}

// One limit shared by the benchmark's threads, made by thread 0.
std::unique_ptr<SharedRateLimit> shared;

// Before the benchmark loop, whose start all threads wait for.
void setUp(const benchmark::State& state, Verdicts verdicts, config::RateLimitKey key) {
  if (state.thread_index() == 0) shared = std::make_unique<SharedRateLimit>(limitOf(verdicts, key));
}

std::vector<std::string> clientKeys(size_t n) {
  std::vector<std::string> keys;
  for (size_t i = 0; i < n; ++i) {
    keys.push_back("10." + std::to_string(i >> 16 & 255) + "." + std::to_string(i >> 8 & 255) +
                   "." + std::to_string(i & 255));
  }
  return keys;
}

void runOneKey(benchmark::State& state, Verdicts verdicts, config::RateLimitKey key) {
  setUp(state, verdicts, key);
  int64_t now = kStart;
  int64_t allowed = 0;
  for (auto _ : state) {
    ++now;
    allowed += shared->take("203.0.113.77", now).allowed;
  }
  state.counters["allowed%"] = benchmark::Counter(
      100.0 * static_cast<double>(allowed) / static_cast<double>(state.iterations()),
      benchmark::Counter::kAvgThreads);
}

// 50 000 client addresses in turn. Shared: every thread walks all of them
// (a client's requests spread over both workers). Disjoint: each thread its
// own share (a client stays on its connection's worker, the common case).
void runManyKeys(benchmark::State& state, bool disjoint) {
  setUp(state, Verdicts::Allowed, config::RateLimitKey::SourceIp);
  static const std::vector<std::string> keys = clientKeys(50'000);
  size_t share = disjoint ? keys.size() / static_cast<size_t>(state.threads()) : keys.size();
  size_t first = disjoint ? share * static_cast<size_t>(state.thread_index()) : 0;
  size_t i = static_cast<size_t>(state.thread_index()) * 7919 % share;
  int64_t now = kStart;
  for (auto _ : state) {
    ++now;
    i = i + 1 == share ? 0 : i + 1;
    benchmark::DoNotOptimize(shared->take(keys[first + i], now));
  }
}

void BM_RateLimitHotKeyAllowed(benchmark::State& state) {
  runOneKey(state, Verdicts::Allowed, config::RateLimitKey::SourceIp);
}
BENCHMARK(BM_RateLimitHotKeyAllowed)->Threads(1)->Threads(2)->UseRealTime();

void BM_RateLimitHotKeyRefused(benchmark::State& state) {
  runOneKey(state, Verdicts::Refused, config::RateLimitKey::SourceIp);
}
BENCHMARK(BM_RateLimitHotKeyRefused)->Threads(1)->Threads(2)->UseRealTime();

void BM_RateLimitRouteBucketAllowed(benchmark::State& state) {
  runOneKey(state, Verdicts::Allowed, config::RateLimitKey::Route);
}
BENCHMARK(BM_RateLimitRouteBucketAllowed)->Threads(1)->Threads(2)->UseRealTime();

void BM_RateLimitManyKeysShared(benchmark::State& state) { runManyKeys(state, false); }
BENCHMARK(BM_RateLimitManyKeysShared)->Threads(1)->Threads(2)->UseRealTime();

void BM_RateLimitManyKeysDisjoint(benchmark::State& state) { runManyKeys(state, true); }
BENCHMARK(BM_RateLimitManyKeysDisjoint)->Threads(2)->UseRealTime();

void BM_RateLimitSipHash(benchmark::State& state) {
  SipHashKey key = randomSipHashKey();
  std::string text = "203.0.113.77";
  for (auto _ : state) benchmark::DoNotOptimize(sipHash24(key, text));
}
BENCHMARK(BM_RateLimitSipHash);

}  // namespace
}  // namespace ringlb::l7
