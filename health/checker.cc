#include "health/checker.h"

#include <functional>
#include <future>
#include <map>
#include <optional>
#include <thread>
#include <vector>

#include "common/backend_status.h"
#include "common/log.h"
#include "common/mailbox.h"
#include "common/passive_reports.h"
#include "common/ring.h"
#include "common/shared_services.h"
#include "common/socket.h"
#include "common/timer_wheel.h"
#include "common/tls/tls_context.h"
#include "health/probe_http.h"
#include "health/probe_tcp.h"
#include "health/publisher.h"
#include "health/schedule.h"
#include "health/state.h"

namespace ringlb::health {
namespace {

// How often passive reports are drained: also the longest sleep of the loop.
constexpr auto kPassivePoll = std::chrono::milliseconds(50);
constexpr unsigned kRingEntries = 256;

bool sameRanges(const std::vector<config::StatusRange>& a,
                const std::vector<config::StatusRange>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].low != b[i].low || a[i].high != b[i].high) return false;
  }
  return true;
}

bool sameHealth(const std::optional<config::HealthConfig>& a,
                const std::optional<config::HealthConfig>& b) {
  if (!a || !b) return !a && !b;
  return a->check == b->check && a->interval == b->interval && a->timeout == b->timeout &&
         a->rise == b->rise && a->fall == b->fall && a->path == b->path && a->host == b->host &&
         sameRanges(a->expectStatus, b->expectStatus);
}

// Same backends in the same order and the same checks: state carries over as is.
bool sameShape(const config::PoolConfig& a, const config::PoolConfig& b) {
  if (a.backends.size() != b.backends.size() || !sameHealth(a.health, b.health)) return false;
  if (a.passiveFailures != b.passiveFailures || a.ejectionTime != b.ejectionTime ||
      a.maxEjectionPercent != b.maxEjectionPercent) {
    return false;
  }
  for (size_t i = 0; i < a.backends.size(); ++i) {
    if (a.backends[i].address != b.backends[i].address) return false;
  }
  return true;
}

struct TrackedBackend {
  std::string address;
  config::SocketAddress resolved;
  std::unique_ptr<Probe> probe;  // null without active checks
  bool passiveRun = false;       // failures reported since the last success
};

struct TrackedPool {
  TrackedPool(const config::PoolConfig& pool, TimePoint now, uint64_t seed)
      : config(pool), health(pool.backends.size(), HealthParams::fromConfig(pool)) {
    if (pool.health) {
      schedule.emplace(pool.backends.size(), ScheduleParams::fromConfig(*pool.health), now, seed);
    }
    for (const config::BackendConfig& b : pool.backends) {
      backends.push_back(TrackedBackend{b.address, b.resolved, nullptr, false});
    }
  }

  std::optional<size_t> find(std::string_view address) const {
    for (size_t i = 0; i < backends.size(); ++i) {
      if (backends[i].address == address) return i;
    }
    return std::nullopt;
  }

  config::PoolConfig config;
  PoolHealth health;
  std::optional<ProbeSchedule> schedule;
  std::vector<TrackedBackend> backends;
};

// Runs on the health thread, except post() (any thread).
class HealthLoop : public ProbeObserver {
 public:
  HealthLoop(Publisher& publisher, SharedServices& shared)
      : publisher_(publisher), reportQueue_(shared.passiveReports), board_(shared.backendStatus) {}
  ~HealthLoop() override = default;

  // The thread's body: sets up the ring, reports through `ready`, loops until beginStop().
  void run(std::shared_ptr<const config::Config> config, std::promise<std::string> ready);
  // Any thread, once run() has reported ready.
  void post(Mailbox::Task task) { mailbox_->post(std::move(task)); }

  void applyConfig(const std::shared_ptr<const config::Config>& config);
  void beginStop();

  void onProbeResult(Probe& probe, bool ok, std::string_view detail) override;
  void onProbeSkipped(Probe& probe, std::string_view detail) override;

 private:
  void loop();
  void teardown();
  std::chrono::nanoseconds waitBudget(TimePoint now);
  bool quiescent() const;
  void startDueProbes(TimePoint now);
  void drainPassiveReports(TimePoint now);
  void onPassiveReport(const PassiveReport& report, TimePoint now);
  void expireEjections(TimePoint now);
  void onTransition(TrackedPool& pool, const Transition& t, TimePoint now);
  void updateWantSuccesses();
  std::unique_ptr<TrackedPool> buildPool(const config::PoolConfig& config, TimePoint now);
  void carryOver(const TrackedPool& old, TrackedPool& fresh, TimePoint now);
  void syncPublished(TrackedPool& pool, TimePoint now);
  void retire(TrackedPool& pool);
  std::unique_ptr<Probe> makeProbe(const config::PoolConfig& pool, const TrackedBackend& b);

  Publisher& publisher_;
  PassiveReportQueue& reportQueue_;  // the server's: workers -> this thread
  BackendStatusBoard& board_;        // the server's: this thread -> /status
  std::optional<Ring> ring_;
  std::optional<Mailbox> mailbox_;
  std::optional<TimerWheel> timers_;
  std::map<std::string, std::unique_ptr<TrackedPool>> pools_;
  std::vector<std::unique_ptr<Probe>> retired_;  // cancelled, ops still completing
  std::vector<size_t> due_;
  std::vector<PassiveReport> reports_;
  std::vector<Transition> expired_;
  uint64_t seed_ = 0x5eed;
  bool stopping_ = false;
};

void HealthLoop::run(std::shared_ptr<const config::Config> config,
                     std::promise<std::string> ready) {
  try {
    ring_.emplace(kRingEntries);  // created here: SINGLE_ISSUER binds it to this thread
    mailbox_.emplace(*ring_);
    timers_.emplace(Clock::now());
  } catch (const RingSetupError& e) {
    ready.set_value(std::string("health checker: ") + e.what());
    return;
  }
  applyConfig(config);
  reportQueue_.open();
  ready.set_value("");
  loop();
  teardown();
}

void HealthLoop::loop() {
  mailbox_->start();
  while (!(stopping_ && quiescent())) {
    ring_->run(/*wait=*/true, waitBudget(Clock::now()));
    TimePoint now = Clock::now();
    timers_->advance(now);
    if (mailbox_->woken()) mailbox_->drain();
    std::erase_if(retired_, [](const auto& probe) { return probe->idle(); });
    if (stopping_) continue;
    drainPassiveReports(now);
    expireEjections(now);
    startDueProbes(now);
  }
}

void HealthLoop::teardown() {
  mailbox_->stop();
  while (mailbox_->opsInFlight() != 0) ring_->run(true, kPassivePoll);
  pools_.clear();
  timers_.reset();
  mailbox_.reset();
  ring_.reset();
}

std::chrono::nanoseconds HealthLoop::waitBudget(TimePoint now) {
  std::chrono::nanoseconds budget = kPassivePoll;
  if (auto next = timers_->timeUntilNext(now, kPassivePoll)) budget = std::min(budget, *next);
  for (const auto& [name, pool] : pools_) {
    std::optional<TimePoint> next;
    if (pool->schedule) next = pool->schedule->earliest();
    auto ejection = pool->health.nextEjectionEnd();
    if (ejection && (!next || *ejection < *next)) next = ejection;
    if (next) budget = std::min<std::chrono::nanoseconds>(budget, *next - now);
  }
  return std::max(budget, std::chrono::nanoseconds(0));
}

bool HealthLoop::quiescent() const {
  if (!retired_.empty()) return false;
  for (const auto& [name, pool] : pools_) {
    for (const TrackedBackend& b : pool->backends) {
      if (b.probe && !b.probe->idle()) return false;
    }
  }
  return true;
}

void HealthLoop::beginStop() {
  stopping_ = true;
  reportQueue_.close();
  for (auto& [name, pool] : pools_) {
    for (TrackedBackend& b : pool->backends) {
      if (b.probe) b.probe->cancel();
    }
  }
}

// --- active checks ------------------------------------------------------------

void HealthLoop::startDueProbes(TimePoint now) {
  for (auto& [name, pool] : pools_) {
    if (!pool->schedule) continue;
    due_.clear();
    pool->schedule->takeDue(now, due_);
    for (size_t i : due_) {
      Probe& probe = *pool->backends[i].probe;
      if (!probe.idle()) {
        // A cancelled check's ops are still completing (after a reload): next round.
        pool->schedule->probeFinished(i, now, pool->health.transitioning(i));
        continue;
      }
      probe.start(pool->backends[i].resolved, pool->config.health->timeout, now);
    }
  }
}

void HealthLoop::onProbeResult(Probe& probe, bool ok, std::string_view detail) {
  auto it = pools_.find(probe.pool());
  if (it == pools_.end()) return;
  TrackedPool& pool = *it->second;
  auto index = pool.find(probe.address());
  if (!index || pool.backends[*index].probe.get() != &probe) return;  // a retired probe
  TimePoint now = Clock::now();
  if (!ok)
    logDebug("health: pool {} backend {}: check failed: {}", probe.pool(), probe.address(), detail);
  board_.update(probe.pool(), probe.address(), [ok](BackendStatus& s) {
    s.checked = true;
    ++(ok ? s.probesOk : s.probesFailed);
  });
  if (auto t = pool.health.onProbeResult(*index, ok, detail, now)) onTransition(pool, *t, now);
  pool.schedule->probeFinished(*index, now, pool.health.transitioning(*index));
}

// No socket for the check: this host is short, not the backend. Its state
// stays; the next check comes at the usual interval.
void HealthLoop::onProbeSkipped(Probe& probe, std::string_view detail) {
  auto it = pools_.find(probe.pool());
  if (it == pools_.end()) return;
  TrackedPool& pool = *it->second;
  auto index = pool.find(probe.address());
  if (!index || pool.backends[*index].probe.get() != &probe) return;  // a retired probe
  if (reportSocketShortageNow()) {
    logWarn(
        "health: pool {} backend {}: check not run: {}; backend states are kept until checks "
        "can run again (raise LimitNOFILE, ulimit -n, fs.file-max)",
        probe.pool(), probe.address(), detail);
  }
  board_.update(probe.pool(), probe.address(), [](BackendStatus& s) { ++s.probesSkipped; });
  TimePoint now = Clock::now();
  pool.schedule->probeFinished(*index, now, pool.health.transitioning(*index));
}

// --- passive reports and ejections --------------------------------------------

void HealthLoop::drainPassiveReports(TimePoint now) {
  reports_.clear();
  reportQueue_.drain(reports_);
  if (reports_.empty()) return;
  for (const PassiveReport& r : reports_) onPassiveReport(r, now);
  updateWantSuccesses();
}

void HealthLoop::onPassiveReport(const PassiveReport& report, TimePoint now) {
  auto it = pools_.find(report.pool);
  if (it == pools_.end()) return;
  TrackedPool& pool = *it->second;
  auto index = pool.find(report.address);
  if (!index) return;
  TrackedBackend& b = pool.backends[*index];
  if (!report.failure) {
    pool.health.onPassiveSuccess(*index);
    b.passiveRun = false;
    return;
  }
  b.passiveRun = carriesTraffic(pool.health.state(*index));
  if (auto t = pool.health.onPassiveFailure(*index, report.reason, now))
    onTransition(pool, *t, now);
}

void HealthLoop::updateWantSuccesses() {
  bool want = false;
  for (const auto& [name, pool] : pools_) {
    for (const TrackedBackend& b : pool->backends) want = want || b.passiveRun;
  }
  reportQueue_.setWantSuccesses(want);
}

void HealthLoop::expireEjections(TimePoint now) {
  for (auto& [name, pool] : pools_) {
    auto end = pool->health.nextEjectionEnd();
    if (!end || *end > now) continue;
    expired_.clear();
    pool->health.expireEjections(now, expired_);
    for (const Transition& t : expired_) onTransition(*pool, t, now);
  }
}

// --- state changes ------------------------------------------------------------

void HealthLoop::onTransition(TrackedPool& pool, const Transition& t, TimePoint now) {
  TrackedBackend& b = pool.backends[t.backend];
  const bool up = carriesTraffic(t.to);
  if (up) {
    logInfo("health: pool {} backend {}: {} -> {}: {}", pool.config.name, b.address,
            toString(t.from), toString(t.to), t.reason);
  } else {
    logWarn("health: pool {} backend {}: {} -> {}: {}", pool.config.name, b.address,
            toString(t.from), toString(t.to), t.reason);
  }
  // The workers are told first: /status never shows a state the data path
  // has not been sent yet.
  publisher_.update(pool.config.name, {{b.address, up}}, now);
  board_.update(pool.config.name, b.address, [&](BackendStatus& s) {
    s.up = up;
    s.ejected = t.to == BackendState::Ejected;
    s.lastReason = t.reason;
    s.lastChange = std::chrono::system_clock::now();
    ++s.changes;
  });
  // Failures seen before it went out say nothing about it once it is back.
  if (t.to == BackendState::Up) pool.health.onPassiveSuccess(t.backend);
  if (!up) b.passiveRun = false;
}

// --- configuration ------------------------------------------------------------

std::unique_ptr<Probe> HealthLoop::makeProbe(const config::PoolConfig& pool,
                                             const TrackedBackend& b) {
  const config::HealthConfig& h = *pool.health;
  if (h.check == config::HealthCheckKind::Http) {
    std::string request = buildHealthRequest(h.path, h.host.empty() ? b.address : h.host);
    std::shared_ptr<tls::BackendTls> tls;
    if (pool.tls) {  // probed over TLS like the data path connects
      std::string error;
      tls = tls::BackendTls::build(*pool.tls, tls::kAlpnHttp11, &error);  // checks speak HTTP/1.1
      if (!tls) logError("health: pool {}: TLS: {}", pool.name, error);
    }
    return std::make_unique<HttpProbe>(*ring_, *timers_, *this, pool.name, b.address,
                                       std::move(request), h.expectStatus, pool.tls.has_value(),
                                       std::move(tls));
  }
  return std::make_unique<TcpProbe>(*ring_, *timers_, *this, pool.name, b.address);
}

std::unique_ptr<TrackedPool> HealthLoop::buildPool(const config::PoolConfig& config,
                                                   TimePoint now) {
  auto pool = std::make_unique<TrackedPool>(config, now, seed_++);
  if (config.health) {
    for (TrackedBackend& b : pool->backends) b.probe = makeProbe(config, b);
  }
  return pool;
}

void HealthLoop::applyConfig(const std::shared_ptr<const config::Config>& config) {
  TimePoint now = Clock::now();
  std::map<std::string, std::unique_ptr<TrackedPool>> next;
  for (const auto& [name, poolConfig] : config->pools) {
    auto old = pools_.find(name);
    if (old != pools_.end() && sameShape(old->second->config, poolConfig)) {
      TrackedPool& kept = *old->second;
      kept.config = poolConfig;  // addresses may resolve differently now
      for (size_t i = 0; i < kept.backends.size(); ++i) {
        kept.backends[i].resolved = poolConfig.backends[i].resolved;
      }
      next.emplace(name, std::move(old->second));
      continue;
    }
    auto fresh = buildPool(poolConfig, now);
    if (old != pools_.end()) carryOver(*old->second, *fresh, now);
    next.emplace(name, std::move(fresh));
  }
  for (auto& [name, pool] : pools_) {
    if (pool) retire(*pool);
  }
  pools_ = std::move(next);
  for (auto& [name, pool] : pools_) syncPublished(*pool, now);
  updateWantSuccesses();
}

// A changed pool starts fresh, except that a backend that stays keeps its
// active verdict (up or down); rise/fall runs and ejections start over.
void HealthLoop::carryOver(const TrackedPool& old, TrackedPool& fresh, TimePoint now) {
  if (!fresh.config.health) return;  // no checks: unknown, carrying traffic
  for (size_t i = 0; i < fresh.backends.size(); ++i) {
    auto j = old.find(fresh.backends[i].address);
    if (!j) continue;
    BackendState state = old.health.state(*j);
    if (state == BackendState::Up || state == BackendState::Down) {
      (void)fresh.health.onProbeResult(i, state == BackendState::Up, "kept across reload", now);
    }
  }
}

// Makes the publisher and the status board agree with the pool's states.
void HealthLoop::syncPublished(TrackedPool& pool, TimePoint now) {
  std::vector<Publisher::BackendHealth> states;
  for (size_t i = 0; i < pool.backends.size(); ++i) {
    BackendState state = pool.health.state(i);
    states.push_back({pool.backends[i].address, carriesTraffic(state)});
    board_.update(pool.config.name, pool.backends[i].address, [&](BackendStatus& s) {
      s.up = carriesTraffic(state);
      s.ejected = state == BackendState::Ejected;
    });
  }
  publisher_.update(pool.config.name, states, now);
}

void HealthLoop::retire(TrackedPool& pool) {
  for (TrackedBackend& b : pool.backends) {
    if (!b.probe) continue;
    b.probe->cancel();
    if (!b.probe->idle()) retired_.push_back(std::move(b.probe));
  }
}

// --- the extension (main thread) ------------------------------------------------

class HealthChecker : public ServerExtension {
 public:
  explicit HealthChecker(SharedServices& shared) : shared_(shared) {}
  ~HealthChecker() override { stop(); }

  std::string start(const config::Config& config, std::vector<Worker*> workers) override {
    publisher_ = std::make_unique<Publisher>([workers](Publisher::SetPtr set) {
      for (Worker* w : workers) {
        if (!w->finished()) w->post([w, set] { w->updatePool(set); });
      }
    });
    publisher_->setConfig(config, Clock::now());
    loop_ = std::make_unique<HealthLoop>(*publisher_, shared_);
    auto snapshot = std::make_shared<const config::Config>(config);
    std::promise<std::string> ready;
    std::future<std::string> result = ready.get_future();
    thread_ = std::thread(
        [this, snapshot, p = std::move(ready)]() mutable { loop_->run(snapshot, std::move(p)); });
    std::string error = result.get();
    if (!error.empty()) thread_.join();
    return error;
  }

  void reload(const std::shared_ptr<const config::Config>& config) override {
    if (!thread_.joinable()) return;
    // Posted to the workers right behind the new config: same mailbox drain.
    publisher_->setConfig(*config, Clock::now());
    loop_->post([loop = loop_.get(), config] { loop->applyConfig(config); });
  }

  void stop() override {
    if (!thread_.joinable()) return;
    loop_->post([loop = loop_.get()] { loop->beginStop(); });
    thread_.join();
  }

 private:
  SharedServices& shared_;
  std::unique_ptr<Publisher> publisher_;
  std::unique_ptr<HealthLoop> loop_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<ServerExtension> makeHealthChecker(SharedServices& shared) {
  return std::make_unique<HealthChecker>(shared);
}

}  // namespace ringlb::health
