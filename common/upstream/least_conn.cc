#include "common/upstream/least_conn.h"

#include <bit>

namespace ringlb::upstream {

LeastConnBalancer::LeastConnBalancer(const BackendSet& set, std::span<const uint32_t> active,
                                     uint64_t seed)
    : set_(set),
      serving_(set.serving()),
      active_(active),
      weights_(serving_.size()),
      positionOf_(set.size(), kNoBackend),
      leaves_(std::bit_ceil(std::max<uint32_t>(1, uint32_t(serving_.size())))),
      rampEnd_(rampEnd(set)),
      rng_(seed) {
  tree_.assign(2 * leaves_, Node{kNoBackend, 0});
  for (uint32_t k = 0; k < serving_.size(); ++k) {
    positionOf_[serving_[k]] = k;
    weights_[k] = effectiveWeight(set_[serving_[k]], set_.slowStart(), MonoTime{});
  }
  rebuild();
}

int LeastConnBalancer::compare(uint32_t posA, uint32_t posB) const {
  return compareLoad(active_[serving_[posA]], weights_[posA], active_[serving_[posB]],
                     weights_[posB]);
}

LeastConnBalancer::Node LeastConnBalancer::combine(Node a, Node b) const {
  if (a.best == kNoBackend) return b;
  if (b.best == kNoBackend) return a;
  const int order = compare(a.best, b.best);
  if (order < 0) return a;
  if (order > 0) return b;
  return Node{a.best, a.ties + b.ties};
}

void LeastConnBalancer::rebuild() {
  for (uint32_t k = 0; k < serving_.size(); ++k) tree_[leaves_ + k] = Node{k, 1};
  for (uint32_t n = leaves_ - 1; n >= 1; --n) tree_[n] = combine(tree_[2 * n], tree_[2 * n + 1]);
}

void LeastConnBalancer::onLoadChanged(uint32_t index) {
  const uint32_t position = positionOf_[index];
  if (position == kNoBackend) return;
  for (uint32_t n = (leaves_ + position) / 2; n >= 1; n /= 2) {
    tree_[n] = combine(tree_[2 * n], tree_[2 * n + 1]);
  }
}

void LeastConnBalancer::refreshWeights(MonoTime now) {
  for (uint32_t k = 0; k < serving_.size(); ++k) {
    weights_[k] = effectiveWeight(set_[serving_[k]], set_.slowStart(), now);
  }
  weightsAt_ = now;
  rebuild();
}

uint32_t LeastConnBalancer::pick(const PickInput& in) {
  if (in.now != weightsAt_ && (in.now < rampEnd_ || weightsAt_ < rampEnd_)) {
    refreshWeights(in.now);
  }
  if (in.exclude) return pickAvoiding(*in.exclude);
  const Node root = tree_[1];
  if (root.ties <= 1) return serving_[root.best];
  return serving_[chooseAmongTies(root)];
}

uint32_t LeastConnBalancer::chooseAmongTies(Node root) {
  uint32_t rank = rng_.below(root.ties);
  uint32_t n = 1;
  while (n < leaves_) {
    const Node left = tree_[2 * n];
    if (left.best != kNoBackend && compare(left.best, root.best) == 0) {
      if (rank < left.ties) {
        n = 2 * n;
        continue;
      }
      rank -= left.ties;
    }
    n = 2 * n + 1;
  }
  return tree_[n].best;
}

uint32_t LeastConnBalancer::pickAvoiding(const IndexMask& exclude) {
  uint32_t best = kNoBackend;
  uint32_t ties = 0;
  for (uint32_t k = 0; k < serving_.size(); ++k) {
    if (exclude.test(serving_[k])) continue;
    const int order = best == kNoBackend ? -1 : compare(k, best);
    if (order < 0) {
      best = k;
      ties = 1;
    } else if (order == 0 && rng_.below(++ties) == 0) {
      best = k;  // reservoir sampling: each tie kept with probability 1/ties
    }
  }
  return best == kNoBackend ? kNoBackend : serving_[best];
}

}  // namespace ringlb::upstream
