// BackendSet: an immutable snapshot of one pool's backends (weights, tiers,
// health), with the lookup tables its algorithm needs precomputed (the
// Maglev table, the smooth round-robin period), so that workers only read.
//
// Thread rules: built by the publisher (main thread on load/reload, health
// thread on state changes) and posted to workers as
// shared_ptr<const BackendSet>; after create() it is never written, so any
// thread may read it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/upstream/backend.h"
#include "common/upstream/maglev_table.h"
#include "config/model.h"

namespace ringlb::upstream {

class BackendSet {
 public:
  struct Options {
    std::string pool;
    config::BalanceAlgorithm algorithm = config::BalanceAlgorithm::RoundRobin;
    config::HashKey hashKey;
    config::Duration slowStart{0};
    uint64_t version = 0;
  };

  // Publisher thread. Cost: O(n) plus the algorithm's table (Maglev:
  // O(M log M) with M >= 100 n; round robin: O(W n), W = sum of weights).
  static std::shared_ptr<const BackendSet> create(Options options, std::vector<Backend> backends);

  // From configuration: every backend starts up (the health thread publishes
  // changes later), "up since start" so nothing ramps at startup.
  static std::shared_ptr<const BackendSet> fromConfig(const config::PoolConfig& pool,
                                                      uint64_t version);

  // A new snapshot with backend i up iff up[i] (up.size() == size()). A
  // backend that comes up is stamped `now` (for slow start).
  std::shared_ptr<const BackendSet> withHealth(const std::vector<bool>& up, MonoTime now,
                                               uint64_t version) const;

  const std::string& pool() const { return options_.pool; }
  uint64_t version() const { return options_.version; }
  config::BalanceAlgorithm algorithm() const { return options_.algorithm; }
  const config::HashKey& hashKey() const { return options_.hashKey; }
  config::Duration slowStart() const { return options_.slowStart; }

  size_t size() const { return backends_.size(); }
  const Backend& operator[](uint32_t i) const { return backends_[i]; }
  std::span<const Backend> backends() const { return backends_; }
  std::optional<uint32_t> find(std::string_view address) const;

  // Indices of the backends that may serve now: the up primaries, or when no
  // primary is up the up backups. Empty when every backend is down.
  std::span<const uint32_t> serving() const { return serving_; }
  bool servingBackups() const { return servingBackups_; }
  // While primaries serve: the up backups, which a retry may fall back to
  // once every serving primary failed for that request. Empty otherwise.
  std::span<const uint32_t> standby() const { return standby_; }

  // Hash pools: the Maglev table over serving() (empty otherwise).
  const MaglevTable& maglev() const { return maglev_; }
  // Round-robin pools: one smooth-WRR period over serving() as backend
  // indices; empty when it would be too long (the balancer then steps live).
  std::span<const uint32_t> roundRobinPeriod() const { return period_; }

 private:
  BackendSet(Options options, std::vector<Backend> backends);
  void computeServing();
  void buildTables();

  Options options_;
  std::vector<Backend> backends_;
  std::vector<uint32_t> serving_;
  std::vector<uint32_t> standby_;
  bool servingBackups_ = false;
  MaglevTable maglev_;
  std::vector<uint32_t> period_;
};

}  // namespace ringlb::upstream
