#include "l7/gateway/rate_limit.h"

#include <algorithm>
#include <limits>

namespace ringlb::l7 {
namespace {

constexpr int64_t kMaxNowNs = int64_t{1} << 60;
constexpr int64_t kMaxTolerance = int64_t{1} << 61;
constexpr int64_t kTicksPerSecond = 1'000'000'000 * SharedRateLimit::kTicksPerNs;
constexpr int64_t kTicksPerMs = 1'000'000 * SharedRateLimit::kTicksPerNs;

// per / requests in ticks, at least one. The loader guarantees requests >= 1
// and per > 0; this stays defined for anything.
int64_t intervalOf(const config::RateLimitConfig& c) {
  int64_t perMs = std::clamp<int64_t>(c.per.count(), 0, kMaxTolerance / kTicksPerMs);
  return std::max<int64_t>(1, perMs * kTicksPerMs / std::max<uint32_t>(1, c.requests));
}

// burst 0 (a config not through the loader) means "absent": `requests`.
int64_t toleranceOf(int64_t interval, const config::RateLimitConfig& c) {
  int64_t b = std::max<uint32_t>(1, c.burst != 0 ? c.burst : c.requests);
  return interval > kMaxTolerance / b ? kMaxTolerance : interval * b;
}

}  // namespace

SharedRateLimit::SharedRateLimit(const config::RateLimitConfig& config,
                                 const RateLimitTableOptions& options)
    : config_(config),
      interval_(intervalOf(config)),
      tolerance_(toleranceOf(interval_, config)),
      // A bucket full for tolerance + interval is idle; sweeping a full shard
      // more often than each millisecond would only burn CPU.
      table_(options, tolerance_ + interval_, std::max(tolerance_ + interval_, kTicksPerMs)),
      routeBucket_(std::numeric_limits<int64_t>::min() / 2) {}

int64_t SharedRateLimit::ticks(int64_t nowNs) {
  return std::clamp<int64_t>(nowNs, 0, kMaxNowNs) * kTicksPerNs;
}

RateLimitVerdict SharedRateLimit::decide(int64_t tat, int64_t now, int64_t& next) const {
  next = std::max(tat, now) + interval_;
  if (next - now <= tolerance_) return {true, 0};
  // The next token is there when now reaches next - tolerance.
  int64_t wait = next - tolerance_ - now;
  int64_t seconds = std::max<int64_t>(1, (wait + kTicksPerSecond - 1) / kTicksPerSecond);
  return {false, static_cast<uint32_t>(std::min<int64_t>(seconds, UINT32_MAX))};
}

RateLimitVerdict SharedRateLimit::take(std::string_view key, int64_t nowNs) {
  int64_t now = ticks(nowNs);
  RateLimitVerdict verdict;
  auto step = [&](int64_t tat, int64_t& next) {
    verdict = decide(tat, now, next);
    return verdict.allowed;
  };
  if (config_.key == config::RateLimitKey::Route) {
    RateLimitTable::updateCell(routeBucket_, step);
  } else {
    table_.update(key, now, step);
  }
  return verdict;
}

RateLimitVerdict SharedRateLimit::peek(std::string_view key, int64_t nowNs) {
  int64_t now = ticks(nowNs);
  RateLimitVerdict verdict;
  auto step = [&](int64_t tat, int64_t& next) {
    verdict = decide(tat, now, next);
    return false;  // a refusal writes nothing
  };
  if (config_.key == config::RateLimitKey::Route) {
    RateLimitTable::updateCell(routeBucket_, step);
  } else {
    table_.update(key, now, step);
  }
  return verdict;
}

bool sameRateLimit(const config::RateLimitConfig& a, const config::RateLimitConfig& b) {
  return a.requests == b.requests && a.per == b.per && a.burst == b.burst && a.key == b.key &&
         a.headerName == b.headerName;
}

}  // namespace ringlb::l7
