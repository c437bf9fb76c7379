#include "l7/gateway/rate_limit_table.h"

#include <algorithm>
#include <bit>
#include <new>

namespace ringlb::l7 {
namespace {

constexpr uint64_t kEmptyTag = 0;  // never used: ends a probe
constexpr uint64_t kFreeTag = 1;   // reclaimed: reusable, a probe goes on
constexpr size_t kMostKeys = size_t{1} << 26;

}  // namespace

// Everything but `slots` is guarded by `mutex`; `slots` is written once
// (under it) and read lock-free.
struct alignas(64) RateLimitTable::Shard {
  std::mutex mutex;
  std::atomic<Slot*> slots{nullptr};
  std::unique_ptr<Slot[]> storage;
  size_t live = 0;
  // The largest value ever reclaimed here: a new key starts above it, so no
  // reader's stale compare-and-swap can succeed on a reused slot.
  int64_t maxReclaimed = kReclaimed;
  bool swept = false;
  int64_t lastSweep = 0;
};

RateLimitTable::RateLimitTable(const RateLimitTableOptions& options, int64_t idle,
                               int64_t sweepInterval)
    : hashKey_(options.hashKey ? *options.hashKey : randomSipHashKey()),
      shardCount_(std::bit_floor(std::max<size_t>(1, std::min(options.shards, options.maxKeys)))),
      shardShift_(64 - std::countr_zero(shardCount_)),
      perShardCapacity_(std::min(options.maxKeys, kMostKeys) / shardCount_),
      slotsPerShard_(std::bit_ceil(std::max<size_t>(4, 2 * perShardCapacity_))),
      idle_(std::max<int64_t>(1, idle)),
      sweepInterval_(std::max<int64_t>(1, sweepInterval)),
      shards_(new Shard[shardCount_]),
      overflow_(std::numeric_limits<int64_t>::min() / 2) {}

RateLimitTable::~RateLimitTable() = default;

uint64_t RateLimitTable::tagOf(std::string_view key) const {
  uint64_t hash = sipHash24(hashKey_, key);
  return hash <= kFreeTag ? hash + 2 : hash;
}

RateLimitTable::Shard& RateLimitTable::shardOf(uint64_t tag) const {
  // With one shard the shift would be 64, which C++ leaves undefined.
  return shards_[shardCount_ == 1 ? 0 : tag >> shardShift_];
}

RateLimitTable::Slot* RateLimitTable::findLive(const Shard& shard, uint64_t tag) const {
  Slot* slots = shard.slots.load(std::memory_order_acquire);
  if (slots == nullptr) return nullptr;
  size_t probes = std::min(kProbeLimit, slotsPerShard_);
  for (size_t i = 0; i < probes; ++i) {
    Slot& slot = slots[(tag + i) & (slotsPerShard_ - 1)];
    uint64_t seen = slot.tag.load(std::memory_order_acquire);
    if (seen == tag) return &slot;
    if (seen == kEmptyTag) return nullptr;
  }
  return nullptr;
}

RateLimitTable::Slot* RateLimitTable::findOrAdd(Shard& shard, uint64_t tag, int64_t now) {
  std::lock_guard lock(shard.mutex);
  Slot* slots = shard.slots.load(std::memory_order_relaxed);
  if (slots == nullptr) {
    shard.storage.reset(new (std::nothrow) Slot[slotsPerShard_]);
    if (!shard.storage) return nullptr;  // no memory: the overflow cell answers
    slots = shard.storage.get();
    shard.slots.store(slots, std::memory_order_release);
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    Probe p = probe(slots, tag, now);
    if (p.live != nullptr) return p.live;
    // Full (or a window of busy keys): an idle key of the window makes room.
    if (shard.live >= perShardCapacity_ || p.unused == nullptr) {
      if (p.idle == nullptr) {
        // A full shard is swept now and then for idle keys elsewhere.
        if (p.unused != nullptr && sweep(shard, now, false)) continue;
        return nullptr;  // the overflow cell answers
      }
      if (!reclaimIdle(shard, *p.idle, p.idleValue)) continue;
      if (p.idleFirst) p.unused = p.idle;
    }
    ++shard.live;
    place(shard, *p.unused, tag, now);
    return p.unused;
  }
  return nullptr;
}

RateLimitTable::Probe RateLimitTable::probe(Slot* slots, uint64_t tag, int64_t now) const {
  Probe p;
  bool chainEnded = false;  // past an empty slot: the key is not further on
  size_t probes = std::min(kProbeLimit, slotsPerShard_);
  for (size_t i = 0; i < probes; ++i) {
    Slot& slot = slots[(tag + i) & (slotsPerShard_ - 1)];
    uint64_t seen = slot.tag.load(std::memory_order_relaxed);
    if (seen == tag && !chainEnded) {
      p.live = &slot;  // under the mutex a slot with a tag is never half-added
      return p;
    }
    if (seen <= kFreeTag) {
      if (p.unused == nullptr) p.unused = &slot;
      chainEnded = chainEnded || seen == kEmptyTag;
      continue;
    }
    int64_t value = slot.value.load(std::memory_order_acquire);
    if (p.idle == nullptr && value <= now - idle_) {
      p.idle = &slot;
      p.idleFirst = p.unused == nullptr;
      p.idleValue = value;
    }
  }
  return p;
}

// Frees the slot of an idle key; false when a worker took from the key
// meanwhile (it is not idle any more).
bool RateLimitTable::reclaimIdle(Shard& shard, Slot& slot, int64_t seen) {
  if (!slot.value.compare_exchange_strong(seen, kReclaimed, std::memory_order_acq_rel)) {
    return false;
  }
  slot.tag.store(kFreeTag, std::memory_order_release);
  shard.maxReclaimed = std::max(shard.maxReclaimed, seen);
  --shard.live;
  return true;
}

// Gives a never used or freed slot to `tag`.
void RateLimitTable::place(Shard& shard, Slot& slot, uint64_t tag, int64_t now) {
  int64_t start = std::max(now - idle_ + 1, shard.maxReclaimed + 1);
  bool neverUsed = slot.tag.load(std::memory_order_relaxed) == kEmptyTag;
  // The value is in place before a reader can match the tag. A reused slot
  // holds kReclaimed meanwhile, which sends its readers to the mutex.
  if (neverUsed) slot.value.store(start, std::memory_order_relaxed);
  slot.tag.store(tag, std::memory_order_release);
  if (!neverUsed) slot.value.store(start, std::memory_order_release);
}

bool RateLimitTable::sweep(Shard& shard, int64_t now, bool force) {
  if (!force && shard.swept && now - shard.lastSweep < sweepInterval_) return false;
  shard.swept = true;
  shard.lastSweep = now;
  Slot* slots = shard.slots.load(std::memory_order_relaxed);
  if (slots == nullptr) return false;
  size_t freed = 0;
  for (size_t i = 0; i < slotsPerShard_; ++i) {
    Slot& slot = slots[i];
    if (slot.tag.load(std::memory_order_relaxed) <= kFreeTag) continue;
    int64_t value = slot.value.load(std::memory_order_acquire);
    if (value > now - idle_) continue;
    if (reclaimIdle(shard, slot, value)) ++freed;
  }
  return freed > 0;
}

size_t RateLimitTable::keyCount() const {
  size_t total = 0;
  for (size_t i = 0; i < shardCount_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    total += shards_[i].live;
  }
  return total;
}

size_t RateLimitTable::slotBytes() const {
  size_t shardsWithSlots = 0;
  for (size_t i = 0; i < shardCount_; ++i) {
    if (shards_[i].slots.load(std::memory_order_acquire) != nullptr) ++shardsWithSlots;
  }
  return shardsWithSlots * slotsPerShard_ * sizeof(Slot);
}

void RateLimitTable::expireIdle(int64_t now) {
  for (size_t i = 0; i < shardCount_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    sweep(shards_[i], now, true);
  }
}

}  // namespace ringlb::l7
