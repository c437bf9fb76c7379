// ProbeSchedule: when each backend of a pool is probed next. Pure: the clock
// is passed in and the jitter comes from a seeded generator, so tests replay.
//
// - Every backend gets its first probe at start, spread evenly over
//   `startSpread` (a few ms) so a large pool does not send its SYNs at once.
// - The next probe is due `interval` after the previous one finished (its
//   result or its timeout), so one backend never has two probes in flight.
// - While a backend is transitioning (some results point to a change, not yet
//   `rise`/`fall` of them) the wait is `fastInterval` instead, so a state
//   change is confirmed sooner.
// - Every wait is varied by up to +-jitterPercent, which spreads probes that
//   started together.
//
// Thread rules: health thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "config/model.h"
#include "health/state.h"

namespace ringlb::health {

struct ScheduleParams {
  Duration interval = std::chrono::seconds(2);
  // interval/4, at least 100 ms, never more than interval.
  Duration fastInterval = std::chrono::milliseconds(500);
  uint32_t jitterPercent = 10;  // capped at 50
  Duration startSpread = std::chrono::milliseconds(5);

  // interval from the config; fastInterval derived from it.
  static ScheduleParams fromConfig(const config::HealthConfig& health);
  static Duration fastIntervalFor(Duration interval);
};

class ProbeSchedule {
 public:
  ProbeSchedule(size_t backends, ScheduleParams params, TimePoint start, uint64_t seed);

  // When `backend` is to be probed next; TimePoint::max() while its probe is
  // in flight.
  TimePoint next(size_t backend) const { return next_[backend]; }
  // Appends the backends due at `now` and marks their probes in flight.
  void takeDue(TimePoint now, std::vector<size_t>& out);
  // A probe of `backend` finished at `now`: sets and returns its next time.
  TimePoint probeFinished(size_t backend, TimePoint now, bool transitioning);
  // The earliest next probe; nullopt when none is waiting.
  std::optional<TimePoint> earliest() const;

  // The wait before the next probe, jittered.
  Duration nextWait(bool transitioning);
  // The most a wait may differ from its nominal interval.
  Duration maxJitter(Duration nominal) const;

 private:
  uint64_t random();  // splitmix64: tiny, seedable, the same on every platform

  ScheduleParams params_;
  std::vector<TimePoint> next_;
  uint64_t rngState_;
};

}  // namespace ringlb::health
