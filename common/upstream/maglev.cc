#include "common/upstream/maglev.h"

#include "common/upstream/hash_key.h"

namespace ringlb::upstream {
namespace {

constexpr int kRehashes = 8;

}  // namespace

MaglevBalancer::MaglevBalancer(const BackendSet& set, uint64_t seed)
    : set_(set), table_(set.maglev()), rng_(seed) {}

uint32_t MaglevBalancer::pick(const PickInput& in) {
  const uint64_t hash = in.hasKey ? in.keyHash : rng_.next();
  const uint32_t index = table_.lookup(hash);
  if (!in.exclude || !in.exclude->test(index)) return index;
  return pickAvoiding(hash, *in.exclude);
}

uint32_t MaglevBalancer::pickAvoiding(uint64_t hash, const IndexMask& exclude) const {
  for (int k = 1; k <= kRehashes; ++k) {
    const uint32_t index = table_.lookup(hashBytes({}, hash + uint64_t(k)));
    if (!exclude.test(index)) return index;
  }
  const std::span<const uint32_t> serving = set_.serving();
  const size_t start = reduceHash(hash, serving.size());
  for (size_t k = 0; k < serving.size(); ++k) {
    const uint32_t index = serving[(start + k) % serving.size()];
    if (!exclude.test(index)) return index;
  }
  return kNoBackend;
}

}  // namespace ringlb::upstream
