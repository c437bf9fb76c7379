// CacheStore: the responses one route's cache holds (docs/cache.md), shared
// by every worker. Sharded by key: each shard has its own mutex, map and
// eviction list and an equal part of max_size. Eviction is CLOCK (second
// chance), an approximation of least recently used: a hit only sets its
// key's "referenced" flag, and the eviction hand spares a referenced key once
// (moving it to the front) before it drops the first one that was not used
// since. A lookup takes one shard's mutex for the find and that flag; the
// stored response itself is immutable and reference-counted, so it is sent
// without the lock and survives eviction while in use.
//
// A key (host and target) holds its variants (Vary): the caller's match
// function picks the one the request may use. The store also coordinates
// misses (request coalescing): the first miss of a key claims its fill,
// later ones wait for it, and a fill that ended without storing marks the
// key "pass" for a while so that requests for an uncacheable URL do not
// queue behind each other.
//
// Thread rules: every member from any thread at once.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/cache_registry.h"
#include "l7/cache/freshness.h"

namespace ringlb::l7::cache {

struct StoredResponse {
  uint16_t status = 200;
  std::string reason;
  // The fields to send (the backend's, after the gateway's compression
  // edits), without Age, Content-Length, Transfer-Encoding and
  // connection-specific fields.
  std::vector<OwnedField> fields;
  std::string body;
  Freshness freshness;
  std::string etag;                    // "" when none
  std::string lastModified;            // "" when none
  std::vector<std::string> varyNames;  // lower-cased, sorted
  std::string varyKey;                 // the storing request's side of varyNames
  // Accept-Encoding in varyKey is normalised to the route's choice of coding
  // (the gateway encoded it, or left it as is for every client); false when
  // the backend had encoded it itself: then to the codings the client takes.
  bool varyByRouteCoding = true;
  std::string host;    // lower-cased, as the client sent it (purge)
  std::string target;  // path and query as sent (purge)

  // Bytes counted against max_size: body, fields, key and bookkeeping.
  size_t charge() const;
};

using StoredPtr = std::shared_ptr<const StoredResponse>;

// "host\ntarget": the primary key.
std::string cacheKey(std::string_view host, std::string_view target);

class CacheStore final : public RouteCache {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kShards = 16;
  // How long a key whose fill was not storable skips coalescing.
  static constexpr Clock::duration kPassFor = std::chrono::seconds(10);

  explicit CacheStore(uint64_t maxBytes);
  CacheStore(const CacheStore&) = delete;
  CacheStore& operator=(const CacheStore&) = delete;

  // The first variant of `key` for which match(variant) holds; it becomes
  // the most recently used. Null when none.
  StoredPtr find(std::string_view key, const std::function<bool(const StoredResponse&)>& match);

  // Stores `response` under `key`, replacing a variant with the same Vary
  // names and key. Evicts keys of the shard (CLOCK) beyond its
  // budget (then the key's own older variants). A response larger than a
  // shard's budget (max_size / kShards) is not stored (false).
  bool insert(std::string_view key, StoredPtr response);

  // Removes the variant `response` if it is still stored (a copy found
  // unusable).
  void erase(std::string_view key, const StoredResponse* response);
  // Removes every variant of `key` (an unsafe request succeeded on it).
  void invalidate(std::string_view key);

  // A miss of `key` at `now`:
  //   Fill  the caller fetches it and must call endFill() once (FillTicket);
  //   Wait  another request is fetching it: look again a little later;
  //   Pass  fetch it alone without storing: the key was not storable lately,
  //         or the fill in flight is older than `lockTimeout`.
  enum class Claim : uint8_t { Fill, Wait, Pass };
  Claim claim(std::string_view key, Clock::time_point now, Clock::duration lockTimeout);
  // The fill of `key` ended; `stored`: its response is in the store. When
  // not, the key passes (no waiting) for kPassFor.
  void endFill(std::string_view key, bool stored, Clock::time_point now);
  // The fill of `key` broke off (the backend failed, the client went away):
  // nothing is known of the key, so the next miss fetches it again.
  void abandonFill(std::string_view key);

  // Drops the objects whose host is `host` (empty: any; a host without a
  // port also matches it with any port) and whose target starts with
  // `pathPrefix`. Returns how many responses were dropped.
  size_t purge(std::string_view host, std::string_view pathPrefix) override;

  uint64_t bytes() const override;
  uint64_t objects() const override;
  uint64_t evictions() const override;
  uint64_t maxBytes() const { return maxBytes_; }

 private:
  struct Entry;
  using Lru = std::list<Entry*>;
  struct Entry {
    std::string key;
    std::vector<StoredPtr> variants;
    size_t charge = 0;
    Lru::iterator lru;
    bool referenced = false;  // found since it was stored or last spared
  };
  struct Fill {
    Clock::time_point started{};
    Clock::time_point passUntil{};  // set: the key passes until then
    bool active = false;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct alignas(64) Shard {  // a cache line of its own: workers hit different shards
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::unique_ptr<Entry>, Hash, std::equal_to<>> entries;
    std::unordered_map<std::string, Fill, Hash, std::equal_to<>> fills;
    Lru lru;  // front: most recently stored or spared (CLOCK: second chance)
    uint64_t bytes = 0;
    uint64_t objects = 0;
    uint64_t evictions = 0;
  };

  Shard& shardOf(std::string_view key);
  void removeEntry(Shard& shard, Entry& entry);  // shard locked
  // Removes one variant and its charge (shard locked); the next variant.
  std::vector<StoredPtr>::iterator dropVariant(Shard& shard, Entry& entry,
                                               std::vector<StoredPtr>::iterator v);
  uint64_t sum(uint64_t Shard::*counter) const;  // over the shards, each locked in turn
  void evict(Shard& shard, Entry& fresh);        // shard locked; `fresh` stays

  uint64_t maxBytes_;
  uint64_t shardBudget_;
  Shard shards_[kShards];
};

// The miss a request owns: abandons the fill unless it was ended, so a
// request that fails or goes away never leaves waiters hanging.
class FillTicket {
 public:
  FillTicket() = default;
  FillTicket(std::shared_ptr<CacheStore> store, std::string key)
      : store_(std::move(store)), key_(std::move(key)) {}
  FillTicket(FillTicket&& other) noexcept = default;
  FillTicket& operator=(FillTicket&& other) noexcept;
  ~FillTicket() { abandon(); }

  explicit operator bool() const { return store_ != nullptr; }
  const CacheStore* store() const { return store_.get(); }
  void end(bool stored);
  void abandon();

 private:
  std::shared_ptr<CacheStore> store_;
  std::string key_;
};

}  // namespace ringlb::l7::cache
