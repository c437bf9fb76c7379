// What one exchange on a route with `cache` knows about the cache
// (exchange_cache.cc; docs/cache.md): the route's store, the key, the copy
// found, the fill it owns for coalesced misses, and the response it is
// capturing on its way to the client.
//
// Worker thread only; owned by its Exchange.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/model.h"
#include "l7/cache/cache_store.h"

namespace ringlb::l7 {

// The `result` of ringlb_cache_requests_total, in kCacheResults' order.
enum class CacheResult : uint8_t { Hit, Miss, Stale, Revalidated, Bypass };
// The `result` of ringlb_cache_refreshes_total, in kCacheRefreshResults' order.
enum class CacheRefreshResult : uint8_t { Revalidated, Fetched, Failed };

struct ExchangeCache {
  std::shared_ptr<cache::CacheStore> store;
  std::string key;
  cache::StoredPtr stored;  // the copy found: stale ones are validated or served on errors
  cache::FillTicket fill;   // this request fetches the key for the waiting others
  CacheResult result = CacheResult::Bypass;
  std::string status;  // the Cache-Status value
  std::vector<config::HeaderEdit> validators;
  bool validating = false;   // the upstream request carries the copy's validators
  bool waiting = false;      // coalesced: looking again for another request's fill
  bool collapsed = false;    // it waited
  bool varyMiss = false;     // the key is stored, not this variant
  bool invalidates = false;  // an unsafe method: a success drops the key's copies
  std::chrono::steady_clock::time_point waitUntil{};
  cache::Seconds requestTime = 0;
  // The response being captured for the store (null: not storing it).
  std::unique_ptr<cache::StoredResponse> capture;
  uint64_t maxObjectSize = 0;
};

// A stale-while-revalidate refresh, handed from the request that claimed it
// (and answered its client from the stale copy) to a background exchange
// (background_fetch.h): the key, the copy to validate, the claimed fill,
// and what the gateway's phases gave the request (the background exchange
// does not authenticate or count against rate limits again).
struct CacheRefresh {
  std::string key;
  cache::StoredPtr stored;
  cache::FillTicket fill;
  std::vector<config::HeaderEdit> claimHeaders;
  std::string authSubject;
};

}  // namespace ringlb::l7
