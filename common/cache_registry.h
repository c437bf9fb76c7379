// CacheRegistry: the route caches of one server (l7/cache/cache_store.h),
// as the admin thread and the workers share them. A worker asks for its
// route's store by (listener, route, settings) and gets the one every other
// worker uses; the registry holds them weakly (workers and requests own
// them), so a store no config uses any more is freed with its last user.
//
// Thread rules: any thread (one mutex, taken per worker, route and config
// snapshot, and by the admin thread; never per request).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ringlb {

// What the admin sees of one route's cache.
class RouteCache {
 public:
  virtual ~RouteCache() = default;
  // Drops the responses of `host` (empty: any) under `pathPrefix`; how many.
  virtual size_t purge(std::string_view host, std::string_view pathPrefix) = 0;
  virtual uint64_t bytes() const = 0;
  virtual uint64_t objects() const = 0;
  virtual uint64_t evictions() const = 0;
};

class CacheRegistry {
 public:
  // The store of (listener, route) made with `settings` (a text that differs
  // when the settings do), made by `make` if no live one exists.
  std::shared_ptr<RouteCache> get(const std::string& listener, const std::string& route,
                                  const std::string& settings,
                                  const std::function<std::shared_ptr<RouteCache>()>& make);

  struct Gauges {
    std::string listener;
    std::string route;
    uint64_t bytes = 0;
    uint64_t objects = 0;
    uint64_t evictions = 0;
  };
  // One line per (listener, route), summed over its live stores.
  std::vector<Gauges> gauges() const;
  // Purges every live store; the total dropped.
  size_t purge(std::string_view host, std::string_view pathPrefix) const;

 private:
  struct Slot {
    std::string listener;
    std::string route;
    std::string settings;
    std::weak_ptr<RouteCache> store;
  };
  mutable std::mutex mutex_;
  std::vector<Slot> slots_;
};

}  // namespace ringlb
