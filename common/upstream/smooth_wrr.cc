#include "common/upstream/smooth_wrr.h"

#include <cassert>
#include <numeric>

namespace ringlb::upstream {

uint32_t SmoothWrr::next(std::span<const uint64_t> weights) {
  assert(weights.size() == current_.size());
  int64_t total = 0;
  uint32_t best = 0;
  int64_t bestValue = INT64_MIN;
  for (uint32_t i = 0; i < weights.size(); ++i) {
    if (weights[i] == 0) continue;
    current_[i] += int64_t(weights[i]);
    total += int64_t(weights[i]);
    if (current_[i] > bestValue) {
      bestValue = current_[i];
      best = i;
    }
  }
  assert(total > 0);
  current_[best] -= total;
  return best;
}

std::vector<uint32_t> buildSmoothSchedule(std::span<const uint64_t> weights, size_t maxLength,
                                          uint64_t maxWork) {
  uint64_t divisor = 0;
  for (uint64_t w : weights) divisor = std::gcd(divisor, w);
  if (divisor == 0) return {};
  std::vector<uint64_t> reduced(weights.begin(), weights.end());
  uint64_t period = 0;
  for (uint64_t& w : reduced) period += (w /= divisor);
  if (period > maxLength || period * weights.size() > maxWork) return {};
  SmoothWrr wrr(reduced.size());
  std::vector<uint32_t> schedule(period);
  for (uint32_t& slot : schedule) slot = wrr.next(reduced);
  return schedule;
}

}  // namespace ringlb::upstream
