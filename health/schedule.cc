#include "health/schedule.h"

#include <algorithm>

namespace ringlb::health {

Duration ScheduleParams::fastIntervalFor(Duration interval) {
  return std::min<Duration>(interval,
                            std::max<Duration>(interval / 4, std::chrono::milliseconds(100)));
}

ScheduleParams ScheduleParams::fromConfig(const config::HealthConfig& health) {
  ScheduleParams params;
  params.interval = health.interval;
  params.fastInterval = fastIntervalFor(health.interval);
  return params;
}

ProbeSchedule::ProbeSchedule(size_t backends, ScheduleParams params, TimePoint start, uint64_t seed)
    : params_(params), next_(backends), rngState_(seed) {
  params_.jitterPercent = std::min(params_.jitterPercent, 50u);
  // Evenly spread first probes: backend i at start + spread * i / n.
  for (size_t i = 0; i < backends; ++i) {
    next_[i] =
        start + params_.startSpread * static_cast<int64_t>(i) / static_cast<int64_t>(backends);
  }
}

uint64_t ProbeSchedule::random() {
  uint64_t z = (rngState_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Duration ProbeSchedule::maxJitter(Duration nominal) const {
  return nominal * params_.jitterPercent / 100;
}

Duration ProbeSchedule::nextWait(bool transitioning) {
  Duration nominal = transitioning ? params_.fastInterval : params_.interval;
  auto jitter = static_cast<uint64_t>(maxJitter(nominal).count());
  if (jitter == 0) return nominal;
  // Uniform in [-jitter, +jitter]; the modulo bias is negligible at these sizes.
  auto offset = static_cast<int64_t>(random() % (2 * jitter + 1)) - static_cast<int64_t>(jitter);
  return nominal + Duration(offset);
}

TimePoint ProbeSchedule::probeFinished(size_t backend, TimePoint now, bool transitioning) {
  next_[backend] = now + nextWait(transitioning);
  return next_[backend];
}

void ProbeSchedule::takeDue(TimePoint now, std::vector<size_t>& out) {
  for (size_t i = 0; i < next_.size(); ++i) {
    if (next_[i] > now) continue;
    next_[i] = TimePoint::max();
    out.push_back(i);
  }
}

std::optional<TimePoint> ProbeSchedule::earliest() const {
  auto it = std::min_element(next_.begin(), next_.end());
  if (it == next_.end() || *it == TimePoint::max()) return std::nullopt;
  return *it;
}

}  // namespace ringlb::health
