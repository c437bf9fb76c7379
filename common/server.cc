#include "common/server.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <thread>

#include "common/backend_status.h"
#include "common/config_watch.h"
#include "common/discovery/pool_discovery.h"
#include "common/log.h"
#include "common/socket.h"
#include "common/stats.h"
#include "config/load.h"

namespace ringlb {
namespace {

constexpr auto kSignalPoll = std::chrono::milliseconds(50);
// How long after an abort (drain deadline or second signal) the workers may
// take to collect their last completions before the process exits anyway.
constexpr auto kAbortGrace = std::chrono::milliseconds(1000);
// How often systemd's STATUS line is refreshed (connections open).
constexpr auto kStatusEvery = std::chrono::seconds(5);
// How long the start waits for the first answers of DNS discovery; a pool
// whose name has not answered by then starts empty and fills in later.
constexpr auto kFirstDiscovery = std::chrono::seconds(5);

bool discovers(const config::Config& config) {
  for (const auto& [name, pool] : config.pools) {
    if (pool.discover) return true;
  }
  return false;
}

unsigned workerCount(const config::Config& config) {
  if (config.global.workers != 0) return config.global.workers;
  unsigned cores = std::thread::hardware_concurrency();
  return cores == 0 ? 1 : cores;
}

bool sameSocket(const config::ListenerConfig& a, const config::ListenerConfig& b) {
  return a.bind == b.bind && a.mode == b.mode;
}

void logErrors(const std::vector<config::ConfigError>& errors) {
  for (const auto& e : errors) logError("{}", e.format());
}

// The status board lists the backends of the config in force; backends that
// stay (pool + address) keep their health state.
void publishBackendList(const config::Config& config, BackendStatusBoard& board) {
  std::vector<BackendStatus> list;
  for (const auto& [name, pool] : config.pools) {
    for (const auto& b : pool.backends) {
      BackendStatus s;
      s.pool = name;
      s.address = b.address;
      s.weight = b.weight;
      s.backup = b.backup;
      list.push_back(std::move(s));
    }
  }
  board.setBackends(list);
}

}  // namespace

// Each proxied connection needs two descriptors: take the hard limit, as
// HAProxy and NGINX (worker_rlimit_nofile) do.
void raiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

void blockServerSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Server::Server(ServiceFactories factories) : factories_(std::move(factories)) {}

Server::~Server() {
  for (auto& w : workers_) w->join();
}

void Server::addExtension(std::unique_ptr<ServerExtension> extension) {
  extensions_.push_back(std::move(extension));
}

int Server::run(const std::string& path) {
  path_ = path;
  config::LoadResult loaded = config::loadConfigFile(path);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) fmt::print(stderr, "{}\n", e.format());
    return 1;
  }
  return serve(std::move(*loaded.config));
}

int Server::serve(config::Config config) {
  blockServerSignals();
  raiseFileLimit();
  setLogLevel(config.global.logLevel);
  followDiscovery(config, /*waitFirst=*/true);
  config_ = std::make_shared<const config::Config>(std::move(config));
  publishBackendList(*config_, shared_.backendStatus);
  std::string error;
  std::vector<OpenListener> listeners;
  if (!startWorkers(*config_, &listeners, &error)) {
    fmt::print(stderr, "ringlb: {}\n", error);
    stopWorkers(true);
    return 1;
  }
  std::vector<Worker*> workers;
  for (auto& w : workers_) workers.push_back(w.get());
  for (size_t i = 0; i < extensions_.size(); ++i) {
    error = extensions_[i]->start(*config_, workers);
    if (!error.empty()) {
      fmt::print(stderr, "ringlb: {}\n", error);
      // Stop what started (it may read the workers) before the workers go.
      for (size_t j = i; j-- > 0;) extensions_[j]->stop();
      for (auto& l : listeners) {
        for (int fd : l.fds) close(fd);
      }
      stopWorkers(true);
      for (auto& w : workers_) w->join();
      return 1;
    }
  }
  startAccepting(std::move(listeners));
  logInfo("ringlb {} started: {} workers, {} listeners", RINGLB_VERSION_STRING, workers_.size(),
          config_->listeners.size());
  followWatchConfig();
  notifier_.ready(statusLine());
  waitForSignals();
  discovery_.reset();
  for (auto& ext : extensions_) ext->stop();
  logInfo("stopped");
  return 0;
}

bool Server::openListener(const config::ListenerConfig& listener, OpenListener* out,
                          std::string* error) {
  out->config = listener;
  for (size_t i = 0; i < workers_.size(); ++i) {
    std::string why;
    int fd = listener.mode == config::ListenerMode::Udp ? openUdpSocket(listener.bind, &why)
                                                        : openTcpListener(listener.bind, &why);
    if (fd < 0) {
      *error = fmt::format("listener {}: {}", listener.name, why);
      for (int open : out->fds) close(open);
      out->fds.clear();
      return false;
    }
    out->fds.push_back(fd);
  }
  return true;
}

bool Server::modesSupported(const config::Config& config, std::string* error) const {
  for (const auto& listener : config.listeners) {
    if (factories_.count(listener.mode) == 0) {
      *error =
          fmt::format("listener {}: this build of ringlb cannot serve its mode yet", listener.name);
      return false;
    }
  }
  return true;
}

bool Server::startWorkers(const config::Config& config, std::vector<OpenListener>* opened,
                          std::string* error) {
  unsigned count = workerCount(config);
  for (unsigned i = 0; i < count; ++i) {
    WorkerOptions options;
    options.shared = &shared_;
    options.index = i;
    options.workerCount = count;
    options.maxConnections = std::max(1u, config.global.maxConnections / count);
    workers_.push_back(std::make_unique<Worker>(options, factories_));
  }
  if (!modesSupported(config, error)) {
    workers_.clear();
    return false;
  }
  // Sockets first, so that a port in use fails before any thread starts.
  for (const auto& listener : config.listeners) {
    std::string why;
    int type = listener.mode == config::ListenerMode::Udp ? SOCK_DGRAM : SOCK_STREAM;
    if (!addressFree(listener.bind, type, &why)) {
      *error = fmt::format("listener {}: {}", listener.name, why);
      workers_.clear();
      return false;
    }
  }
  std::vector<OpenListener> listeners(config.listeners.size());
  for (size_t i = 0; i < config.listeners.size(); ++i) {
    if (!openListener(config.listeners[i], &listeners[i], error)) {
      for (size_t j = 0; j < i; ++j) {
        for (int fd : listeners[j].fds) close(fd);
      }
      workers_.clear();
      return false;
    }
  }
  for (auto& worker : workers_) {
    *error = worker->start();
    if (!error->empty()) {
      for (auto& l : listeners) {
        for (int fd : l.fds) close(fd);
      }
      return false;
    }
  }
  for (auto& worker : workers_) {
    worker->post([worker = worker.get(), cfg = config_] { worker->applyConfig(cfg); });
  }
  *opened = std::move(listeners);
  return true;
}

void Server::startAccepting(std::vector<OpenListener> listeners) {
  for (size_t w = 0; w < workers_.size(); ++w) {
    std::vector<std::pair<config::ListenerConfig, int>> mine;
    for (auto& l : listeners) mine.emplace_back(l.config, l.fds[w]);
    workers_[w]->post([worker = workers_[w].get(), mine = std::move(mine)] {
      for (const auto& [listener, fd] : mine) worker->addListener(listener, fd);
    });
  }
}

void Server::waitForSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  using Clock = std::chrono::steady_clock;
  bool stopping = false;
  Clock::time_point stopStart;
  Clock::time_point giveUp;  // the workers abort before; this catches a bug
  Clock::time_point nextStatus = Clock::now() + kStatusEvery;
  for (;;) {
    timespec poll{0, std::chrono::nanoseconds(kSignalPoll).count()};
    int sig = sigtimedwait(&set, nullptr, &poll);
    Clock::time_point now = Clock::now();
    if (sig == SIGHUP && !stopping) {
      notifiedReload("SIGHUP received");
    } else if (!stopping && watch_ && watch_->poll(now)) {
      notifiedReload("the config file changed (watch_config)");
    }
    if (!stopping && discovery_) applyDiscovered();
    if (now >= nextStatus) {
      notifier_.status(stopping ? "draining: " + statusLine() : statusLine());
      nextStatus = now + kStatusEvery;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      if (stopping) {
        logWarn("second stop signal: aborting open connections");
        stopWorkers(true);
        giveUp = std::min(giveUp, Clock::now() + kAbortGrace);
      } else {
        logInfo("{} received: closing listeners, draining for up to {} ms",
                sig == SIGTERM ? "SIGTERM" : "SIGINT", config_->global.drainTimeout.count());
        stopping = true;
        notifier_.stopping("draining: " + statusLine());
        stopStart = Clock::now();
        giveUp = stopStart + config_->global.drainTimeout + kAbortGrace;
        stopWorkers(false);
      }
    }
    if (stopping) {
      bool done = true;
      for (auto& w : workers_) done = done && w->finished();
      if (done) break;
      if (Clock::now() >= giveUp) {
        // Every session was aborted at the deadline; a worker still running
        // now is stuck on something that never completes. Exit anyway.
        logError("workers still running {} ms after the drain deadline; exiting without them",
                 kAbortGrace.count());
        std::_Exit(1);
      }
    }
  }
  for (auto& w : workers_) w->join();
  logInfo("drained: all connections closed {} ms after the stop signal",
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stopStart).count());
}

void Server::stopWorkers(bool abort) {
  for (auto& w : workers_) {
    if (w->finished()) continue;
    auto drain = config_ ? config_->global.drainTimeout : std::chrono::milliseconds(0);
    w->post([worker = w.get(), drain, abort] {
      worker->beginStop(drain);
      if (abort) worker->abortAll("second stop signal");
    });
  }
}

std::string Server::statusLine() const {
  size_t connections = 0;
  for (const auto& w : workers_) connections += w->activeConnections();
  return fmt::format("{} listeners, {} connections open", config_ ? config_->listeners.size() : 0,
                     connections);
}

void Server::followWatchConfig() {
  if (path_.empty() || !config_ || !config_->global.watchConfig) {
    if (watch_ && watch_->active()) logInfo("watch_config off: no longer watching {}", path_);
    watch_.reset();
    return;
  }
  if (!watch_) watch_ = std::make_unique<ConfigWatch>(path_);
  if (watch_->active()) return;
  std::string error;
  if (watch_->start(&error)) {
    logInfo("watch_config: reloading when {} changes", path_);
  } else {
    logError("watch_config: {}; changes need SIGHUP", error);
    watch_.reset();
  }
}

void Server::notifiedReload(std::string_view why) {
  notifier_.reloading(fmt::format("reloading {}", path_));
  bool ok = reload(why);
  followWatchConfig();
  notifier_.ready(ok ? statusLine()
                     : "reload refused, the previous config stays in force; " + statusLine());
}

bool Server::reload(std::string_view why) {
  if (path_.empty()) {
    logWarn("{}: ignored, this instance has no config file to reload", why);
    return false;
  }
  logInfo("{}: reloading {}", why, path_);
  config::LoadResult loaded = config::loadConfigFile(path_);
  if (!loaded.config) {
    logError("reload refused, the running config stays in force; {} problem(s):",
             loaded.errors.size());
    logErrors(loaded.errors);
    shared_.stats.reloadsFailed.add();
    return false;
  }
  std::string unsupported;
  if (!modesSupported(*loaded.config, &unsupported)) {
    logError("reload refused, the running config stays in force: {}", unsupported);
    shared_.stats.reloadsFailed.add();
    return false;
  }
  if (workerCount(*loaded.config) != workers_.size()) {
    logWarn("global.workers changed: takes effect at the next restart");
  }
  // Discovered pools keep what DNS last gave for the same target.
  discovery::fillDiscovered(*loaded.config, discovered_);
  if (!applyReload(std::make_shared<const config::Config>(*loaded.config))) return false;
  followDiscovery(*loaded.config, /*waitFirst=*/false);
  return true;
}

void Server::followDiscovery(config::Config& config, bool waitFirst) {
  std::erase_if(discovered_, [&](const auto& e) {
    auto pool = config.pools.find(e.first);
    return pool == config.pools.end() || pool->second.discover != e.second.target;
  });
  if (!discovery_ && !discovers(config)) return;
  if (!discovery_) discovery_ = std::make_unique<discovery::PoolDiscovery>(shared_.discovery);
  std::string error = discovery_->setConfig(config, discovered_);
  if (!error.empty()) {
    logError("{}: pools with discover stay empty", error);
    discovery_.reset();
    return;
  }
  if (!waitFirst) return;
  auto giveUp = std::chrono::steady_clock::now() + kFirstDiscovery;
  while (!discovery_->settled() && std::chrono::steady_clock::now() < giveUp) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& change : discovery_->takeChanges()) {
    logInfo("discovery: pool {}: {} gave {} backends", change.pool, change.found.target.text,
            change.found.backends.size());
    discovered_[change.pool] = std::move(change.found);
  }
  discovery::fillDiscovered(config, discovered_);
}

void Server::applyDiscovered() {
  std::vector<discovery::PoolDiscovery::Change> changes = discovery_->takeChanges();
  if (changes.empty()) return;
  for (auto& change : changes) {
    logInfo("discovery: pool {}: {} now gives {} backends ({})", change.pool,
            change.found.target.text, change.found.backends.size(),
            change.diff.empty() ? "same" : change.diff);
    discovered_[change.pool] = std::move(change.found);
  }
  config::Config next = *config_;
  discovery::fillDiscovered(next, discovered_);
  applyReload(std::make_shared<const config::Config>(std::move(next)), /*fromFile=*/false);
}

bool Server::applyReload(std::shared_ptr<const config::Config> next, bool fromFile) {
  // Listeners whose socket (bind + mode) is unchanged keep it, so no pending
  // connection is lost; the others are opened before the old ones close.
  std::vector<OpenListener> added;
  std::vector<std::string> removed;
  for (const auto& listener : next->listeners) {
    const config::ListenerConfig* old = nullptr;
    for (const auto& l : config_->listeners) {
      if (l.name == listener.name) old = &l;
    }
    if (old != nullptr && sameSocket(*old, listener)) continue;
    if (old != nullptr) removed.push_back(old->name);
    OpenListener open;
    std::string error;
    if (!openListener(listener, &open, &error)) {
      logError("reload refused, the running config stays in force: {}", error);
      for (auto& a : added) {
        for (int fd : a.fds) close(fd);
      }
      shared_.stats.reloadsFailed.add();
      return false;
    }
    added.push_back(std::move(open));
  }
  for (const auto& l : config_->listeners) {
    bool kept = false;
    for (const auto& n : next->listeners) kept = kept || n.name == l.name;
    if (!kept) removed.push_back(l.name);
  }
  for (size_t w = 0; w < workers_.size(); ++w) {
    std::vector<std::pair<config::ListenerConfig, int>> mine;
    for (auto& a : added) mine.emplace_back(a.config, a.fds[w]);
    workers_[w]->post([worker = workers_[w].get(), next, removed, mine = std::move(mine)] {
      for (const auto& name : removed) worker->removeListener(name);
      worker->applyConfig(next);
      for (const auto& [listener, fd] : mine) worker->addListener(listener, fd);
    });
  }
  config_ = std::move(next);
  setLogLevel(config_->global.logLevel);
  publishBackendList(*config_, shared_.backendStatus);
  for (auto& ext : extensions_) ext->reload(config_);
  if (!fromFile) return true;
  shared_.stats.reloadsOk.add();
  logInfo("reload done: {} listeners ({} added, {} removed)", config_->listeners.size(),
          added.size(), removed.size());
  return true;
}

}  // namespace ringlb
