// Pure health-state logic: active rise/fall and passive ejection. No I/O, no
// clock: results and the current time are passed in, so tests are tables.
//
// Decisions (the user-visible contract):
// - Before its first probe result a backend is Unknown: shown as "unknown" and
//   it carries traffic. The first active result decides at once (a pass makes
//   it Up, a failure Down), so every backend's state is known within one probe
//   timeout of start. After that, `fall` consecutive failures turn Up into Down
//   and `rise` consecutive successes turn Down into Up.
// - Without active checks a backend stays Unknown (carrying traffic); only
//   passive ejection can take it out.
// - Passive ejection: `failures` consecutive passive failures reported by
//   workers (connect failures, resets, timeouts) eject a backend that carries
//   traffic for `baseTime`, doubled on each ejection that follows within
//   `stablePeriod` of the previous one ending, up to `maxTime`. An ejection is
//   refused (and counted) when it would put more than `maxEjectionPercent` of
//   the pool out, or leave no backend carrying traffic. An ejection ends when
//   its time is up (expireEjections) or early, after `rise` consecutive active
//   successes since it began (active checks prove the backend answers again).
// - The state shown is one value: Down (active) wins over Ejected, which wins
//   over Up/Unknown. Every change of it is returned as one Transition.
//
// Thread rules: health thread only (workers report passive results through
// the checker's queue).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace ringlb::health {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = Clock::duration;

enum class BackendState : uint8_t { Unknown, Up, Down, Ejected };

// "unknown", "up", "down", "ejected".
const char* toString(BackendState state);

// Unknown and Up backends receive traffic.
inline bool carriesTraffic(BackendState state) {
  return state == BackendState::Unknown || state == BackendState::Up;
}

// One change of a backend's shown state: the caller logs one line and counts.
struct Transition {
  size_t backend = 0;
  BackendState from = BackendState::Unknown;
  BackendState to = BackendState::Unknown;
  std::string reason;  // e.g. "3 consecutive failed http checks: connect refused"
};

struct RiseFallParams {
  uint32_t rise = 2;  // values below 1 count as 1
  uint32_t fall = 3;
  std::string_view check = "tcp";  // names the check in reasons; must be a literal
};

// Active rise/fall of one backend: Unknown, Up or Down.
class RiseFall {
 public:
  explicit RiseFall(RiseFallParams params) : params_(params) {}

  // Records one probe result; returns the state change it caused, if any
  // (with backend index 0: the pool fills it in).
  std::optional<Transition> record(bool ok, std::string_view detail);

  BackendState state() const { return state_; }
  // Some results point to a change but not yet enough of them: the scheduler
  // probes faster meanwhile.
  bool transitioning() const;
  uint32_t successes() const { return successes_; }
  uint32_t failures() const { return failures_; }

 private:
  std::string firstResultReason(bool ok, std::string_view detail) const;

  RiseFallParams params_;
  BackendState state_ = BackendState::Unknown;
  uint32_t successes_ = 0;  // consecutive
  uint32_t failures_ = 0;   // consecutive
};

struct EjectionParams {
  uint32_t failures = 5;  // consecutive passive failures that eject; 0 = never eject
  Duration baseTime = std::chrono::seconds(30);
  Duration maxTime = std::chrono::seconds(300);
  Duration stablePeriod = std::chrono::seconds(300);  // resets the doubling
  uint32_t maxEjectionPercent = 50;
};

struct HealthParams {
  RiseFallParams active;
  EjectionParams passive;

  // The pool's settings: health.{rise,fall,check}, passive_failures,
  // ejection_time (maxTime and stablePeriod: 10x it, at least 300 s) and
  // max_ejection_percent.
  static HealthParams fromConfig(const config::PoolConfig& pool);
};

// Health of every backend of one pool, indexed like the pool's backend list.
class PoolHealth {
 public:
  PoolHealth(size_t backends, HealthParams params);

  std::optional<Transition> onProbeResult(size_t backend, bool ok, std::string_view detail,
                                          TimePoint now);
  // A worker saw a connect failure, reset or timeout talking to `backend`.
  std::optional<Transition> onPassiveFailure(size_t backend, std::string_view detail,
                                             TimePoint now);
  // A worker completed an exchange with `backend`: the failure run is broken.
  void onPassiveSuccess(size_t backend);
  // Ends every ejection whose time is up, appending one Transition each.
  void expireEjections(TimePoint now, std::vector<Transition>& out);
  // When the earliest ejection ends; nullopt when none is in force.
  std::optional<TimePoint> nextEjectionEnd() const;

  BackendState state(size_t backend) const;
  bool transitioning(size_t backend) const { return backends_[backend].active.transitioning(); }
  size_t size() const { return backends_.size(); }
  size_t ejectedCount() const { return ejected_; }
  // Ejections not done because of maxEjectionPercent or the last-backend rule.
  uint64_t refusedEjections() const { return refused_; }

 private:
  struct Backend {
    explicit Backend(RiseFallParams p) : active(p) {}
    RiseFall active;
    uint32_t passiveFailures = 0;  // consecutive
    bool ejected = false;
    TimePoint ejectedUntil{};
    TimePoint lastEjectionEnd{};
    uint32_t ejections = 0;  // recent ejections: the doubling exponent
    uint32_t activeSuccessesWhileEjected = 0;
  };

  bool mayEject() const;
  Duration ejectionTime(Backend& b, TimePoint now);
  std::string eject(Backend& b, TimePoint now, std::string_view detail);
  void endEjection(Backend& b, TimePoint now);
  std::optional<Transition> change(size_t backend, BackendState before, std::string reason) const;

  HealthParams params_;
  std::vector<Backend> backends_;
  size_t ejected_ = 0;
  uint64_t refused_ = 0;
};

}  // namespace ringlb::health
