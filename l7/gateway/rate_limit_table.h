// RateLimitTable: the buckets of one SharedRateLimit, a 64-bit cell per key,
// shared by every worker. Finding a key's cell and changing it is lock-free;
// only adding a key (or reclaiming idle ones to make room) takes the short
// mutex of one shard.
//
// Layout. Keys are hashed with SipHash-2-4 under a random key (a client
// cannot aim two keys at one bucket); the 64-bit hash is the key's identity
// (two keys collide with probability ~n²/2⁶⁵: 3e-10 for 100 000 keys; they
// would share a bucket). The top bits pick one of `shards` shards, each a
// fixed open-addressing array (linear probing, at most kProbeLimit slots
// looked at) allocated the first time a key lands in it and never resized.
// A slot is {tag, value}: tag 0 = never used (ends a probe), 1 = free again.
//
// Values are times (the limiter's theoretical arrival time). A value at or
// before `now - idle` is idle: the limiter gives such a bucket exactly what a
// new one would get, so its slot can be reclaimed without changing any
// answer. A new cell starts at `now - idle + 1`.
//
// Bounded memory: at most `maxKeys` live keys (maxKeys / shards per shard)
// in fewer than 4 × maxKeys slots of 16 bytes (twice the keys per shard,
// rounded up to a power of two: 4 MiB for 100 000 keys). A key whose shard is full of
// busy keys (or whose probe window is) shares one overflow cell with every
// such key: a flood of distinct keys is limited as one client,
// deterministically, and never grows memory. Idle keys are dropped lazily
// when room is needed: an idle key of the new key's probe window first,
// else a sweep of the whole shard (at most once per sweep interval, so a
// flood cannot make every new key pay for one); expireIdle() drops all.
//
// Why compare-and-swap on a slot cannot hit the wrong key (no ABA): every
// write to a value is a CAS through update() with a larger value, a
// reclaim (value -> kReclaimed, under the shard mutex) or the start value of
// a new key, which is larger than any value ever reclaimed in the shard. So
// a value, once replaced, never comes back; a CAS that succeeds proves the
// slot did not change since it was read, and the reader checked the tag
// after reading the value (acquire), so the value was this key's.
//
// Thread rules: update(), keyCount() and expireIdle() from any thread at
// once. The table must outlive every call (the route's snapshot holds it).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "l7/gateway/rate_limit_hash.h"

namespace ringlb::l7 {

struct RateLimitTableOptions {
  size_t maxKeys = 100'000;  // live keys at most (per route; at most 2^26)
  size_t shards = 64;        // rounded down to a power of two, at most maxKeys
  // The hash key; empty: random (production). Tests pin it to be repeatable.
  std::optional<SipHashKey> hashKey;
};

class RateLimitTable {
 public:
  // idle: a value at or before now - idle belongs to an idle key (> 0).
  // sweepInterval: a full shard is swept at most this often (> 0).
  RateLimitTable(const RateLimitTableOptions& options, int64_t idle, int64_t sweepInterval);
  ~RateLimitTable();
  RateLimitTable(const RateLimitTable&) = delete;
  RateLimitTable& operator=(const RateLimitTable&) = delete;

  // Calls decide(current, next) on the cell of `key` until it returns false
  // (leave the cell) or its `next` (which must be > current) is stored by
  // compare-and-swap. `decide` may run several times under contention; its
  // last run is the one that counts. Lock-free unless the key is new.
  template <typename Decide>
  void update(std::string_view key, int64_t now, Decide&& decide);

  // The same compare-and-swap loop on a cell of the caller's (one bucket for
  // a whole route needs no table).
  template <typename Decide>
  static void updateCell(std::atomic<int64_t>& cell, Decide& decide);

  // Live keys now (takes each shard's mutex: for metrics and tests).
  size_t keyCount() const;
  // Live keys allowed in all (shards × per-shard capacity <= maxKeys).
  size_t capacity() const { return shardCount_ * perShardCapacity_; }
  // Bytes of slots allocated so far: fewer than four 16-byte slots per key
  // of capacity() (and at least four per shard in use).
  size_t slotBytes() const;
  // Updates that went to the overflow cell.
  uint64_t overflowCount() const { return overflows_.load(std::memory_order_relaxed); }
  // Reclaims every idle key now (for a periodic chore; never needed for
  // correctness or for the memory bound).
  void expireIdle(int64_t now);

  static constexpr int64_t kReclaimed = std::numeric_limits<int64_t>::min();
  static constexpr size_t kProbeLimit = 32;

 private:
  struct Slot {
    std::atomic<uint64_t> tag{0};
    std::atomic<int64_t> value{0};
  };
  struct Shard;
  // A key's probe window: its own slot, or where it could go.
  struct Probe {
    Slot* live = nullptr;    // the key's own slot
    Slot* unused = nullptr;  // the first never used or reclaimed slot
    Slot* idle = nullptr;    // the first slot of an idle key (anywhere in the window)
    bool idleFirst = false;  // `idle` comes before `unused` (or there is no `unused`)
    int64_t idleValue = 0;   // for the reclaiming compare-and-swap
  };
  enum class Outcome : uint8_t { Done, Moved };

  uint64_t tagOf(std::string_view key) const;
  Shard& shardOf(uint64_t tag) const;
  Slot* findLive(const Shard& shard, uint64_t tag) const;  // lock-free
  // The rest: the shard mutex held (findOrAdd takes it).
  Slot* findOrAdd(Shard& shard, uint64_t tag, int64_t now);
  Probe probe(Slot* slots, uint64_t tag, int64_t now) const;
  bool reclaimIdle(Shard& shard, Slot& slot, int64_t seen);  // frees it
  void place(Shard& shard, Slot& slot, uint64_t tag, int64_t now);
  bool sweep(Shard& shard, int64_t now, bool force);

  template <typename Decide>
  static Outcome updateSlot(Slot& slot, uint64_t tag, Decide& decide);

  SipHashKey hashKey_;
  size_t shardCount_;
  int shardShift_;  // 64 - log2(shardCount_)
  size_t perShardCapacity_;
  size_t slotsPerShard_;  // a power of two
  int64_t idle_;
  int64_t sweepInterval_;
  std::unique_ptr<Shard[]> shards_;
  alignas(64) std::atomic<int64_t> overflow_;
  std::atomic<uint64_t> overflows_{0};
};

template <typename Decide>
RateLimitTable::Outcome RateLimitTable::updateSlot(Slot& slot, uint64_t tag, Decide& decide) {
  int64_t current = slot.value.load(std::memory_order_acquire);
  for (;;) {
    // Read the value first, then check the tag: a value written for another
    // key is published after that key's tag (see the header comment).
    if (current == kReclaimed || slot.tag.load(std::memory_order_acquire) != tag) {
      return Outcome::Moved;
    }
    int64_t next = 0;
    if (!decide(current, next)) return Outcome::Done;
    if (slot.value.compare_exchange_weak(current, next, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
      return Outcome::Done;
    }
  }
}

template <typename Decide>
void RateLimitTable::updateCell(std::atomic<int64_t>& cell, Decide& decide) {
  int64_t current = cell.load(std::memory_order_acquire);
  int64_t next = 0;
  while (decide(current, next) &&
         !cell.compare_exchange_weak(current, next, std::memory_order_acq_rel,
                                     std::memory_order_acquire)) {
  }
}

template <typename Decide>
void RateLimitTable::update(std::string_view key, int64_t now, Decide&& decide) {
  uint64_t tag = tagOf(key);
  Shard& shard = shardOf(tag);
  Slot* slot = findLive(shard, tag);
  // A slot that moves under us (reclaimed, re-added) sends us to the mutex;
  // after a few such rounds (clocks far apart) the overflow cell answers.
  for (int round = 0; round < 4; ++round) {
    if (slot == nullptr) slot = findOrAdd(shard, tag, now);
    if (slot == nullptr) break;
    if (updateSlot(*slot, tag, decide) == Outcome::Done) return;
    slot = nullptr;
  }
  overflows_.fetch_add(1, std::memory_order_relaxed);
  updateCell(overflow_, decide);
}

}  // namespace ringlb::l7
