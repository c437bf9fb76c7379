// Helpers shared by the upstream tests: build BackendSets in one line and
// drive a BackendSelector through simple traffic simulations.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "common/upstream/backend_selector.h"
#include "common/upstream/backend_set.h"

namespace ringlb::upstream::testing {

struct Spec {
  uint32_t weight = 1;
  bool backup = false;
  bool up = true;
};

inline std::string addressOf(size_t i) { return "10.0.0." + std::to_string(i) + ":80"; }

inline std::shared_ptr<const BackendSet> makeSet(config::BalanceAlgorithm algorithm,
                                                 const std::vector<Spec>& specs,
                                                 uint64_t version = 1,
                                                 config::Duration slowStart = {}) {
  std::vector<Backend> backends;
  for (size_t i = 0; i < specs.size(); ++i) {
    Backend b;
    b.pool = "pool";
    b.address = addressOf(i);
    b.weight = specs[i].weight;
    b.backup = specs[i].backup;
    b.up = specs[i].up;
    backends.push_back(std::move(b));
  }
  BackendSet::Options options;
  options.pool = "pool";
  options.algorithm = algorithm;
  options.slowStart = slowStart;
  options.version = version;
  return BackendSet::create(std::move(options), std::move(backends));
}

inline std::vector<Spec> equalWeights(size_t n) { return std::vector<Spec>(n, Spec{}); }

// Picks per backend index when every pick is released at once.
inline std::vector<uint64_t> countPicks(BackendSelector& state, size_t picks, MonoTime now = {}) {
  std::vector<uint64_t> counts(state.backends().size(), 0);
  for (size_t i = 0; i < picks; ++i) {
    PickResult r = state.acquire(now);
    if (!r.ok()) continue;
    ++counts[*state.backends().find(r.lease.backend().address)];
    state.release(r.lease);
  }
  return counts;
}

// Closed loop with equal-speed backends: `concurrency` requests in flight,
// each new request ends the oldest one (FIFO = equal service times).
inline std::vector<uint64_t> simulateEqualSpeed(BackendSelector& state, size_t picks,
                                                size_t concurrency) {
  std::vector<uint64_t> counts(state.backends().size(), 0);
  std::vector<Lease> ring(concurrency);
  for (size_t i = 0; i < picks; ++i) {
    Lease& slot = ring[i % concurrency];
    state.release(slot);
    PickResult r = state.acquire(MonoTime{});
    ++counts[*state.backends().find(r.lease.backend().address)];
    slot = std::move(r.lease);
  }
  for (Lease& l : ring) state.release(l);
  return counts;
}

// Discrete time: `perTick` requests arrive each tick; a request on backend i
// takes ticksOf[i] ticks. Returns picks per backend.
inline std::vector<uint64_t> simulateServiceTimes(BackendSelector& state,
                                                  const std::vector<uint32_t>& ticksOf,
                                                  size_t ticks, size_t perTick) {
  std::vector<uint64_t> counts(state.backends().size(), 0);
  uint32_t horizon = 1;
  for (uint32_t t : ticksOf) horizon = std::max(horizon, t + 1);
  std::vector<std::vector<Lease>> wheel(horizon);
  for (size_t tick = 0; tick < ticks; ++tick) {
    for (Lease& l : wheel[tick % horizon]) state.release(l);
    wheel[tick % horizon].clear();
    for (size_t k = 0; k < perTick; ++k) {
      PickResult r = state.acquire(MonoTime{});
      const uint32_t index = *state.backends().find(r.lease.backend().address);
      ++counts[index];
      wheel[(tick + ticksOf[index]) % horizon].push_back(std::move(r.lease));
    }
  }
  for (auto& bucket : wheel) {
    for (Lease& l : bucket) state.release(l);
  }
  return counts;
}

inline double share(const std::vector<uint64_t>& counts, size_t i) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  return double(counts[i]) / double(total);
}

inline double weightShare(const std::vector<Spec>& specs, size_t i) {
  uint64_t total = 0;
  for (const Spec& s : specs) total += s.weight;
  return double(specs[i].weight) / double(total);
}

}  // namespace ringlb::upstream::testing
