#include "l7/http/http_service.h"

#include <fmt/format.h>

#include <chrono>

#include "l7/gateway/auth_throttle.h"
#include "l7/http/http_connection.h"

namespace ringlb::l7 {

HttpService::HttpService(Worker& worker, const config::ListenerConfig& listener, int fd)
    : AcceptingService(worker, listener, fd),
      connections_(worker),
      h2Upstreams_(worker, connections_),
      forward_(listener.mode == config::ListenerMode::Forward),
      rng_(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
           (uint64_t{worker.index()} << 48) ^ reinterpret_cast<uintptr_t>(this)) {}

void HttpService::stopAccepting() {
  AcceptingService::stopAccepting();
  connections_.stop();
  h2Upstreams_.stop();
}

SharedRateLimit& HttpService::rateLimit(const config::RouteConfig& route,
                                        const std::string& label) {
  return rateLimits_.get(worker().config(), name(), label, route);
}

ClientConnectionCounts& HttpService::clientConnections() {
  if (!clientConnections_) clientConnections_ = clientConnectionCounts(name());
  return *clientConnections_;
}

SharedRateLimit& HttpService::authFailureLimit() {
  if (!authFailures_)
    authFailures_ = sharedRateLimit(name(), "auth-failures", authFailureSettings());
  return *authFailures_;
}

std::shared_ptr<cache::CacheStore> HttpService::cacheStore(const config::RouteConfig& route,
                                                           size_t index) {
  const auto& snapshot = worker().config();
  bool same = !cachesBuiltFor_.owner_before(snapshot) && !snapshot.owner_before(cachesBuiltFor_);
  if (!same || cachesBuiltFor_.expired()) {
    previousCaches_ = std::move(caches_);
    caches_.clear();
    cachesBuiltFor_ = snapshot;
    lastCacheRoute_ = nullptr;
    lastCache_.reset();
  }
  if (&route == lastCacheRoute_) return lastCache_;
  std::string label = fmt::format("routes[{}]", index);
  std::string settings = std::to_string(route.cache->maxSize);
  auto& slot = caches_[label + "/" + settings];
  if (!slot) {
    uint64_t maxSize = route.cache->maxSize;
    auto store = worker().shared().caches.get(name(), label, settings, [maxSize] {
      return std::make_shared<cache::CacheStore>(maxSize);
    });
    slot = std::static_pointer_cast<cache::CacheStore>(store);
  }
  // Only a route of the current snapshot (alive while it is current) may be
  // remembered by its address.
  for (const auto& listener : snapshot->listeners) {
    if (listener.name == name() && index < listener.routes.size() &&
        &listener.routes[index] == &route) {
      lastCacheRoute_ = &route;
      lastCache_ = slot;
    }
  }
  return slot;
}

namespace {

// An auth file as it is named in the config (one per type).
std::string authFileKey(const config::AuthConfig& auth) {
  switch (auth.type) {
    case config::AuthType::Basic: return "basic:" + auth.usersFile;
    case config::AuthType::ApiKey: return "api_key:" + auth.keysFile;
    case config::AuthType::Jwt: return "jwt:" + auth.jwksFile;
  }
  return {};
}

}  // namespace

const config::AuthConfig& HttpService::currentAuth(const config::AuthConfig& auth) {
  const auto& snapshot = worker().config();
  bool same = !authBuiltFor_.owner_before(snapshot) && !snapshot.owner_before(authBuiltFor_);
  if (!same || authBuiltFor_.expired()) {
    authBuiltFor_ = snapshot;
    authFiles_.clear();
    authByOld_.clear();
    for (const auto& listener : snapshot->listeners) {
      if (listener.proxyAuth) {
        authFiles_.emplace(authFileKey(*listener.proxyAuth), listener.proxyAuth->credentials);
      }
      for (const auto& route : listener.routes) {
        if (route.auth) authFiles_.emplace(authFileKey(*route.auth), route.auth->credentials);
      }
    }
  }
  auto known = authByOld_.find(&auth);
  if (known != authByOld_.end()) return known->second ? *known->second : auth;
  auto file = authFiles_.find(authFileKey(auth));
  std::unique_ptr<config::AuthConfig> fresh;
  if (file == authFiles_.end()) {
    // The file is no longer used (renamed, removed): nobody is let in with
    // what it held.
    fresh = std::make_unique<config::AuthConfig>(auth);
    fresh->credentials = std::make_shared<const config::AuthCredentials>();
  } else if (file->second != auth.credentials) {
    fresh = std::make_unique<config::AuthConfig>(auth);
    fresh->credentials = file->second;
  }
  auto& slot = authByOld_[&auth];
  slot = std::move(fresh);
  return slot ? *slot : auth;
}

ForwardRuleStats& HttpService::forwardRuleStats(const std::string& rule) {
  ForwardRuleStats*& stats = forwardRuleStats_[rule];
  if (stats == nullptr) {
    stats = &worker().shared().stats.forwardRule(name(), rule, worker().index());
  }
  return *stats;
}

RouteStats& HttpService::routeStats(const std::string& label) {
  RouteStats*& stats = routeStats_[label];
  if (stats == nullptr) {
    stats = &worker().shared().stats.route(name(), label, worker().index());
  }
  return *stats;
}

bool HttpService::finished() const {
  bool done = AcceptingService::finished() && connections_.live() == 0 && backgroundFetches_ == 0;
  if (!done || !resolver_) return done;
  // No session needs names any more: the resolver's cancelled polls must
  // come back while the ring still turns.
  resolver_->stop();
  return resolver_->idle();
}

bool HttpService::backgroundFetchRoom() const {
  return !stopped() && backgroundFetches_ < kMaxBackgroundFetches;
}

void HttpService::startSession(int fd) {
  // The connection owns itself from here and frees itself when done.
  (new HttpConnection(*this, fd))->start();
}

std::shared_ptr<const ForwardSettings> HttpService::forwardSettings() {
  if (!forward_) return nullptr;
  const auto& current = worker().config();
  if (current != nullptr && current != forwardBuiltFor_) {
    forwardBuiltFor_ = current;
    for (const auto& l : current->listeners) {
      if (l.name == name()) forwardSettings_ = ForwardSettings::build(l);
    }
  }
  return forwardSettings_;
}

ForwardResolver& HttpService::resolver() {
  if (!resolver_) resolver_ = std::make_unique<ForwardResolver>(worker());
  return *resolver_;
}

uint64_t HttpService::nextRandom() {
  // splitmix64: fast, and good enough for request ids.
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

http::ParserLimits parserLimits(const config::ListenerConfig& l) {
  http::ParserLimits limits;
  limits.maxRequestLine = l.maxRequestLine;
  limits.maxHeaderBytes = l.maxHeaderSize;
  limits.maxHeaderCount = l.maxHeaderFields;
  return limits;
}

std::unique_ptr<ListenerService> makeHttpService(Worker& worker,
                                                 const config::ListenerConfig& listener, int fd) {
  return std::make_unique<HttpService>(worker, listener, fd);
}

}  // namespace ringlb::l7
