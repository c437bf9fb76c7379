// Specification of the digest cache behind the basic-auth verifier.
#include "l7/gateway/auth_cache.h"

#include <gtest/gtest.h>

namespace ringlb::l7 {
namespace {

AuthCache::Digest digest(uint8_t n) {
  AuthCache::Digest d{};
  d[0] = n;
  d[31] = static_cast<uint8_t>(~n);
  return d;
}

TEST(AuthCache, RemembersWhatWasInserted) {
  AuthCache cache(4);
  EXPECT_FALSE(cache.contains(digest(1)));
  cache.insert(digest(1));
  cache.insert(digest(1));
  EXPECT_TRUE(cache.contains(digest(1)));
  EXPECT_FALSE(cache.contains(digest(2)));
  EXPECT_EQ(cache.size(), 1u);
}

TEST(AuthCache, StaysWithinItsCapacity) {
  AuthCache cache(8);
  for (int i = 0; i < 100; ++i) cache.insert(digest(static_cast<uint8_t>(i)));
  EXPECT_EQ(cache.size(), 8u);
  EXPECT_TRUE(cache.contains(digest(99)));
  EXPECT_FALSE(cache.contains(digest(0)));
}

TEST(AuthCache, ARecentlyUsedEntryGetsASecondChance) {
  AuthCache cache(3);
  cache.insert(digest(1));
  cache.insert(digest(2));
  cache.insert(digest(3));
  EXPECT_TRUE(cache.contains(digest(1)));  // referenced: survives the next eviction
  cache.insert(digest(4));
  EXPECT_TRUE(cache.contains(digest(1)));
  EXPECT_FALSE(cache.contains(digest(2)));
  EXPECT_TRUE(cache.contains(digest(3)));
  EXPECT_TRUE(cache.contains(digest(4)));
}

TEST(AuthCache, EvictsEvenWhenEveryEntryWasUsed) {
  AuthCache cache(2);
  cache.insert(digest(1));
  cache.insert(digest(2));
  EXPECT_TRUE(cache.contains(digest(1)));
  EXPECT_TRUE(cache.contains(digest(2)));
  cache.insert(digest(3));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.contains(digest(3)));
}

TEST(AuthCache, CapacityZeroRemembersNothing) {
  AuthCache cache(0);
  cache.insert(digest(1));
  EXPECT_FALSE(cache.contains(digest(1)));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(AuthCache, ClearForgetsEverything) {
  AuthCache cache(2);
  cache.insert(digest(1));
  cache.clear();
  EXPECT_FALSE(cache.contains(digest(1)));
  cache.insert(digest(2));
  cache.insert(digest(3));
  cache.insert(digest(4));
  EXPECT_EQ(cache.size(), 2u);
}

}  // namespace
}  // namespace ringlb::l7
