// Counters for /metrics and /status.
//
// Every counter has exactly one writer (the worker that owns it), so an
// increment is a relaxed load and store on a cache line no other thread
// writes: no locked instruction, no contention. Readers (the admin thread)
// load relaxed and sum across workers when scraped.
//
// Registration (creating the counters of a listener or backend on a worker)
// takes a mutex and happens at listener start or pool (re)build, never per
// request. Registered stats live as long as the registry (the server's
// SharedServices, which outlives every worker), so a pointer to
// them never dangles, even across reloads.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <tuple>

namespace ringlb {

// A single-writer counter.
class Counter {
 public:
  void add(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  void set(uint64_t n) { v_.store(n, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Request-duration histogram buckets (seconds), Prometheus style.
inline constexpr std::array<double, 12> kDurationBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};

struct DurationHistogram {
  std::array<Counter, kDurationBuckets.size() + 1> buckets;  // last = +Inf
  Counter count;
  Counter sumMicros;
  void observe(uint64_t micros);
};

// HTTP/2 error codes (RFC 9113 section 7) 0..13, and one slot for any other.
inline constexpr size_t kHttp2Codes = 15;
// Lower-case RFC name of an HTTP/2 error code ("enhance_your_calm"), "other" past 13.
const char* http2CodeName(size_t code);

// HTTP/2 attack limits that closed a connection or refused a stream.
enum class Http2Limit : uint8_t { RapidReset, ControlFlood, HeaderBlock, ConcurrentStreams };
inline constexpr size_t kHttp2Limits = 4;
const char* http2LimitName(Http2Limit limit);

// The `result` label of ringlb_cache_requests_total (docs/cache.md), in the
// order of l7's CacheResult.
inline constexpr std::array<const char*, 5> kCacheResults = {"hit", "miss", "stale", "revalidated",
                                                             "bypass"};
// The `result` label of ringlb_cache_refreshes_total: the background
// refreshes of stale-while-revalidate (a 304 kept the copy, a new answer
// came, or the backend failed), in the order of l7's CacheRefreshResult.
inline constexpr std::array<const char*, 3> kCacheRefreshResults = {"revalidated", "fetched",
                                                                    "failed"};

// How many RejectReason values there are (declared below).
inline constexpr size_t kRejectReasons = 10;

// One listener on one worker.
struct ListenerStats {
  std::string listener;
  unsigned worker = 0;
  // What StatsRegistry finds an entry by.
  auto key() { return std::tie(listener, worker); }
  Counter connectionsAccepted;
  Counter acceptFailures;     // failed accepts, each retried after a back-off
  Counter connectionsActive;  // gauge
  Counter bytesIn;            // from clients
  Counter bytesOut;           // to clients
  // http/forward: requests by final status code (index = code - 100).
  std::array<Counter, 500> requestsByCode;
  // Rejected before reaching a backend, by reason (see RejectReason).
  std::array<Counter, kRejectReasons> rejected;
  // TLS listeners: handshakes finished (full, or resumed from a ticket),
  // failed (an error, or the client gone first), not finished within
  // handshake_timeout.
  struct Tls {
    Counter full;
    Counter resumed;
    Counter failed;
    Counter timedOut;
  } tls;
  // http listeners speaking HTTP/2: streams open now, GOAWAY and RST_STREAM
  // frames each way by error code, limits that struck.
  struct Http2 {
    Counter streamsActive;  // gauge
    std::array<Counter, kHttp2Codes> goawaysSent, goawaysReceived, resetsSent, resetsReceived;
    std::array<Counter, kHttp2Limits> limitHits;
  } http2;
  DurationHistogram requestDuration;
  // http routes with `cache`: answers by result (CacheResult).
  std::array<Counter, kCacheResults.size()> cacheRequests;
  std::array<Counter, kCacheRefreshResults.size()> cacheRefreshes;
  // forward: CONNECT tunnels open now (gauge), and the bytes they carried
  // (counted when each ends).
  Counter tunnelsActive;
  Counter tunnelBytesFromClients;
  Counter tunnelBytesToClients;
  // udp: datagrams each way.
  Counter datagramsIn;
  Counter datagramsOut;
  // udp: session life cycle and datagrams that could not be relayed.
  struct Udp {
    Counter sessionsCreated;
    Counter idleExpiries;
    Counter evictions;   // least recently used session closed for room
    Counter icmpErrors;  // ECONNREFUSED and friends from a backend
    Counter dropped;     // could not be forwarded (no session, EAGAIN, error)
    Counter truncated;   // larger than the receive buffer
  } udp;

  void countRequest(int status) {
    if (status >= 100 && status < 600) requestsByCode[static_cast<size_t>(status - 100)].add();
  }
};

enum class RejectReason : uint8_t {
  BadRequest,       // 400 and friends: parser rejections
  HeaderTimeout,    // 408
  TooLarge,         // 413/414/431
  NoRoute,          // 404
  NoBackend,        // 503
  ConnectionLimit,  // over max_connections
  Denied,           // forward proxy ACL
  Other,
  TlsHandshake,  // TLS handshake failed or a bad TLS record: closed
  ClientLimit,   // forward: over max_connections_per_client, closed at accept
};
static_assert(static_cast<size_t>(RejectReason::ClientLimit) + 1 == kRejectReasons);
const char* rejectReasonName(RejectReason r);

// One backend of one pool on one worker.
struct BackendStats {
  std::string pool;
  std::string backend;  // address as written in the config
  unsigned worker = 0;
  auto key() { return std::tie(pool, backend, worker); }
  Counter active;  // gauge: connections or requests in progress
  Counter requests;
  Counter connectFailures;
  DurationHistogram connectTime;
};

// Why a route's authentication refused a request: the `reason` label of
// ringlb_auth_failures_total, in the order of l7's AuthFailure (None first).
inline constexpr std::array<const char*, 15> kAuthFailureReasons = {"",
                                                                    "missing",
                                                                    "unsupported_scheme",
                                                                    "malformed",
                                                                    "unknown_user",
                                                                    "bad_credentials",
                                                                    "bad_signature",
                                                                    "unknown_kid",
                                                                    "alg_refused",
                                                                    "expired",
                                                                    "not_yet_valid",
                                                                    "wrong_issuer",
                                                                    "wrong_audience",
                                                                    "unavailable",
                                                                    "throttled"};

// The API gateway's counters of one route ("routes[N]") on one worker.
struct RouteStats {
  std::string listener;
  std::string route;
  unsigned worker = 0;
  auto key() { return std::tie(listener, route, worker); }
  Counter rateLimited;     // answered 429
  Counter compressErrors;  // responses whose compression failed (the body was cut)
  std::array<Counter, kAuthFailureReasons.size()> authFailures;
};

// One forward listener's refusals by one ACL rule, on one worker.
struct ForwardRuleStats {
  std::string listener;
  std::string rule;  // AclVerdict::rule
  unsigned worker = 0;
  auto key() { return std::tie(listener, rule, worker); }
  Counter denied;
};

class StatsRegistry {
 public:
  // Any thread (mutex): the stats of (listener, worker), created on first use.
  ListenerStats& listener(const std::string& name, unsigned worker);
  BackendStats& backend(const std::string& pool, const std::string& address, unsigned worker);
  RouteStats& route(const std::string& listener, const std::string& route, unsigned worker);
  ForwardRuleStats& forwardRule(const std::string& listener, const std::string& rule,
                                unsigned worker);

  // Process-wide counters written by the main/health threads.
  Counter reloadsOk;
  Counter reloadsFailed;

  // Admin thread: visit everything registered so far.
  void forEachListener(const std::function<void(const ListenerStats&)>& f) const;
  void forEachBackend(const std::function<void(const BackendStats&)>& f) const;
  void forEachRoute(const std::function<void(const RouteStats&)>& f) const;
  void forEachForwardRule(const std::function<void(const ForwardRuleStats&)>& f) const;

 private:
  mutable std::mutex mutex_;
  std::deque<ListenerStats> listeners_;  // deque: addresses stay valid
  std::deque<BackendStats> backends_;
  std::deque<RouteStats> routes_;
  std::deque<ForwardRuleStats> forwardRules_;
};

}  // namespace ringlb
