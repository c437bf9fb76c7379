// round_robin: smooth weighted round robin (nginx). Weights are honoured with
// even interleaving: in any window of W = sum(weights) consecutive picks of
// one worker, each backend is picked exactly its weight times.
//
// Fast path: walk the period precomputed in the BackendSet (O(1)). While a
// backend ramps (slow start), or when the period is too long to precompute,
// step the algorithm live over effective weights (O(n)).
//
// Thread rules: worker thread only (see balancer.h).
#pragma once

#include "common/upstream/balancer.h"
#include "common/upstream/rng.h"
#include "common/upstream/smooth_wrr.h"

namespace ringlb::upstream {

class RoundRobinBalancer final : public Balancer {
 public:
  RoundRobinBalancer(const BackendSet& set, uint64_t seed);
  uint32_t pick(const PickInput& in) override;

 private:
  uint32_t pickFromPeriod(const IndexMask* exclude);
  uint32_t pickLive(const PickInput& in);

  const BackendSet& set_;
  std::span<const uint32_t> period_;
  size_t position_ = 0;
  MonoTime rampEnd_;
  SmoothWrr live_;
  std::vector<uint64_t> weights_;  // scratch for pickLive, per serving position
};

}  // namespace ringlb::upstream
