// random_two: the power of two choices. Two distinct serving backends are
// drawn at random and the less loaded, (active + 1) / weight on this worker,
// wins. O(1) per pick with no shared state; retries scan linearly.
//
// Thread rules: worker thread only (see balancer.h).
#pragma once

#include "common/upstream/balancer.h"
#include "common/upstream/rng.h"

namespace ringlb::upstream {

class RandomTwoBalancer final : public Balancer {
 public:
  RandomTwoBalancer(const BackendSet& set, std::span<const uint32_t> active, uint64_t seed);
  uint32_t pick(const PickInput& in) override;

 private:
  uint64_t weightAt(uint32_t position, MonoTime now) const;
  uint32_t pickAvoiding(const PickInput& in);

  const BackendSet& set_;
  std::span<const uint32_t> serving_;
  std::span<const uint32_t> active_;
  std::vector<uint64_t> weights_;  // full effective weight per serving position
  MonoTime rampEnd_;
  FastRng rng_;
};

}  // namespace ringlb::upstream
