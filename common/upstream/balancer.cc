#include "common/upstream/balancer.h"

#include <algorithm>

#include "common/upstream/least_conn.h"
#include "common/upstream/maglev.h"
#include "common/upstream/random_two.h"
#include "common/upstream/round_robin.h"

namespace ringlb::upstream {

std::unique_ptr<Balancer> makeBalancer(const BackendSet& set, std::span<const uint32_t> active,
                                       uint64_t seed) {
  switch (set.algorithm()) {
    case config::BalanceAlgorithm::RoundRobin:
      return std::make_unique<RoundRobinBalancer>(set, seed);
    case config::BalanceAlgorithm::LeastConn:
      return std::make_unique<LeastConnBalancer>(set, active, seed);
    case config::BalanceAlgorithm::RandomTwo:
      return std::make_unique<RandomTwoBalancer>(set, active, seed);
    case config::BalanceAlgorithm::Hash: return std::make_unique<MaglevBalancer>(set, seed);
  }
  return std::make_unique<RoundRobinBalancer>(set, seed);
}

MonoTime rampEnd(const BackendSet& set) {
  MonoTime end{};
  if (set.slowStart().count() <= 0) return end;
  for (uint32_t i : set.serving()) {
    if (set[i].upSince != MonoTime{}) end = std::max(end, set[i].upSince + set.slowStart());
  }
  return end;
}

}  // namespace ringlb::upstream
