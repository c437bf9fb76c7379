// least_conn: the serving backend with the fewest active connections or
// requests on this worker per unit of weight, (active + 1) / weight; ties
// are broken uniformly at random.
//
// A tournament tree over the serving backends keeps, per subtree, the least
// loaded backend and how many tie with it: pick() reads the root (and
// descends O(log n) to choose among ties), a load change costs O(log n).
// Retries (an exclude mask) scan linearly. During slow start the weights
// are refreshed when the coarse clock moves.
//
// Thread rules: worker thread only (see balancer.h).
#pragma once

#include "common/upstream/balancer.h"
#include "common/upstream/rng.h"

namespace ringlb::upstream {

class LeastConnBalancer final : public Balancer {
 public:
  LeastConnBalancer(const BackendSet& set, std::span<const uint32_t> active, uint64_t seed);
  uint32_t pick(const PickInput& in) override;
  void onLoadChanged(uint32_t index) override;

 private:
  struct Node {
    uint32_t best;  // serving position of the least loaded leaf, or kNoBackend
    uint32_t ties;  // leaves of the subtree as loaded as `best`
  };

  int compare(uint32_t posA, uint32_t posB) const;
  Node combine(Node a, Node b) const;
  void refreshWeights(MonoTime now);
  void rebuild();
  uint32_t chooseAmongTies(Node root);
  uint32_t pickAvoiding(const IndexMask& exclude);

  const BackendSet& set_;
  std::span<const uint32_t> serving_;
  std::span<const uint32_t> active_;
  std::vector<uint64_t> weights_;     // effective weight per serving position
  std::vector<uint32_t> positionOf_;  // backend index -> serving position
  std::vector<Node> tree_;            // 1-based heap layout, leaves at leaves_
  uint32_t leaves_ = 1;
  MonoTime rampEnd_;
  MonoTime weightsAt_{};
  FastRng rng_;
};

}  // namespace ringlb::upstream
