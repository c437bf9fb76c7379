#include "common/upstream/maglev_table.h"

#include <algorithm>
#include <cassert>
#include <limits>

#include "common/upstream/hash_key.h"

namespace ringlb::upstream {
namespace {

constexpr uint32_t kEmpty = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kOffsetSeed = 0x6d61676c65763031ULL;
constexpr uint64_t kSkipSeed = 0x6d61676c65763032ULL;

bool isPrime(uint32_t n) {
  if (n < 2) return false;
  for (uint32_t d = 2; uint64_t{d} * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

// Where one backend's permutation stands, and its accumulated fill credit.
struct Cursor {
  uint32_t position;
  uint32_t skip;
  uint64_t credit = 0;
};

}  // namespace

uint32_t MaglevTable::sizeFor(size_t backendCount) {
  uint32_t n = uint32_t(std::max<size_t>(backendCount * 100, kMinSize));
  while (!isPrime(n)) ++n;
  return n;
}

MaglevTable::MaglevTable(std::span<const Entry> entries, uint32_t size) {
  assert(!entries.empty() && size > 1);
  slots_.assign(size, kEmpty);
  std::vector<Cursor> cursors;
  cursors.reserve(entries.size());
  uint64_t maxWeight = 1;
  for (const Entry& e : entries) {
    cursors.push_back({uint32_t(hashBytes(e.name, kOffsetSeed) % size),
                       uint32_t(hashBytes(e.name, kSkipSeed) % (size - 1) + 1)});
    maxWeight = std::max<uint64_t>(maxWeight, e.weight);
  }
  // Each round every backend earns its weight in credit and takes one slot per
  // maxWeight of credit: equal weights degenerate to classic Maglev.
  uint32_t filled = 0;
  while (true) {
    for (size_t i = 0; i < entries.size(); ++i) {
      Cursor& c = cursors[i];
      c.credit += entries[i].weight;
      if (c.credit < maxWeight) continue;
      c.credit -= maxWeight;
      while (slots_[c.position] != kEmpty) c.position = uint32_t((c.position + c.skip) % size);
      slots_[c.position] = entries[i].index;
      c.position = uint32_t((c.position + c.skip) % size);
      if (++filled == size) return;
    }
  }
}

}  // namespace ringlb::upstream
