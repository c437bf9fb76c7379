// AdminSnapshot: one consistent-enough picture of ringlb for the admin
// endpoints (/metrics, /status, the status page), made of plain values.
//
// collectAdminSnapshot() reads the StatsRegistry (per-worker counters, summed
// here), the BackendStatusBoard and the workers' relaxed gauges, and keeps
// only the listeners and backends of `config`: the registry remembers every
// listener and backend that ever existed, a scrape shows the current ones.
// The renderers are pure functions of a snapshot, so tests build one by hand.
//
// Thread rules: collectAdminSnapshot() runs on the admin thread (it takes the
// registry's and the board's mutexes briefly). A snapshot is a value: any
// thread may read its own copy.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/cache_registry.h"
#include "common/discovery/discovery_status.h"
#include "common/stats.h"
#include "config/model.h"

namespace ringlb {
struct SharedServices;
class Worker;
}  // namespace ringlb

namespace ringlb::admin {

// A DurationHistogram summed across workers. `buckets` are per bucket (not
// cumulative); the last one is +Inf.
struct HistogramView {
  std::array<uint64_t, kDurationBuckets.size() + 1> buckets{};
  uint64_t count = 0;
  uint64_t sumMicros = 0;
  void add(const DurationHistogram& h);
};

struct ListenerView {
  std::string name;
  std::string bind;
  std::string mode;  // tcp | udp | http | forward
  std::string pool;
  uint64_t connectionsAccepted = 0;
  uint64_t acceptFailures = 0;
  uint64_t connectionsActive = 0;
  uint64_t bytesIn = 0;                             // from clients
  uint64_t bytesOut = 0;                            // to clients
  std::map<int, uint64_t> requestsByCode;           // only codes seen
  std::array<uint64_t, kRejectReasons> rejected{};  // index = RejectReason
  bool tls = false;                                 // a [listeners.NAME.tls] table
  uint64_t tlsFull = 0;                             // handshakes finished without a ticket
  uint64_t tlsResumed = 0;
  uint64_t tlsFailed = 0;
  uint64_t tlsTimedOut = 0;
  HistogramView requestDuration;
  std::array<uint64_t, kCacheResults.size()> cacheRequests{};  // index = CacheResult
  std::array<uint64_t, kCacheRefreshResults.size()> cacheRefreshes{};
  bool cache = false;  // a route has `cache`
  // http listeners with HTTP/2 in `protocols`.
  bool http2 = false;
  uint64_t http2StreamsActive = 0;
  std::array<uint64_t, kHttp2Codes> http2GoawaysSent{}, http2GoawaysReceived{};
  std::array<uint64_t, kHttp2Codes> http2ResetsSent{}, http2ResetsReceived{};
  std::array<uint64_t, kHttp2Limits> http2LimitHits{};
  uint64_t datagramsIn = 0;
  uint64_t datagramsOut = 0;
  // forward only.
  uint64_t tunnelsActive = 0;
  uint64_t tunnelBytesFromClients = 0;
  uint64_t tunnelBytesToClients = 0;
  // udp only.
  uint64_t udpSessionsCreated = 0;
  uint64_t udpIdleExpiries = 0;
  uint64_t udpEvictions = 0;
  uint64_t udpIcmpErrors = 0;
  uint64_t udpDropped = 0;
  uint64_t udpTruncated = 0;
  // Requests (http/forward) or connections (tcp) or datagrams in (udp) per
  // second over the last few seconds; filled by AdminRates.
  double rate = 0;

  uint64_t requestsTotal() const;
  // What `rate` counts for this listener's mode.
  uint64_t rateCounter() const;
};

struct BackendView {
  std::string pool;
  std::string address;
  uint32_t weight = 1;
  bool backup = false;
  bool up = true;  // "up" in /status: up and not ejected
  bool checked = false;
  bool ejected = false;
  std::string lastReason;
  std::optional<std::chrono::system_clock::time_point> lastChange;  // none before any change
  uint64_t healthChanges = 0;
  uint64_t probesOk = 0;
  uint64_t probesFailed = 0;
  uint64_t probesSkipped = 0;
  uint64_t active = 0;  // connections (tcp) or requests (http) in progress
  uint64_t requests = 0;
  uint64_t connectFailures = 0;
  HistogramView connectTime;
  double rate = 0;  // requests per second; filled by AdminRates
};

struct PoolView {
  std::string name;
  std::string balance;  // round_robin | least_conn | random_two | hash
  bool healthChecked = false;
  std::vector<BackendView> backends;
};

struct WorkerView {
  unsigned index = 0;
  uint64_t activeConnections = 0;
  uint64_t wakeups = 0;
  uint64_t batchedWaits = 0;
  uint64_t completions = 0;
  uint64_t buffersExhausted = 0;
  uint64_t recvRearms = 0;
};

// A route's gateway counters, summed over the workers.
struct RouteView {
  std::string listener;
  std::string route;  // "routes[N]"
  uint64_t rateLimited = 0;
  uint64_t compressErrors = 0;
  std::array<uint64_t, kAuthFailureReasons.size()> authFailures{};
};

// A forward listener's refusals by one ACL rule, summed over the workers.
struct ForwardRuleView {
  std::string listener;
  std::string rule;
  uint64_t denied = 0;
};

struct AdminSnapshot {
  std::chrono::system_clock::time_point now{};
  std::chrono::system_clock::time_point startTime{};
  std::vector<ListenerView> listeners;  // config order
  std::vector<PoolView> pools;          // by name
  std::vector<WorkerView> workers;
  std::vector<RouteView> routes;                          // those that counted something
  std::vector<ForwardRuleView> forwardRules;              // rules that refused something
  std::vector<CacheRegistry::Gauges> caches;              // routes with `cache`
  std::vector<discovery::PoolDiscoveryStatus> discovery;  // pools with `discover`
  uint64_t reloadsOk = 0;
  uint64_t reloadsFailed = 0;
  uint64_t accessLogDropped = 0;  // lines lost to a full access-log ring
};

const char* modeName(config::ListenerMode mode);
const char* balanceName(config::BalanceAlgorithm balance);
// "2026-11-26T22:34:56.123Z" (UTC, milliseconds).
std::string formatIso8601(std::chrono::system_clock::time_point t);

// Admin thread: reads the server's registries (`shared`) for the listeners
// and backends of `config`.
AdminSnapshot collectAdminSnapshot(const SharedServices& shared, const config::Config& config,
                                   const std::vector<Worker*>& workers,
                                   std::chrono::system_clock::time_point startTime);

}  // namespace ringlb::admin
