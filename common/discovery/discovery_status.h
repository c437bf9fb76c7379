// DiscoveryStatusBoard: what DNS discovery last did for each pool, for
// /status, the status page and /metrics: the target, how many backends the
// last good answer gave, lookups that worked or failed, the last error and
// when the set last changed.
//
// Thread rules: the discovery thread writes, the admin thread reads; one
// mutex guards the map.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace ringlb::discovery {

struct PoolDiscoveryStatus {
  std::string pool;
  std::string target;   // as written: "dns:api.internal:8080"
  size_t backends = 0;  // in the last good set
  uint64_t lookupsOk = 0;
  uint64_t lookupsFailed = 0;
  uint64_t changes = 0;   // times the set changed (the first answer included)
  std::string lastError;  // of the last failed lookup; "" after a good one
  bool answered = false;  // a good answer has come since the pool appeared
  std::chrono::system_clock::time_point lastChange{};
};

class DiscoveryStatusBoard {
 public:
  void lookupOk(const std::string& pool, const std::string& target, size_t backends, bool changed);
  void lookupFailed(const std::string& pool, const std::string& target, const std::string& error);
  // Forgets pools not in `pools` (a reload removed them or their discover).
  void retain(const std::set<std::string>& pools);
  std::vector<PoolDiscoveryStatus> read() const;

 private:
  PoolDiscoveryStatus& entry(const std::string& pool, const std::string& target);

  mutable std::mutex mutex_;
  std::map<std::string, PoolDiscoveryStatus> pools_;
};

}  // namespace ringlb::discovery
