// WaitPolicy: whether a worker's next wait for completions batches them
// (Ring's WaitBatch). Each wake-up costs an io_uring_enter and, after a
// sleep, a context switch: about 1.1 µs and several µs in this VM
// (FACTS.md). Under load, waiting up to kBatch.minWait for a batch cuts
// wake-ups several times (bench: 1.3 -> 0.2 enters per L4 request, 13 % less
// proxy CPU per request). At low load it would only add latency, so
// batching is on only while completions arrive faster than one per minWait,
// measured over windows of kWindow: then a batch costs at most about the
// wait a completion already had behind the others.
//
// Thread rules: owned by one worker.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "common/ring.h"

namespace ringlb {

class WaitPolicy {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr WaitBatch kBatch{16, std::chrono::microseconds(50)};
  static constexpr auto kWindow = std::chrono::milliseconds(1);

  // After each dispatch: `completions` were handled at `now`.
  void record(size_t completions, Clock::time_point now) {
    count_ += completions;
    auto elapsed = now - windowStart_;
    if (elapsed < kWindow) return;
    // Busy: more than one completion per minWait over the window.
    busy_ = count_ * kBatch.minWait > elapsed;
    count_ = 0;
    windowStart_ = now;
  }

  WaitBatch next() const { return busy_ ? kBatch : WaitBatch{}; }
  bool busy() const { return busy_; }

 private:
  Clock::time_point windowStart_{};
  uint64_t count_ = 0;
  bool busy_ = false;
};

}  // namespace ringlb
