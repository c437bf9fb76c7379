// Specification of the rate-limit phase on one thread (l7/gateway/rate_limit.h):
// refill arithmetic, burst, Retry-After, keys, idle expiry and the memory
// bound. The multi-threaded accuracy is in rate_limit_threads_test.cc.
#include "l7/gateway/rate_limit.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "l7/gateway/rate_limit_hash.h"
#include "l7/gateway/rate_limit_key.h"

namespace ringlb::l7 {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kStart = 1000 * kSecond;  // a monotonic clock is rarely at 0

config::RateLimitConfig limit(uint32_t requests, config::Duration per, uint32_t burst) {
  config::RateLimitConfig c;
  c.requests = requests;
  c.per = per;
  c.burst = burst;
  return c;
}

RateLimitTableOptions pinned(size_t maxKeys = 100'000, size_t shards = 64) {
  RateLimitTableOptions o;
  o.maxKeys = maxKeys;
  o.shards = shards;
  o.hashKey = SipHashKey{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  return o;
}

int allowedOf(SharedRateLimit& rl, std::string_view key, int64_t now, int tries) {
  int allowed = 0;
  for (int i = 0; i < tries; ++i) allowed += rl.take(key, now).allowed ? 1 : 0;
  return allowed;
}

// When a key that took `takes` tokens at `at` (from a full bucket) becomes
// idle: its bucket is full again (one interval per token) and has stayed
// full for the tolerance plus one interval.
int64_t idleAt(const SharedRateLimit& rl, int64_t at, int takes = 1) {
  int64_t ticks = (takes + 1) * rl.intervalTicks() + rl.toleranceTicks();
  return at + (ticks + SharedRateLimit::kTicksPerNs - 1) / SharedRateLimit::kTicksPerNs;
}

TEST(SipHash24, MatchesTheReferenceVectors) {
  SipHashKey key{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
  std::string message;
  for (char i = 0; i < 16; ++i) message.push_back(i);
  EXPECT_EQ(sipHash24(key, message.substr(0, 0)), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(sipHash24(key, message.substr(0, 1)), 0x74f839c593dc67fdULL);
  EXPECT_EQ(sipHash24(key, message.substr(0, 7)), 0xab0200f58b01d137ULL);
  EXPECT_EQ(sipHash24(key, message.substr(0, 8)), 0x93f5f5799a932462ULL);
  EXPECT_EQ(sipHash24(key, message.substr(0, 15)), 0xa129ca6149be45e5ULL);
}

TEST(SharedRateLimit, ABurstPassesAtOnceThenTheLimitStrikes) {
  SharedRateLimit rl(limit(10, seconds(1), 5), pinned());
  EXPECT_EQ(allowedOf(rl, "a", kStart, 5), 5);
  EXPECT_FALSE(rl.take("a", kStart).allowed);
}

TEST(SharedRateLimit, OneTokenComesBackPerInterval) {
  SharedRateLimit rl(limit(10, seconds(1), 5), pinned());
  allowedOf(rl, "a", kStart, 5);
  EXPECT_FALSE(rl.take("a", kStart + 99 * kMs).allowed);
  EXPECT_TRUE(rl.take("a", kStart + 100 * kMs).allowed);
  EXPECT_FALSE(rl.take("a", kStart + 100 * kMs).allowed);
  EXPECT_EQ(allowedOf(rl, "a", kStart + 350 * kMs, 10), 2);
}

TEST(SharedRateLimit, ASteadyFloodGetsTheRatePlusTheBurst) {
  SharedRateLimit rl(limit(200, seconds(1), 20), pinned());
  int allowed = 0;
  // 10 s of a request every 100 µs (50 times the limit).
  for (int64_t t = 0; t <= 10 * kSecond; t += 100'000) allowed += rl.take("a", kStart + t).allowed;
  EXPECT_EQ(allowed, 20 + 200 * 10);
}

TEST(SharedRateLimit, AnIntervalThatIsNotAWholeNumberOfNanosecondsStaysExact) {
  SharedRateLimit rl(limit(3, seconds(1), 3), pinned());  // every 333 333 333.3 ns
  int allowed = 0;
  for (int64_t t = 0; t <= 30 * kSecond; t += kMs) allowed += rl.take("a", kStart + t).allowed;
  EXPECT_EQ(allowed, 3 + 3 * 30);
}

TEST(SharedRateLimit, ABurstOfOneLosesTheTimeARequestComesLate) {
  // A token every 333.3 ms, asked for each whole ms: each comes at 334 ms,
  // and a bucket of one token cannot keep the 0.7 ms it waited.
  SharedRateLimit rl(limit(3, seconds(1), 1), pinned());
  int allowed = 0;
  for (int64_t t = 0; t <= 30 * kSecond; t += kMs) allowed += rl.take("a", kStart + t).allowed;
  EXPECT_EQ(allowed, 1 + 30'000 / 334);
}

TEST(SharedRateLimit, TickRoundingStaysWithinTheDocumentedBound) {
  // 3 M/s: an interval of 333.3 ns, kept as 1333 quarter-ns ticks. The rate
  // may be 1 / (4 × 333) too high, never lower.
  SharedRateLimit rl(limit(3'000'000, seconds(1), 1000), pinned());
  int64_t allowed = 0;
  for (int64_t t = 0; t < kSecond / 10; t += 100) allowed += rl.take("a", kStart + t).allowed;
  int64_t expected = 1000 + 300'000;
  EXPECT_GE(allowed, expected - 1);
  EXPECT_LE(allowed, expected + 300'000 / (4 * 333) + 1);
}

TEST(SharedRateLimit, ALongIdleSpellRefillsNoMoreThanTheBurst) {
  SharedRateLimit rl(limit(10, seconds(1), 5), pinned());
  allowedOf(rl, "a", kStart, 5);
  EXPECT_EQ(allowedOf(rl, "a", kStart + 3600 * kSecond, 100), 5);
}

TEST(SharedRateLimit, RefusalsDoNotUseTokens) {
  SharedRateLimit rl(limit(10, seconds(1), 1), pinned());
  EXPECT_TRUE(rl.take("a", kStart).allowed);
  for (int64_t t = 0; t < 100 * kMs; t += kMs) EXPECT_FALSE(rl.take("a", kStart + t).allowed);
  EXPECT_TRUE(rl.take("a", kStart + 100 * kMs).allowed);
}

TEST(SharedRateLimit, PeekAnswersLikeTakeWithoutTaking) {
  SharedRateLimit bucket(limit(2, seconds(1), 2), pinned());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.peek("k", kStart).allowed);
  EXPECT_TRUE(bucket.take("k", kStart).allowed);
  EXPECT_TRUE(bucket.peek("k", kStart).allowed);
  EXPECT_TRUE(bucket.take("k", kStart).allowed);
  RateLimitVerdict peeked = bucket.peek("k", kStart);
  RateLimitVerdict taken = bucket.take("k", kStart);
  EXPECT_FALSE(peeked.allowed);
  EXPECT_EQ(peeked.retryAfterSeconds, taken.retryAfterSeconds);
  EXPECT_TRUE(bucket.peek("k", kStart + 500 * kMs).allowed);
  EXPECT_TRUE(bucket.peek("other", kStart).allowed);
}

TEST(SharedRateLimit, AnAbsentBurstIsTheRequestCount) {
  SharedRateLimit rl(limit(7, seconds(1), 0), pinned());
  EXPECT_EQ(allowedOf(rl, "a", kStart, 100), 7);
}

TEST(SharedRateLimit, RetryAfterIsTheWaitForOneTokenRoundedUp) {
  SharedRateLimit rl(limit(1, seconds(10), 1), pinned());
  EXPECT_TRUE(rl.take("a", kStart).allowed);
  EXPECT_EQ(rl.take("a", kStart).retryAfterSeconds, 10u);
  EXPECT_EQ(rl.take("a", kStart + 7200 * kMs).retryAfterSeconds, 3u);  // 2.8 s
  EXPECT_EQ(rl.take("a", kStart + 9999 * kMs).retryAfterSeconds, 1u);
  EXPECT_TRUE(rl.take("a", kStart + 10 * kSecond).allowed);
}

TEST(SharedRateLimit, RetryAfterIsAtLeastOneSecond) {
  SharedRateLimit rl(limit(100, seconds(1), 1), pinned());
  EXPECT_TRUE(rl.take("a", kStart).allowed);
  auto verdict = rl.take("a", kStart);
  EXPECT_FALSE(verdict.allowed);
  EXPECT_EQ(verdict.retryAfterSeconds, 1u);
}

TEST(SharedRateLimit, AnAllowedRequestHasNoRetryAfter) {
  SharedRateLimit rl(limit(1, seconds(1), 1), pinned());
  EXPECT_EQ(rl.take("a", kStart).retryAfterSeconds, 0u);
}

TEST(SharedRateLimit, RetryAfterCountsTheWholeBurstDebt) {
  // 1 per minute, burst 3: after 3 at once the next token is a minute away.
  SharedRateLimit rl(limit(1, std::chrono::minutes(1), 3), pinned());
  allowedOf(rl, "a", kStart, 3);
  EXPECT_EQ(rl.take("a", kStart).retryAfterSeconds, 60u);
}

TEST(SharedRateLimit, KeysHaveTheirOwnBuckets) {
  SharedRateLimit rl(limit(1, seconds(1), 1), pinned());
  EXPECT_TRUE(rl.take("192.0.2.1", kStart).allowed);
  EXPECT_FALSE(rl.take("192.0.2.1", kStart).allowed);
  EXPECT_TRUE(rl.take("192.0.2.2", kStart).allowed);
  EXPECT_TRUE(rl.take("", kStart).allowed);
}

TEST(SharedRateLimit, ARouteKeyIsOneBucketWhateverTheKeyString) {
  auto c = limit(1, seconds(1), 1);
  c.key = config::RateLimitKey::Route;
  SharedRateLimit rl(c, pinned());
  EXPECT_TRUE(rl.take("api", kStart).allowed);
  EXPECT_FALSE(rl.take("other", kStart).allowed);
  EXPECT_EQ(rl.table().keyCount(), 0u);
}

TEST(SharedRateLimit, ClockValuesOutOfRangeAreClampedNotUndefined) {
  SharedRateLimit rl(limit(1, seconds(1), 1), pinned());
  EXPECT_TRUE(rl.take("a", 0).allowed);
  EXPECT_FALSE(rl.take("a", -5).allowed);
  EXPECT_TRUE(rl.take("b", std::numeric_limits<int64_t>::max()).allowed);
  EXPECT_FALSE(rl.take("b", std::numeric_limits<int64_t>::max()).allowed);
  EXPECT_TRUE(rl.take("c", std::numeric_limits<int64_t>::min()).allowed);
}

TEST(SharedRateLimit, ExtremeSettingsNeitherOverflowNorCrash) {
  uint32_t most = std::numeric_limits<uint32_t>::max();
  SharedRateLimit fast(limit(most, milliseconds(1), most), pinned());
  EXPECT_EQ(allowedOf(fast, "a", kStart, 1000), 1000);
  SharedRateLimit slow(limit(1, milliseconds(std::numeric_limits<int64_t>::max()), most), pinned());
  EXPECT_TRUE(slow.take("a", kStart).allowed);
  SharedRateLimit zero(limit(0, milliseconds(0), 0), pinned());
  EXPECT_TRUE(zero.take("a", kStart).allowed);
  SharedRateLimit yearly(limit(1, std::chrono::hours(24 * 365), 1), pinned());
  EXPECT_TRUE(yearly.take("a", kStart).allowed);
  EXPECT_EQ(yearly.take("a", kStart).retryAfterSeconds, 365u * 24 * 3600);
}

TEST(SharedRateLimitMemory, KeysBeyondTheBoundShareTheOverflowBucket) {
  SharedRateLimit rl(limit(1, seconds(1), 1), pinned(1, 1));
  EXPECT_TRUE(rl.take("a", kStart).allowed);   // the one key the table holds
  EXPECT_TRUE(rl.take("b", kStart).allowed);   // the overflow bucket, fresh
  EXPECT_FALSE(rl.take("c", kStart).allowed);  // the overflow bucket, empty
  EXPECT_FALSE(rl.take("a", kStart).allowed);
  EXPECT_EQ(rl.table().keyCount(), 1u);
  EXPECT_EQ(rl.table().overflowCount(), 2u);
}

TEST(SharedRateLimitMemory, AnIdleKeyMakesRoomForANewOne) {
  SharedRateLimit rl(limit(10, seconds(1), 2), pinned(1, 1));
  EXPECT_TRUE(rl.take("a", kStart).allowed);
  int64_t idle = idleAt(rl, kStart);
  EXPECT_TRUE(rl.take("b", idle - 1).allowed);  // a is not idle yet: the overflow bucket
  EXPECT_EQ(rl.table().overflowCount(), 1u);
  EXPECT_EQ(allowedOf(rl, "c", idle, 5), 2);  // a's slot, as a full bucket
  EXPECT_EQ(rl.table().overflowCount(), 1u);
  EXPECT_EQ(rl.table().keyCount(), 1u);
}

TEST(SharedRateLimitMemory, AKeyThatCameBackAfterExpiryStartsFull) {
  SharedRateLimit rl(limit(10, seconds(1), 3), pinned(1, 1));
  allowedOf(rl, "a", kStart, 3);
  int64_t later = idleAt(rl, kStart, 3);
  EXPECT_TRUE(rl.take("b", later).allowed);  // takes a's slot
  EXPECT_EQ(rl.table().overflowCount(), 0u);
  EXPECT_EQ(allowedOf(rl, "a", idleAt(rl, later), 10), 3);
  EXPECT_EQ(rl.table().overflowCount(), 0u);
}

TEST(SharedRateLimitMemory, ExpireIdleDropsEveryIdleKey) {
  SharedRateLimit rl(limit(10, seconds(1), 1), pinned(1000, 4));
  for (int i = 0; i < 100; ++i) rl.take(std::string("k").append(std::to_string(i)), kStart);
  EXPECT_EQ(rl.table().keyCount(), 100u);
  rl.expireIdle(idleAt(rl, kStart) - 1);
  EXPECT_EQ(rl.table().keyCount(), 100u);
  rl.expireIdle(idleAt(rl, kStart));
  EXPECT_EQ(rl.table().keyCount(), 0u);
}

TEST(SharedRateLimitMemory, AFloodOfDistinctKeysStaysWithinTheBound) {
  SharedRateLimit rl(limit(1, seconds(1), 1), pinned(256, 4));
  size_t slotBound = rl.table().capacity() * 2 * 16;
  for (int i = 0; i < 100'000; ++i)
    rl.take(std::string("flood-").append(std::to_string(i)), kStart + i);
  EXPECT_LE(rl.table().keyCount(), 256u);
  EXPECT_GE(rl.table().keyCount(), 200u);  // the table is used, not skipped
  EXPECT_LE(rl.table().slotBytes(), slotBound);
  EXPECT_GT(rl.table().overflowCount(), 99'000u);
}

TEST(SharedRateLimitMemory, KeysThatComeAndGoAreServedByTheirOwnBuckets) {
  // Rounds of 500 new keys, each round after the previous went idle: the
  // table reuses slots and never needs the overflow bucket.
  SharedRateLimit rl(limit(10, seconds(1), 1), pinned(4096, 64));
  int64_t now = kStart;
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 500; ++i) {
      EXPECT_TRUE(rl.take(std::string("r")
                              .append(std::to_string(round))
                              .append("-")
                              .append(std::to_string(i)),
                          now)
                      .allowed);
    }
    now = idleAt(rl, now);
  }
  EXPECT_EQ(rl.table().overflowCount(), 0u);
  EXPECT_LE(rl.table().keyCount(), 4096u);
}

TEST(SharedRateLimitMemory, NoRoomForKeysMeansOneBucketForAll) {
  SharedRateLimit rl(limit(1, seconds(1), 1), pinned(0, 64));
  EXPECT_TRUE(rl.take("a", kStart).allowed);
  EXPECT_FALSE(rl.take("b", kStart).allowed);
  EXPECT_EQ(rl.table().keyCount(), 0u);
}

TEST(SharedRateLimitMemory, NoTableSlotsUntilAKeyArrives) {
  SharedRateLimit rl(limit(1, seconds(1), 1), pinned());
  EXPECT_EQ(rl.table().slotBytes(), 0u);
  rl.take("a", kStart);
  EXPECT_GT(rl.table().slotBytes(), 0u);
  EXPECT_LE(rl.table().slotBytes(), 64u * 1024);  // one shard of 64
}

TEST(SameRateLimit, AnyChangedSettingMakesANewLimit) {
  auto a = limit(10, seconds(1), 5);
  EXPECT_TRUE(sameRateLimit(a, a));
  auto b = a;
  b.burst = 6;
  EXPECT_FALSE(sameRateLimit(a, b));
  b = a;
  b.per = seconds(2);
  EXPECT_FALSE(sameRateLimit(a, b));
  b = a;
  b.key = config::RateLimitKey::Header;
  b.headerName = "x-api-key";
  EXPECT_FALSE(sameRateLimit(a, b));
}

TEST(RateLimitKey, SourceIpDropsThePort) {
  config::RateLimitConfig c;
  c.key = config::RateLimitKey::SourceIp;
  EXPECT_EQ(rateLimitKey(c, "192.0.2.1:5000", {}, "r"), "192.0.2.1");
  EXPECT_EQ(rateLimitKey(c, "192.0.2.1", {}, "r"), "192.0.2.1");
  EXPECT_EQ(rateLimitKey(c, "[2001:db8::1]:443", {}, "r"), "2001:db8::1");
  EXPECT_EQ(rateLimitKey(c, "2001:db8::1", {}, "r"), "2001:db8::1");
  EXPECT_EQ(rateLimitKey(c, "[2001:db8::1", {}, "r"), "[2001:db8::1");
  EXPECT_EQ(rateLimitKey(c, "", {}, "r"), "");
}

TEST(RateLimitKey, AnIpv4MappedAddressIsTheIpv4Address) {
  config::RateLimitConfig c;
  EXPECT_EQ(rateLimitKey(c, "[::ffff:192.0.2.1]:5000", {}, "r"), "192.0.2.1");
  EXPECT_EQ(rateLimitKey(c, "::FFFF:192.0.2.1", {}, "r"), "192.0.2.1");
  EXPECT_EQ(rateLimitKey(c, "::ffff:c000:201", {}, "r"), "::ffff:c000:201");
}

TEST(RateLimitKey, AHeaderKeyIsTheFirstValueOrEmpty) {
  config::RateLimitConfig c;
  c.key = config::RateLimitKey::Header;
  c.headerName = "x-api-key";
  std::vector<http::HeaderView> headers = {{"Host", "a"}, {"X-API-Key", "k1"}, {"x-api-key", "k2"}};
  EXPECT_EQ(rateLimitKey(c, "192.0.2.1:1", headers, "r"), "k1");
  headers = {{"Host", "a"}};
  EXPECT_EQ(rateLimitKey(c, "192.0.2.1:1", headers, "r"), "");
}

TEST(RateLimitKey, ARouteKeyIsTheRouteName) {
  config::RateLimitConfig c;
  c.key = config::RateLimitKey::Route;
  EXPECT_EQ(rateLimitKey(c, "192.0.2.1:1", {}, "api"), "api");
}

}  // namespace
}  // namespace ringlb::l7
