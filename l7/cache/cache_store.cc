#include "l7/cache/cache_store.h"

#include <algorithm>

#include "common/ascii.h"

namespace ringlb::l7::cache {
namespace {

// Bookkeeping per stored response beyond its strings: the object, its
// control block, the vector slots and the map and list nodes of its key.
constexpr size_t kOverhead = 256;

bool sameVariant(const StoredResponse& a, const StoredResponse& b) {
  return a.varyNames == b.varyNames && a.varyKey == b.varyKey;
}

// "example.com" matches "example.com" and "example.com:8080".
bool hostMatches(std::string_view wanted, std::string_view stored) {
  if (wanted.empty()) return true;
  if (equalsIgnoreCase(wanted, stored)) return true;
  bool hasPort = wanted.front() == '[' ? wanted.back() != ']'  // an IPv6 literal
                                       : wanted.find(':') != std::string_view::npos;
  return !hasPort && stored.size() > wanted.size() && stored[wanted.size()] == ':' &&
         equalsIgnoreCase(stored.substr(0, wanted.size()), wanted);
}

}  // namespace

size_t StoredResponse::charge() const {
  size_t n = kOverhead + body.size() + reason.size() + etag.size() + lastModified.size() +
             varyKey.size() + host.size() * 2 + target.size() * 2;
  for (const auto& f : fields) n += f.name.size() + f.value.size() + 2 * sizeof(std::string);
  for (const auto& v : varyNames) n += v.size() + sizeof(std::string);
  return n;
}

std::string cacheKey(std::string_view host, std::string_view target) {
  std::string key;
  key.reserve(host.size() + 1 + target.size());
  for (char c : host) key.push_back(asciiLower(c));
  key.push_back('\n');
  key.append(target);
  return key;
}

CacheStore::CacheStore(uint64_t maxBytes)
    : maxBytes_(maxBytes), shardBudget_(std::max<uint64_t>(1, maxBytes / kShards)) {}

CacheStore::Shard& CacheStore::shardOf(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

StoredPtr CacheStore::find(std::string_view key,
                           const std::function<bool(const StoredResponse&)>& match) {
  Shard& shard = shardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return nullptr;
  Entry& entry = *it->second;
  for (const StoredPtr& variant : entry.variants) {
    if (match(*variant)) {
      // Second chance instead of a move to the front: a hit writes one
      // flag (once), not three list nodes every time.
      if (!entry.referenced) entry.referenced = true;
      return variant;
    }
  }
  return nullptr;
}

bool CacheStore::insert(std::string_view key, StoredPtr response) {
  size_t charge = response->charge() + key.size();
  Shard& shard = shardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(key);
  if (charge > shardBudget_) {
    // Too big for its shard: a copy stored earlier must not outlive it either.
    if (it != shard.entries.end()) removeEntry(shard, *it->second);
    return false;
  }
  if (it == shard.entries.end()) {
    auto entry = std::make_unique<Entry>();
    entry->key = std::string(key);
    shard.lru.push_front(entry.get());
    entry->lru = shard.lru.begin();
    it = shard.entries.emplace(entry->key, std::move(entry)).first;
  }
  Entry& entry = *it->second;
  auto same = std::find_if(entry.variants.begin(), entry.variants.end(),
                           [&](const StoredPtr& v) { return sameVariant(*v, *response); });
  if (same != entry.variants.end()) dropVariant(shard, entry, same);
  entry.variants.insert(entry.variants.begin(), std::move(response));
  entry.charge += charge;
  shard.bytes += charge;
  ++shard.objects;
  shard.lru.splice(shard.lru.begin(), shard.lru, entry.lru);
  evict(shard, entry);
  return true;
}

void CacheStore::erase(std::string_view key, const StoredResponse* response) {
  Shard& shard = shardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(key);
  if (it == shard.entries.end()) return;
  Entry& entry = *it->second;
  auto v = std::find_if(entry.variants.begin(), entry.variants.end(),
                        [&](const StoredPtr& p) { return p.get() == response; });
  if (v == entry.variants.end()) return;
  dropVariant(shard, entry, v);
  if (entry.variants.empty()) removeEntry(shard, entry);
}

void CacheStore::invalidate(std::string_view key) {
  Shard& shard = shardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(key);
  if (it != shard.entries.end()) removeEntry(shard, *it->second);
}

std::vector<StoredPtr>::iterator CacheStore::dropVariant(Shard& shard, Entry& entry,
                                                         std::vector<StoredPtr>::iterator v) {
  size_t charge = (*v)->charge() + entry.key.size();
  entry.charge -= charge;
  shard.bytes -= charge;
  --shard.objects;
  return entry.variants.erase(v);
}

void CacheStore::removeEntry(Shard& shard, Entry& entry) {
  shard.bytes -= entry.charge;
  shard.objects -= entry.variants.size();
  shard.lru.erase(entry.lru);
  shard.entries.erase(entry.key);  // destroys `entry`
}

void CacheStore::evict(Shard& shard, Entry& fresh) {
  // Ends: between two passes of `fresh`, every other key reaches the back
  // once and is either dropped or loses its flag.
  while (shard.bytes > shardBudget_ && !shard.lru.empty()) {
    Entry* victim = shard.lru.back();
    if (victim == &fresh) {
      if (shard.lru.size() > 1) {
        shard.lru.splice(shard.lru.begin(), shard.lru, fresh.lru);  // the others go first
        continue;
      }
      // Only the key just stored is left: its older variants go, never the
      // new one (it fits alone: insert() checked).
      if (fresh.variants.size() < 2) break;
      dropVariant(shard, fresh, std::prev(fresh.variants.end()));
      ++shard.evictions;
      continue;
    }
    if (victim->referenced) {
      victim->referenced = false;  // used since it came in or was last spared: kept once more
      shard.lru.splice(shard.lru.begin(), shard.lru, victim->lru);
      continue;
    }
    shard.evictions += victim->variants.size();
    removeEntry(shard, *victim);
  }
}

CacheStore::Claim CacheStore::claim(std::string_view key, Clock::time_point now,
                                    Clock::duration lockTimeout) {
  Shard& shard = shardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.fills.find(key);
  if (it == shard.fills.end()) {
    shard.fills.emplace(std::string(key), Fill{now, {}, true});
    return Claim::Fill;
  }
  Fill& fill = it->second;
  if (fill.active) return now - fill.started < lockTimeout ? Claim::Wait : Claim::Pass;
  if (now < fill.passUntil) return Claim::Pass;
  fill = Fill{now, {}, true};
  return Claim::Fill;
}

void CacheStore::endFill(std::string_view key, bool stored, Clock::time_point now) {
  Shard& shard = shardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.fills.find(key);
  if (it == shard.fills.end()) return;
  if (stored) {
    shard.fills.erase(it);
    return;
  }
  it->second.active = false;
  it->second.passUntil = now + kPassFor;
  // Old pass marks go when the shard's fills are swept below.
  if (shard.fills.size() > 1024) {
    std::erase_if(shard.fills,
                  [&](const auto& f) { return !f.second.active && f.second.passUntil <= now; });
  }
}

void CacheStore::abandonFill(std::string_view key) {
  Shard& shard = shardOf(key);
  std::lock_guard lock(shard.mutex);
  auto it = shard.fills.find(key);
  if (it != shard.fills.end() && it->second.active) shard.fills.erase(it);
}

size_t CacheStore::purge(std::string_view host, std::string_view pathPrefix) {
  size_t purged = 0;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    std::vector<Entry*> empty;
    for (auto& [key, entry] : shard.entries) {
      auto& variants = entry->variants;
      for (auto v = variants.begin(); v != variants.end();) {
        const StoredResponse& r = **v;
        if (hostMatches(host, r.host) && r.target.starts_with(pathPrefix)) {
          ++purged;
          v = dropVariant(shard, *entry, v);
        } else {
          ++v;
        }
      }
      if (variants.empty()) empty.push_back(entry.get());
    }
    for (Entry* e : empty) removeEntry(shard, *e);
  }
  return purged;
}

uint64_t CacheStore::sum(uint64_t Shard::*counter) const {
  uint64_t n = 0;
  for (const Shard& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.*counter;
  }
  return n;
}

uint64_t CacheStore::bytes() const { return sum(&Shard::bytes); }
uint64_t CacheStore::objects() const { return sum(&Shard::objects); }
uint64_t CacheStore::evictions() const { return sum(&Shard::evictions); }

FillTicket& FillTicket::operator=(FillTicket&& other) noexcept {
  if (this != &other) {
    abandon();
    store_ = std::move(other.store_);
    key_ = std::move(other.key_);
  }
  return *this;
}

void FillTicket::abandon() {
  if (!store_) return;
  store_->abandonFill(key_);
  store_.reset();
}

void FillTicket::end(bool stored) {
  if (!store_) return;
  store_->endFill(key_, stored, CacheStore::Clock::now());
  store_.reset();
}

}  // namespace ringlb::l7::cache
