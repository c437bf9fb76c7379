#include "l7/gateway/rate_limit_registry.h"

#include <fmt/format.h>

#include <mutex>

namespace ringlb::l7 {

std::shared_ptr<SharedRateLimit> sharedRateLimit(const std::string& listener,
                                                 const std::string& route,
                                                 const config::RateLimitConfig& config) {
  static std::mutex mutex;
  static std::unordered_map<std::string, std::shared_ptr<SharedRateLimit>> limiters;
  std::lock_guard lock(mutex);
  // Keyed by the settings too: a connection of an older config keeps its own
  // limiter without replacing the current one (which every worker shares).
  std::string key =
      fmt::format("{}/{}/{}/{}/{}/{}:{}", listener, route, config.requests, config.per.count(),
                  config.burst, static_cast<int>(config.key), config.headerName);
  std::shared_ptr<SharedRateLimit>& slot = limiters[key];
  if (!slot) slot = std::make_shared<SharedRateLimit>(config);
  return slot;
}

SharedRateLimit& RateLimitCache::get(const std::shared_ptr<const config::Config>& snapshot,
                                     const std::string& listener, const std::string& route,
                                     const config::RouteConfig& config) {
  bool same = !builtFor_.owner_before(snapshot) && !snapshot.owner_before(builtFor_);
  if (!same || builtFor_.expired()) {
    byRoute_.clear();  // route addresses of an older snapshot may be reused
    builtFor_ = snapshot;
  }
  std::shared_ptr<SharedRateLimit>& limit = byRoute_[&config];
  if (!limit) limit = sharedRateLimit(listener, route, *config.rateLimit);
  return *limit;
}

}  // namespace ringlb::l7
