// Smooth weighted round robin (the nginx algorithm): every step each
// candidate gains its weight, the richest is chosen and pays the total. Over
// any W = sum(weights) consecutive steps each candidate is chosen exactly its
// weight times, interleaved rather than in bursts.
//
// Thread rules: SmoothWrr is owned by one thread; buildSmoothSchedule() is a
// pure function (run by the publisher of a BackendSet).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ringlb::upstream {

class SmoothWrr {
 public:
  explicit SmoothWrr(size_t count = 0) : current_(count, 0) {}
  // Returns the position (in `weights`) of the chosen candidate; weights of
  // excluded candidates are 0 and at least one weight must be > 0. O(n).
  uint32_t next(std::span<const uint64_t> weights);

 private:
  std::vector<int64_t> current_;
};

// One full period of SmoothWrr over `weights` (divided by their gcd), as
// positions into `weights`; empty when the period would exceed `maxLength` or
// cost more than `maxWork` steps to compute, so callers step SmoothWrr live.
std::vector<uint32_t> buildSmoothSchedule(std::span<const uint64_t> weights,
                                          size_t maxLength = 1 << 16,
                                          uint64_t maxWork = uint64_t{1} << 26);

}  // namespace ringlb::upstream
