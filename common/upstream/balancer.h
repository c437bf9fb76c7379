// The balancer interface: one algorithm per file (round_robin, least_conn,
// random_two, maglev), built per worker from a BackendSet snapshot by
// makeBalancer(). pick() takes no lock, touches no shared atomic and never
// allocates.
//
// Thread rules: a Balancer belongs to one worker (its BackendSelector). The
// BackendSet and the `active` counters it was built on must outlive it.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include "common/upstream/backend_set.h"

namespace ringlb::upstream {

inline constexpr uint32_t kNoBackend = std::numeric_limits<uint32_t>::max();

// A set of backend indices (the backends a retry must avoid). Sized when a
// snapshot arrives, so marking and testing never allocate.
class IndexMask {
 public:
  void resize(size_t n) { words_.assign((n + 63) / 64, 0); }
  void clear() { std::fill(words_.begin(), words_.end(), 0); }
  void set(uint32_t i) { words_[i / 64] |= uint64_t{1} << (i % 64); }
  bool test(uint32_t i) const { return (words_[i / 64] >> (i % 64)) & 1; }

 private:
  std::vector<uint64_t> words_;
};

struct PickInput {
  MonoTime now{};                      // coarse clock, for slow start
  uint64_t keyHash = 0;                // hash balancing: hashBytes(key)
  bool hasKey = false;                 // false: hash balancing picks at random
  const IndexMask* exclude = nullptr;  // backends already tried; null = none
};

class Balancer {
 public:
  virtual ~Balancer() = default;
  // An index into the BackendSet, taken from serving() and not excluded, or
  // kNoBackend when every serving backend is excluded. serving() must not be
  // empty (BackendSelector checks).
  virtual uint32_t pick(const PickInput& in) = 0;
  // active[index] just changed (a connection or request started or ended).
  virtual void onLoadChanged(uint32_t index) { (void)index; }
};

// `active` is indexed like the BackendSet (per-worker counters, owned by the
// caller); `seed` makes each worker's random choices independent.
std::unique_ptr<Balancer> makeBalancer(const BackendSet& set, std::span<const uint32_t> active,
                                       uint64_t seed);

// Load ordering shared by least_conn and random_two: the backend that would
// be less loaded per unit of weight after taking one more, (a+1)/w. Returns
// <0, 0, >0 like a comparison. Exact (no division).
inline int compareLoad(uint32_t activeA, uint64_t weightA, uint32_t activeB, uint64_t weightB) {
  const __uint128_t lhs = __uint128_t{uint64_t{activeA} + 1} * weightB;
  const __uint128_t rhs = __uint128_t{uint64_t{activeB} + 1} * weightA;
  return lhs < rhs ? -1 : (lhs > rhs ? 1 : 0);
}

// The time until which some serving backend is still in its slow-start ramp
// (MonoTime{} when none is).
MonoTime rampEnd(const BackendSet& set);

}  // namespace ringlb::upstream
