// The `http` and `forward` listener modes: accept client connections and run
// an HttpConnection on each; own this worker's keep-alive connections to the
// backends or origins (ConnectionPool), the listener's counters, and for the
// forward proxy its settings and name resolver.
//
// Worker thread only.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "common/accepting_service.h"
#include "common/client_connection_counts.h"
#include "common/http1/http1_parser.h"
#include "common/worker.h"
#include "l7/cache/cache_store.h"
#include "l7/forward/forward_resolver.h"
#include "l7/forward/forward_settings.h"
#include "l7/gateway/auth_phase.h"
#include "l7/gateway/rate_limit_registry.h"
#include "l7/h2/h2_upstream_pool.h"
#include "l7/http/connection_pool.h"

namespace ringlb::l7 {

class HttpService final : public AcceptingService {
 public:
  HttpService(Worker& worker, const config::ListenerConfig& listener, int fd);

  // Also stops the connection pool: idle connections close now, the others
  // as their exchanges end.
  void stopAccepting() override;
  bool finished() const override;

  ConnectionPool& connections() { return connections_; }
  // HTTP/2 connections to the backends of `protocol = "h2"` pools (their
  // sockets belong to connections()).
  H2UpstreamPool& h2Upstreams() { return h2Upstreams_; }
  // Forward listeners: the settings of the worker's current config (rebuilt
  // after a reload); null on http listeners.
  std::shared_ptr<const ForwardSettings> forwardSettings();
  ForwardResolver& resolver();
  // The gateway's per-worker state: password checks (with their cache),
  // the routes' shared rate limiters, their counters ("routes[N]").
  AuthVerifier& authVerifier() { return authVerifier_; }
  // `auth` (of a connection's snapshot) with the credentials of the worker's
  // current config: a password revoked by a reload is refused on connections
  // opened before it too.
  const config::AuthConfig& currentAuth(const config::AuthConfig& auth);
  SharedRateLimit& rateLimit(const config::RouteConfig& route, const std::string& label);
  // The listener's failed-login buckets (auth_throttle.h), shared by all
  // workers and kept across reloads.
  SharedRateLimit& authFailureLimit();
  // The listener's open connections per client address, shared by all
  // workers (forward: max_connections_per_client).
  ClientConnectionCounts& clientConnections();
  // The store of a route with `cache` ("routes[N]"), shared by all workers
  // (SharedServices::caches) and kept across reloads while the route keeps
  // its label and max_size.
  // `index`: the route's position in its listener ("routes[N]").
  std::shared_ptr<cache::CacheStore> cacheStore(const config::RouteConfig& route, size_t index);
  // Background refreshes of cached responses (background_fetch.h): whether
  // another may start now (the listener is not stopping, fewer than
  // kMaxBackgroundFetches run on this worker), and their count.
  bool backgroundFetchRoom() const;
  void backgroundFetchStarted() { ++backgroundFetches_; }
  void backgroundFetchEnded() { --backgroundFetches_; }
  static constexpr size_t kMaxBackgroundFetches = 256;
  RouteStats& routeStats(const std::string& label);
  // forward: the refusals of one ACL rule (AclVerdict::rule) on this worker.
  ForwardRuleStats& forwardRuleStats(const std::string& rule);
  // A fresh random 64-bit word (X-Request-Id).
  uint64_t nextRandom();
  // Scratch space for formatting access log lines: no allocation per request.
  std::string& accessLine() { return accessLine_; }

 protected:
  void startSession(int fd) override;

 private:
  ConnectionPool connections_;
  H2UpstreamPool h2Upstreams_;  // after connections_: its sessions close their sockets first
  bool forward_;
  std::shared_ptr<const config::Config> forwardBuiltFor_;
  std::shared_ptr<const ForwardSettings> forwardSettings_;
  std::unique_ptr<ForwardResolver> resolver_;
  AuthVerifier authVerifier_;
  std::weak_ptr<const config::Config> authBuiltFor_;
  std::unordered_map<std::string, std::shared_ptr<const config::AuthCredentials>> authFiles_;
  std::unordered_map<const config::AuthConfig*, std::unique_ptr<config::AuthConfig>> authByOld_;
  RateLimitCache rateLimits_;
  std::shared_ptr<SharedRateLimit> authFailures_;
  std::shared_ptr<ClientConnectionCounts> clientConnections_;
  // The stores of the current snapshot's routes, and of the one before (kept
  // so that a reload finds them alive in the registry).
  std::weak_ptr<const config::Config> cachesBuiltFor_;
  std::unordered_map<std::string, std::shared_ptr<cache::CacheStore>> caches_, previousCaches_;
  // The last route asked for (of the current snapshot, which keeps its
  // address unique): most requests need no map lookup.
  const config::RouteConfig* lastCacheRoute_ = nullptr;
  std::shared_ptr<cache::CacheStore> lastCache_;
  std::unordered_map<std::string, RouteStats*> routeStats_;
  std::unordered_map<std::string, ForwardRuleStats*> forwardRuleStats_;
  size_t backgroundFetches_ = 0;
  uint64_t rng_;
  std::string accessLine_;
};

// The listener's configured head limits (the rest keep the parser's defaults).
http::ParserLimits parserLimits(const config::ListenerConfig& listener);

std::unique_ptr<ListenerService> makeHttpService(Worker& worker,
                                                 const config::ListenerConfig& listener, int fd);

}  // namespace ringlb::l7
