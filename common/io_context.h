// IoContext: the parts of one worker's event loop that its streams use: the
// ring, the provided-buffer rings and block pool behind byte queues, the
// timer wheel and the loop's clock. The worker owns one; a unit test builds
// its own around a ring of its thread, with no worker at all.
//
// Worker thread only (the thread of the ring). Outlives every stream.
#pragma once

#include <chrono>

#include "common/buffer_ring.h"
#include "common/byte_queue.h"
#include "common/ring.h"
#include "common/timer_wheel.h"

namespace ringlb {

struct IoContext {
  Ring& ring;
  BufferStore store;  // the small and bulk rings and the block pool
  TimerWheel& timers;
  // The loop's clock: read once per wake-up, after the wait.
  const std::chrono::steady_clock::time_point& now;

  BufferRing& buffers(bool bulk) const { return bulk ? store.bulk : store.small; }
};

}  // namespace ringlb
