// The rate-limit phase (docs/gateway.md): a route's `rate_limit` is a token
// bucket per key (client address, a header's value, or the whole route),
// refilled with `requests` tokens per `per` and holding at most `burst`. A
// request that finds no token is answered 429 with Retry-After.
//
// One SharedRateLimit per route serves every worker, so the limit holds for
// the whole process, not per worker:
//
// - Each bucket is one 64-bit atomic: its theoretical arrival time (GCRA,
//   the virtual-scheduling form of a token bucket): a request at `now` is
//   allowed when max(tat, now) + interval - now <= burst × interval, and then
//   stores that sum. One compare-and-swap per allowed request; a refusal
//   writes nothing. Keys live in RateLimitTable (rate_limit_table.h): lookup
//   is lock-free, only a new key takes a short per-shard mutex.
// - Accuracy: the buckets are exact (every take is one linearizable CAS on
//   the one bucket of its key; there are no per-worker leases to strand
//   tokens). Over any span of time T a key gets at most
//   burst + (T + d) / interval requests, where d bounds how stale a caller's
//   `now` may be by the time its CAS lands (microseconds; a preempted
//   caller). A stale `now` only ever refuses more, except right after the
//   bucket was full, where it can hand out d / interval tokens early.
//   Interval rounding: the interval is kept in quarter nanoseconds, so the
//   rate is at most 1 / (4 × interval in ns) too high (5e-8 at 200 req/s).
//   tests/unit/l7/gateway/rate_limit_threads_test.cc measures it: 2 and 4
//   threads hammering one key with a shared fake clock got exactly
//   burst + T / interval in every run (600 runs; the test allows -2/+1),
//   also while other threads churn the key table.
// - Memory: RateLimitTableOptions::maxKeys keys at most per route (100 000 by
//   default, about 4 MiB of slots allocated as keys arrive). A bucket that has
//   been full for its refill time plus one interval is idle: a new bucket
//   would answer the same, so its slot is reused. Keys beyond the bound share
//   one overflow bucket with the route's rate (see rate_limit_table.h).
// - This is the one shared atomic on the request path, by design: the limit
//   is process-wide. A hot key costs a contended cache line (see
//   bench/rate_limit_bench.cc), other keys do not touch each other.
// - Time: a monotonic clock in nanoseconds passed by the caller (tests use a
//   fake one). Times from 0 to 2^60 ns (36 years of uptime) are exact; others
//   are clamped. Callers on different threads must use the same clock.
//
// Thread rules: take() from any thread at once. Built on the main thread per
// config snapshot; the integrator keeps it across a reload when
// sameRateLimit() holds for the route's old and new settings. It must
// outlive every take() (the snapshot owns it).
#pragma once

#include <cstdint>
#include <string_view>

#include "config/model.h"
#include "l7/gateway/rate_limit_table.h"

namespace ringlb::l7 {

struct RateLimitVerdict {
  bool allowed = true;
  // Refused: seconds until a token is there, rounded up, at least 1 (the
  // value of Retry-After). 0 when allowed.
  uint32_t retryAfterSeconds = 0;
};

class SharedRateLimit {
 public:
  explicit SharedRateLimit(const config::RateLimitConfig& config,
                           const RateLimitTableOptions& options = {});

  // Takes a token from the bucket of `key` (see rateLimitKey()) at `nowNs`.
  RateLimitVerdict take(std::string_view key, int64_t nowNs);
  // What take() would answer, without taking (the bucket is not changed;
  // an unknown key gets a slot like in take()).
  RateLimitVerdict peek(std::string_view key, int64_t nowNs);

  const config::RateLimitConfig& config() const { return config_; }
  const RateLimitTable& table() const { return table_; }
  // Drops idle keys now (optional upkeep; the bound holds without it).
  void expireIdle(int64_t nowNs) { table_.expireIdle(ticks(nowNs)); }

  // Internal time unit: quarter nanoseconds.
  static constexpr int64_t kTicksPerNs = 4;
  int64_t intervalTicks() const { return interval_; }
  int64_t toleranceTicks() const { return tolerance_; }

 private:
  static int64_t ticks(int64_t nowNs);
  RateLimitVerdict decide(int64_t tat, int64_t now, int64_t& next) const;

  config::RateLimitConfig config_;
  int64_t interval_;   // ticks between two tokens (per / requests)
  int64_t tolerance_;  // burst × interval: how far ahead of now a bucket may run
  RateLimitTable table_;
  alignas(64) std::atomic<int64_t> routeBucket_;  // key = route: no table
};

// The same limit (requests, per, burst, key and header): a reload may keep
// the route's SharedRateLimit and its buckets.
bool sameRateLimit(const config::RateLimitConfig& a, const config::RateLimitConfig& b);

}  // namespace ringlb::l7
