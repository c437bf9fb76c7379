#include "common/upstream/random_two.h"

namespace ringlb::upstream {

RandomTwoBalancer::RandomTwoBalancer(const BackendSet& set, std::span<const uint32_t> active,
                                     uint64_t seed)
    : set_(set),
      serving_(set.serving()),
      active_(active),
      weights_(serving_.size()),
      rampEnd_(rampEnd(set)),
      rng_(seed) {
  for (uint32_t k = 0; k < serving_.size(); ++k) {
    weights_[k] = uint64_t{set_[serving_[k]].weight} * kWeightScale;
  }
}

uint64_t RandomTwoBalancer::weightAt(uint32_t position, MonoTime now) const {
  if (now >= rampEnd_) return weights_[position];
  return effectiveWeight(set_[serving_[position]], set_.slowStart(), now);
}

uint32_t RandomTwoBalancer::pick(const PickInput& in) {
  const uint32_t n = uint32_t(serving_.size());
  if (in.exclude) return pickAvoiding(in);
  if (n == 1) return serving_[0];
  const uint32_t a = rng_.below(n);
  uint32_t b = rng_.below(n - 1);
  if (b >= a) ++b;
  const int order = compareLoad(active_[serving_[a]], weightAt(a, in.now), active_[serving_[b]],
                                weightAt(b, in.now));
  return serving_[order <= 0 ? a : b];
}

uint32_t RandomTwoBalancer::pickAvoiding(const PickInput& in) {
  uint32_t best = kNoBackend;
  uint32_t ties = 0;
  for (uint32_t k = 0; k < serving_.size(); ++k) {
    if (in.exclude->test(serving_[k])) continue;
    const int order = best == kNoBackend
                          ? -1
                          : compareLoad(active_[serving_[k]], weightAt(k, in.now),
                                        active_[serving_[best]], weightAt(best, in.now));
    if (order < 0) {
      best = k;
      ties = 1;
    } else if (order == 0 && rng_.below(++ties) == 0) {
      best = k;
    }
  }
  return best == kNoBackend ? kNoBackend : serving_[best];
}

}  // namespace ringlb::upstream
