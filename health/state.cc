#include "health/state.h"

#include <algorithm>
#include <utility>

namespace ringlb::health {
namespace {

// "30s" or "1500ms".
std::string formatDuration(Duration d) {
  using std::chrono::duration_cast;
  if (d % std::chrono::seconds(1) == Duration::zero()) {
    return std::to_string(duration_cast<std::chrono::seconds>(d).count()) + "s";
  }
  return std::to_string(duration_cast<std::chrono::milliseconds>(d).count()) + "ms";
}

// "3 consecutive failed http checks" or "1 failed http check".
std::string runOf(uint32_t count, std::string_view outcome, std::string_view check) {
  std::string text = std::to_string(count) + (count == 1 ? " " : " consecutive ");
  text.append(outcome).append(" ").append(check).append(count == 1 ? " check" : " checks");
  return text;
}

std::string withDetail(std::string text, std::string_view detail) {
  if (!detail.empty()) text.append(": ").append(detail);
  return text;
}

}  // namespace

const char* toString(BackendState state) {
  switch (state) {
    case BackendState::Unknown: return "unknown";
    case BackendState::Up: return "up";
    case BackendState::Down: return "down";
    case BackendState::Ejected: return "ejected";
  }
  return "?";
}

// --- RiseFall ---------------------------------------------------------------

std::optional<Transition> RiseFall::record(bool ok, std::string_view detail) {
  if (ok) {
    ++successes_;
    failures_ = 0;
  } else {
    ++failures_;
    successes_ = 0;
  }
  const BackendState before = state_;
  std::string reason;
  if (state_ == BackendState::Unknown) {
    state_ = ok ? BackendState::Up : BackendState::Down;
    reason = firstResultReason(ok, detail);
  } else if (state_ == BackendState::Up && failures_ >= std::max(params_.fall, 1u)) {
    state_ = BackendState::Down;
    reason = withDetail(runOf(failures_, "failed", params_.check), detail);
  } else if (state_ == BackendState::Down && successes_ >= std::max(params_.rise, 1u)) {
    state_ = BackendState::Up;
    reason = runOf(successes_, "successful", params_.check);
  }
  if (state_ == before) return std::nullopt;
  return Transition{0, before, state_, std::move(reason)};
}

std::string RiseFall::firstResultReason(bool ok, std::string_view detail) const {
  std::string text = "first ";
  text.append(params_.check).append(ok ? " check passed" : " check failed");
  return ok ? text : withDetail(std::move(text), detail);
}

bool RiseFall::transitioning() const {
  return (state_ == BackendState::Up && failures_ > 0) ||
         (state_ == BackendState::Down && successes_ > 0);
}

// --- HealthParams -----------------------------------------------------------

HealthParams HealthParams::fromConfig(const config::PoolConfig& pool) {
  HealthParams params;
  if (pool.health) {
    params.active.rise = pool.health->rise;
    params.active.fall = pool.health->fall;
    params.active.check = pool.health->check == config::HealthCheckKind::Http ? "http" : "tcp";
  }
  EjectionParams& passive = params.passive;
  passive.failures = pool.passiveFailures;
  passive.baseTime = pool.ejectionTime;
  passive.maxTime = std::max<Duration>(pool.ejectionTime * 10, std::chrono::seconds(300));
  passive.stablePeriod = passive.maxTime;
  passive.maxEjectionPercent = pool.maxEjectionPercent;
  return params;
}

// --- PoolHealth -------------------------------------------------------------

PoolHealth::PoolHealth(size_t backends, HealthParams params) : params_(params) {
  backends_.reserve(backends);
  for (size_t i = 0; i < backends; ++i) backends_.emplace_back(params.active);
}

BackendState PoolHealth::state(size_t backend) const {
  const Backend& b = backends_[backend];
  BackendState active = b.active.state();
  if (active == BackendState::Down) return BackendState::Down;
  return b.ejected ? BackendState::Ejected : active;
}

std::optional<Transition> PoolHealth::change(size_t backend, BackendState before,
                                             std::string reason) const {
  BackendState after = state(backend);
  if (after == before) return std::nullopt;
  return Transition{backend, before, after, std::move(reason)};
}

std::optional<Transition> PoolHealth::onProbeResult(size_t backend, bool ok,
                                                    std::string_view detail, TimePoint now) {
  Backend& b = backends_[backend];
  const BackendState before = state(backend);
  auto active = b.active.record(ok, detail);
  std::string reason = active ? std::move(active->reason) : std::string();
  if (b.ejected) {
    b.activeSuccessesWhileEjected = ok ? b.activeSuccessesWhileEjected + 1 : 0;
    uint32_t needed = std::max(params_.active.rise, 1u);
    if (b.activeSuccessesWhileEjected >= needed) {
      endEjection(b, now);
      if (!reason.empty()) reason += "; ";
      reason += runOf(needed, "successful", params_.active.check) + " ended the ejection early";
    }
  }
  return change(backend, before, std::move(reason));
}

std::optional<Transition> PoolHealth::onPassiveFailure(size_t backend, std::string_view detail,
                                                       TimePoint now) {
  Backend& b = backends_[backend];
  const BackendState before = state(backend);
  // Down or already ejected: late reports from connections started before.
  if (params_.passive.failures == 0 || !carriesTraffic(before)) return std::nullopt;
  if (++b.passiveFailures < params_.passive.failures) return std::nullopt;
  if (!mayEject()) {
    ++refused_;  // the run continues: the next failure tries again
    return std::nullopt;
  }
  return change(backend, before, eject(b, now, detail));
}

void PoolHealth::onPassiveSuccess(size_t backend) { backends_[backend].passiveFailures = 0; }

bool PoolHealth::mayEject() const {
  size_t total = backends_.size();
  if ((ejected_ + 1) * 100 > params_.passive.maxEjectionPercent * total) return false;
  size_t serving = 0;
  for (size_t i = 0; i < total && serving < 2; ++i) serving += carriesTraffic(state(i)) ? 1 : 0;
  return serving >= 2;  // never the last backend carrying traffic
}

Duration PoolHealth::ejectionTime(Backend& b, TimePoint now) {
  const EjectionParams& p = params_.passive;
  if (b.ejections > 0 && now - b.lastEjectionEnd >= p.stablePeriod) b.ejections = 0;
  Duration length = p.baseTime;
  for (uint32_t i = 0; i < b.ejections && length < p.maxTime; ++i) length *= 2;
  ++b.ejections;
  return std::min(length, p.maxTime);
}

std::string PoolHealth::eject(Backend& b, TimePoint now, std::string_view detail) {
  std::string reason = std::to_string(b.passiveFailures) + " consecutive passive failures";
  Duration length = ejectionTime(b, now);
  b.ejected = true;
  b.ejectedUntil = now + length;
  b.passiveFailures = 0;
  b.activeSuccessesWhileEjected = 0;
  ++ejected_;
  return withDetail(std::move(reason), detail) + "; ejected for " + formatDuration(length);
}

void PoolHealth::endEjection(Backend& b, TimePoint now) {
  b.ejected = false;
  b.lastEjectionEnd = now;
  b.passiveFailures = 0;
  --ejected_;
}

void PoolHealth::expireEjections(TimePoint now, std::vector<Transition>& out) {
  for (size_t i = 0; i < backends_.size(); ++i) {
    Backend& b = backends_[i];
    if (!b.ejected || now < b.ejectedUntil) continue;
    const BackendState before = state(i);
    endEjection(b, now);
    if (auto t = change(i, before, "ejection time over")) out.push_back(std::move(*t));
  }
}

std::optional<TimePoint> PoolHealth::nextEjectionEnd() const {
  std::optional<TimePoint> next;
  for (const Backend& b : backends_) {
    if (b.ejected && (!next || b.ejectedUntil < *next)) next = b.ejectedUntil;
  }
  return next;
}

}  // namespace ringlb::health
