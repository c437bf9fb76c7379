#include "common/discovery/discovery_status.h"

namespace ringlb::discovery {

PoolDiscoveryStatus& DiscoveryStatusBoard::entry(const std::string& pool,
                                                 const std::string& target) {
  PoolDiscoveryStatus& s = pools_[pool];
  if (s.target != target) {  // a new target starts over
    s = PoolDiscoveryStatus{};
    s.pool = pool;
    s.target = target;
  }
  return s;
}

void DiscoveryStatusBoard::lookupOk(const std::string& pool, const std::string& target,
                                    size_t backends, bool changed) {
  std::lock_guard lock(mutex_);
  PoolDiscoveryStatus& s = entry(pool, target);
  ++s.lookupsOk;
  s.backends = backends;
  s.lastError.clear();
  s.answered = true;
  if (changed) {
    ++s.changes;
    s.lastChange = std::chrono::system_clock::now();
  }
}

void DiscoveryStatusBoard::lookupFailed(const std::string& pool, const std::string& target,
                                        const std::string& error) {
  std::lock_guard lock(mutex_);
  PoolDiscoveryStatus& s = entry(pool, target);
  ++s.lookupsFailed;
  s.lastError = error;
}

void DiscoveryStatusBoard::retain(const std::set<std::string>& pools) {
  std::lock_guard lock(mutex_);
  std::erase_if(pools_, [&](const auto& e) { return pools.count(e.first) == 0; });
}

std::vector<PoolDiscoveryStatus> DiscoveryStatusBoard::read() const {
  std::lock_guard lock(mutex_);
  std::vector<PoolDiscoveryStatus> out;
  for (const auto& [name, s] : pools_) out.push_back(s);
  return out;
}

}  // namespace ringlb::discovery
