// The rate limiters of every route, shared by all workers: one
// SharedRateLimit per listener route and settings, kept across reloads
// while the route's rate_limit stays the same (its buckets carry on).
//
// Thread rules: any thread; a mutex guards the registry, taken once per
// route, worker and config snapshot (RateLimitCache), never per request.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "config/model.h"
#include "l7/gateway/rate_limit.h"

namespace ringlb::l7 {

// The process's limiter of `listener`'s route `route` ("routes[N]").
std::shared_ptr<SharedRateLimit> sharedRateLimit(const std::string& listener,
                                                 const std::string& route,
                                                 const config::RateLimitConfig& config);

// One worker's view: the limiter of each route of its current snapshot.
// Worker thread only.
class RateLimitCache {
 public:
  SharedRateLimit& get(const std::shared_ptr<const config::Config>& snapshot,
                       const std::string& listener, const std::string& route,
                       const config::RouteConfig& config);

 private:
  std::weak_ptr<const config::Config> builtFor_;
  std::unordered_map<const config::RouteConfig*, std::shared_ptr<SharedRateLimit>> byRoute_;
};

}  // namespace ringlb::l7
