// The Maglev lookup table (Eisenbud et al., NSDI 2016), weight-aware: each
// backend fills slots in proportion to its weight, along its own permutation
// of the table, so a backend leaving disturbs few keys of the others.
//
// Thread rules: built by the thread that publishes the BackendSet (health
// thread, reload), carried inside the immutable snapshot; lookup() from any
// thread.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/upstream/rng.h"

namespace ringlb::upstream {

class MaglevTable {
 public:
  struct Entry {
    std::string_view name;  // stable identity: drives the permutation
    uint32_t weight;        // > 0
    uint32_t index;         // what lookup() returns for this entry's slots
  };

  // The smallest prime >= max(100 * backendCount, kMinSize).
  static uint32_t sizeFor(size_t backendCount);
  static constexpr uint32_t kMinSize = 65537;  // as Katran: keeps disruption near 1/N

  MaglevTable() = default;
  // `entries` must be non-empty; `size` should be sizeFor(every backend of
  // the pool, up or not) so that it stays the same when health changes (a
  // new size would remap every key). Cost O(M log M).
  MaglevTable(std::span<const Entry> entries, uint32_t size);

  bool empty() const { return slots_.empty(); }
  uint32_t lookup(uint64_t hash) const { return slots_[reduceHash(hash, slots_.size())]; }
  std::span<const uint32_t> slots() const { return slots_; }

 private:
  std::vector<uint32_t> slots_;
};

}  // namespace ringlb::upstream
