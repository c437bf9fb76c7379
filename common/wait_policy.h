// WaitPolicy: whether a worker's next wait for completions batches them
// (Ring's WaitBatch). Each wake-up costs an io_uring_enter and, after a
// sleep, a context switch: about 1.1 µs and several µs in this VM
// (FACTS.md). Under load, waiting kBatch.minWait for a batch cuts wake-ups
// several times (bench: 1.3 -> 0.2 enters per L4 request).
//
// A batched wait delays every completion in it by up to minWait, which pays
// only when the wait collects several: one client alone sees its request and
// its response each wait out the timer (at -c1, 0.16 ms median latency
// against 0.08 without batching). So batching starts when, at the rate of
// the last window, a wait would collect kStartAt completions, and stops below
// kStopAt; the gap keeps a load near the line from flapping.
//
// kBatch.completions is a cap that a burst may reach, not the usual end of a
// batch: a wait that ends on its count is woken by the core that delivered
// the last packet, an interrupt that core pays (a VM exit here), while one
// that ends on minWait is woken by this core's own timer. Ending on the
// timer cut the proxy CPU per request by about a tenth at -c64..-c256
// (docs/performance.md).
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
  static constexpr WaitBatch kBatch{64, std::chrono::microseconds(50)};
  static constexpr uint64_t kStartAt = 6;  // completions per minWait to start
  static constexpr uint64_t kStopAt = 4;   // and below which to stop
  static constexpr auto kWindow = std::chrono::milliseconds(1);

  // After each dispatch: `completions` were handled at `now`.
  void record(size_t completions, Clock::time_point now) {
    count_ += completions;
    auto elapsed = now - windowStart_;
    if (elapsed < kWindow) return;
    // count_ * minWait / elapsed: what one wait of minWait would collect.
    auto collected = count_ * kBatch.minWait;
    busy_ = collected >= (busy_ ? kStopAt : kStartAt) * elapsed;
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
