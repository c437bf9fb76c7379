#include "common/admin/admin_snapshot.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <ctime>
#include <utility>

#include "common/access_log.h"
#include "common/backend_status.h"
#include "common/shared_services.h"
#include "common/worker.h"

namespace ringlb::admin {
namespace {

ListenerView listenerFromConfig(const config::ListenerConfig& l) {
  ListenerView v;
  v.name = l.name;
  v.bind = l.bind.text;
  v.mode = modeName(l.mode);
  v.tls = l.tls.has_value();
  v.http2 = l.mode == config::ListenerMode::Http &&
            (l.speaks(config::HttpProtocol::H2) || l.speaks(config::HttpProtocol::H2c));
  v.pool = l.pool;
  v.cache = std::any_of(l.routes.begin(), l.routes.end(),
                        [](const config::RouteConfig& r) { return r.cache.has_value(); });
  return v;
}

void addListenerStats(ListenerView& v, const ListenerStats& s) {
  v.connectionsAccepted += s.connectionsAccepted.get();
  v.acceptFailures += s.acceptFailures.get();
  v.connectionsActive += s.connectionsActive.get();
  v.bytesIn += s.bytesIn.get();
  v.bytesOut += s.bytesOut.get();
  for (size_t i = 0; i < s.requestsByCode.size(); ++i) {
    uint64_t n = s.requestsByCode[i].get();
    if (n != 0) v.requestsByCode[static_cast<int>(i) + 100] += n;
  }
  for (size_t i = 0; i < v.rejected.size(); ++i) v.rejected[i] += s.rejected[i].get();
  v.tlsFull += s.tls.full.get();
  v.tlsResumed += s.tls.resumed.get();
  v.tlsFailed += s.tls.failed.get();
  v.tlsTimedOut += s.tls.timedOut.get();
  v.requestDuration.add(s.requestDuration);
  for (size_t i = 0; i < v.cacheRequests.size(); ++i)
    v.cacheRequests[i] += s.cacheRequests[i].get();
  v.tunnelsActive += s.tunnelsActive.get();
  v.tunnelBytesFromClients += s.tunnelBytesFromClients.get();
  v.tunnelBytesToClients += s.tunnelBytesToClients.get();
  for (size_t i = 0; i < v.cacheRefreshes.size(); ++i)
    v.cacheRefreshes[i] += s.cacheRefreshes[i].get();
  v.http2StreamsActive += s.http2.streamsActive.get();
  for (size_t i = 0; i < kHttp2Codes; ++i) {
    v.http2GoawaysSent[i] += s.http2.goawaysSent[i].get();
    v.http2GoawaysReceived[i] += s.http2.goawaysReceived[i].get();
    v.http2ResetsSent[i] += s.http2.resetsSent[i].get();
    v.http2ResetsReceived[i] += s.http2.resetsReceived[i].get();
  }
  for (size_t i = 0; i < kHttp2Limits; ++i) v.http2LimitHits[i] += s.http2.limitHits[i].get();
  v.datagramsIn += s.datagramsIn.get();
  v.datagramsOut += s.datagramsOut.get();
  v.udpSessionsCreated += s.udp.sessionsCreated.get();
  v.udpIdleExpiries += s.udp.idleExpiries.get();
  v.udpEvictions += s.udp.evictions.get();
  v.udpIcmpErrors += s.udp.icmpErrors.get();
  v.udpDropped += s.udp.dropped.get();
  v.udpTruncated += s.udp.truncated.get();
}

BackendView backendFromStatus(const BackendStatus& s) {
  BackendView v;
  v.pool = s.pool;
  v.address = s.address;
  v.weight = s.weight;
  v.backup = s.backup;
  v.up = s.up && !s.ejected;
  v.checked = s.checked;
  v.ejected = s.ejected;
  v.lastReason = s.lastReason;
  if (s.changes != 0 || s.lastChange != std::chrono::system_clock::time_point{}) {
    v.lastChange = s.lastChange;
  }
  v.healthChanges = s.changes;
  v.probesOk = s.probesOk;
  v.probesFailed = s.probesFailed;
  v.probesSkipped = s.probesSkipped;
  return v;
}

void addBackendStats(BackendView& v, const BackendStats& s) {
  v.active += s.active.get();
  v.requests += s.requests.get();
  v.connectFailures += s.connectFailures.get();
  v.connectTime.add(s.connectTime);
}

// The pools of `config`, each backend with its board status (a backend the
// board does not know yet shows as up and unchecked).
std::vector<PoolView> poolsFromConfig(const config::Config& config,
                                      const BackendStatusBoard& statusBoard) {
  std::map<std::pair<std::string, std::string>, BackendStatus> board;
  for (auto& s : statusBoard.snapshot()) {
    board.emplace(std::make_pair(s.pool, s.address), std::move(s));
  }
  std::vector<PoolView> pools;
  for (const auto& [name, pool] : config.pools) {
    PoolView p;
    p.name = name;
    p.balance = balanceName(pool.balance);
    p.healthChecked = pool.health.has_value();
    for (const auto& b : pool.backends) {
      auto it = board.find({name, b.address});
      BackendStatus status;
      if (it != board.end()) status = it->second;
      status.pool = name;
      status.address = b.address;
      status.weight = b.weight;
      status.backup = b.backup;
      p.backends.push_back(backendFromStatus(status));
    }
    pools.push_back(std::move(p));
  }
  return pools;
}

}  // namespace

void HistogramView::add(const DurationHistogram& h) {
  for (size_t i = 0; i < buckets.size(); ++i) buckets[i] += h.buckets[i].get();
  count += h.count.get();
  sumMicros += h.sumMicros.get();
}

uint64_t ListenerView::requestsTotal() const {
  uint64_t total = 0;
  for (const auto& [code, n] : requestsByCode) total += n;
  return total;
}

uint64_t ListenerView::rateCounter() const {
  if (mode == "http" || mode == "forward") return requestsTotal();
  if (mode == "udp") return datagramsIn;
  return connectionsAccepted;
}

const char* modeName(config::ListenerMode mode) {
  switch (mode) {
    case config::ListenerMode::Tcp: return "tcp";
    case config::ListenerMode::Udp: return "udp";
    case config::ListenerMode::Http: return "http";
    case config::ListenerMode::Forward: return "forward";
  }
  return "tcp";
}

const char* balanceName(config::BalanceAlgorithm balance) {
  switch (balance) {
    case config::BalanceAlgorithm::RoundRobin: return "round_robin";
    case config::BalanceAlgorithm::LeastConn: return "least_conn";
    case config::BalanceAlgorithm::RandomTwo: return "random_two";
    case config::BalanceAlgorithm::Hash: return "hash";
  }
  return "round_robin";
}

std::string formatIso8601(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(t.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  const auto millis = ms - static_cast<int64_t>(seconds) * 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", tm, millis);
}

AdminSnapshot collectAdminSnapshot(const SharedServices& shared, const config::Config& config,
                                   const std::vector<Worker*>& workers,
                                   std::chrono::system_clock::time_point startTime) {
  AdminSnapshot snap;
  snap.now = std::chrono::system_clock::now();
  snap.startTime = startTime;
  std::map<std::string, size_t> listenerIndex;
  for (const auto& l : config.listeners) {
    listenerIndex[l.name] = snap.listeners.size();
    snap.listeners.push_back(listenerFromConfig(l));
  }
  snap.caches = shared.caches.gauges();
  const StatsRegistry& registry = shared.stats;
  registry.forEachListener([&](const ListenerStats& s) {
    auto it = listenerIndex.find(s.listener);
    if (it != listenerIndex.end()) addListenerStats(snap.listeners[it->second], s);
  });
  snap.pools = poolsFromConfig(config, shared.backendStatus);
  std::map<std::pair<std::string, std::string>, BackendView*> backendIndex;
  for (auto& p : snap.pools) {
    for (auto& b : p.backends) backendIndex[{b.pool, b.address}] = &b;
  }
  registry.forEachBackend([&](const BackendStats& s) {
    auto it = backendIndex.find({s.pool, s.backend});
    if (it != backendIndex.end()) addBackendStats(*it->second, s);
  });
  registry.forEachRoute([&](const RouteStats& s) {
    auto it = std::find_if(snap.routes.begin(), snap.routes.end(), [&](const RouteView& r) {
      return r.listener == s.listener && r.route == s.route;
    });
    if (it == snap.routes.end()) it = snap.routes.insert(snap.routes.end(), {s.listener, s.route});
    it->rateLimited += s.rateLimited.get();
    it->compressErrors += s.compressErrors.get();
    for (size_t i = 0; i < s.authFailures.size(); ++i)
      it->authFailures[i] += s.authFailures[i].get();
  });
  registry.forEachForwardRule([&](const ForwardRuleStats& s) {
    auto it = std::find_if(
        snap.forwardRules.begin(), snap.forwardRules.end(),
        [&](const ForwardRuleView& r) { return r.listener == s.listener && r.rule == s.rule; });
    if (it == snap.forwardRules.end()) {
      it = snap.forwardRules.insert(snap.forwardRules.end(), {s.listener, s.rule});
    }
    it->denied += s.denied.get();
  });
  for (size_t i = 0; i < workers.size(); ++i) {
    const WorkerCounters& c = workers[i]->counters();
    snap.workers.push_back({static_cast<unsigned>(i), workers[i]->activeConnections(),
                            c.wakeups.get(), c.batchedWaits.get(), c.completions.get(),
                            c.buffersExhausted.get(), c.recvRearms.get()});
  }
  snap.discovery = shared.discovery.read();
  snap.reloadsOk = registry.reloadsOk.get();
  snap.reloadsFailed = registry.reloadsFailed.get();
  snap.accessLogDropped = shared.accessLog.dropped();
  return snap;
}

}  // namespace ringlb::admin
