// One backend of a pool as seen in a BackendSet snapshot: address, weight,
// tier (primary or backup) and health state. Plain values, no behaviour.
//
// Thread rules: immutable once its BackendSet is published; any thread reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "config/model.h"

namespace ringlb::upstream {

// The coarse monotonic clock that callers pass to pick() and the health thread
// stamps state changes with.
using MonoClock = std::chrono::steady_clock;
using MonoTime = MonoClock::time_point;

// Weights are scaled so that a slow-start ramp has resolution below weight 1.
inline constexpr uint64_t kWeightScale = 1024;

struct Backend {
  // Identity (pool name + address as written) survives reloads and health
  // updates; everything else may change from one snapshot to the next.
  std::string pool;
  std::string address;
  config::SocketAddress resolved;
  uint32_t weight = 1;
  bool backup = false;
  bool up = true;
  // When it last came up; the epoch (MonoTime{}) means "up since start", which
  // never ramps.
  MonoTime upSince{};

  bool sameIdentity(const Backend& other) const {
    return address == other.address && pool == other.pool;
  }
};

// Weight in kWeightScale units at `now`: the configured weight, ramped
// linearly from (almost) zero over `slowStart` after the backend came up.
inline uint64_t effectiveWeight(const Backend& b, config::Duration slowStart, MonoTime now) {
  const uint64_t full = uint64_t{b.weight} * kWeightScale;
  if (slowStart.count() <= 0 || b.upSince == MonoTime{}) return full;
  if (now >= b.upSince + slowStart) return full;
  if (now <= b.upSince) return 1;
  const auto elapsed = std::chrono::duration_cast<config::Duration>(now - b.upSince).count();
  const uint64_t ramped = full * uint64_t(elapsed) / uint64_t(slowStart.count());
  return ramped == 0 ? 1 : ramped;
}

}  // namespace ringlb::upstream
