#include "common/upstream/round_robin.h"

namespace ringlb::upstream {

RoundRobinBalancer::RoundRobinBalancer(const BackendSet& set, uint64_t seed)
    : set_(set),
      period_(set.roundRobinPeriod()),
      rampEnd_(rampEnd(set)),
      live_(set.serving().size()),
      weights_(set.serving().size()) {
  // Workers start at different points of the period so that they do not all
  // send their first request to the same backend.
  if (!period_.empty()) position_ = FastRng(seed).below(uint32_t(period_.size()));
}

uint32_t RoundRobinBalancer::pick(const PickInput& in) {
  if (period_.empty() || in.now < rampEnd_) return pickLive(in);
  return pickFromPeriod(in.exclude);
}

uint32_t RoundRobinBalancer::pickFromPeriod(const IndexMask* exclude) {
  // A retry walks on to the next backend of the period that was not tried.
  for (size_t steps = 0; steps < period_.size(); ++steps) {
    const uint32_t index = period_[position_];
    if (++position_ == period_.size()) position_ = 0;
    if (!exclude || !exclude->test(index)) return index;
  }
  return kNoBackend;
}

uint32_t RoundRobinBalancer::pickLive(const PickInput& in) {
  const std::span<const uint32_t> serving = set_.serving();
  bool any = false;
  for (size_t k = 0; k < serving.size(); ++k) {
    const bool excluded = in.exclude && in.exclude->test(serving[k]);
    weights_[k] = excluded ? 0 : effectiveWeight(set_[serving[k]], set_.slowStart(), in.now);
    any = any || weights_[k] != 0;
  }
  if (!any) return kNoBackend;
  return serving[live_.next(weights_)];
}

}  // namespace ringlb::upstream
