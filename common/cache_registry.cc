#include "common/cache_registry.h"

#include <algorithm>

namespace ringlb {

std::shared_ptr<RouteCache> CacheRegistry::get(
    const std::string& listener, const std::string& route, const std::string& settings,
    const std::function<std::shared_ptr<RouteCache>()>& make) {
  std::lock_guard lock(mutex_);
  std::erase_if(slots_, [](const Slot& s) { return s.store.expired(); });
  for (const Slot& s : slots_) {
    if (s.listener == listener && s.route == route && s.settings == settings) {
      if (auto store = s.store.lock()) return store;
    }
  }
  std::shared_ptr<RouteCache> store = make();
  slots_.push_back({listener, route, settings, store});
  return store;
}

std::vector<CacheRegistry::Gauges> CacheRegistry::gauges() const {
  std::lock_guard lock(mutex_);
  std::vector<Gauges> out;
  for (const Slot& s : slots_) {
    auto store = s.store.lock();
    if (!store) continue;
    auto it = std::find_if(out.begin(), out.end(), [&](const Gauges& g) {
      return g.listener == s.listener && g.route == s.route;
    });
    if (it == out.end()) it = out.insert(out.end(), {s.listener, s.route});
    it->bytes += store->bytes();
    it->objects += store->objects();
    it->evictions += store->evictions();
  }
  return out;
}

size_t CacheRegistry::purge(std::string_view host, std::string_view pathPrefix) const {
  std::vector<std::shared_ptr<RouteCache>> stores;
  {
    std::lock_guard lock(mutex_);
    for (const Slot& s : slots_) {
      if (auto store = s.store.lock()) stores.push_back(std::move(store));
    }
  }
  size_t purged = 0;
  for (const auto& store : stores) purged += store->purge(host, pathPrefix);
  return purged;
}

}  // namespace ringlb
