// BackendSelector: one worker's view of one pool. It owns the current BackendSet
// snapshot, the per-backend active counters of this worker and the balancer
// built on them. Counters are keyed by stable backend identity, so a
// connection that started on an old snapshot ends correctly after a swap.
//
// Sessions call acquire() to pick a backend (which counts it as started) and
// release() when the connection or request ends.
//
// Thread rules: worker thread only. update() is called between completion
// batches. The BackendSelector must outlive every Lease it handed out.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/upstream/balancer.h"
#include "common/upstream/tried_set.h"

namespace ringlb::upstream {

// Why no backend was picked. NoBackendUp: answer 503 (L7) or close the
// client (L4). AllTried: every serving backend (and every up backup behind
// them) already failed for this session; the retry budget is spent.
enum class PickFailure : uint8_t { None, NoBackendUp, AllTried };

// Per-worker counters, read by the worker's stats export.
struct PoolCounters {
  uint64_t picks = 0;
  uint64_t noBackendUp = 0;
  uint64_t allTried = 0;
  uint64_t backupFallbacks = 0;  // retries sent to a backup while primaries were up
};

// A started connection or request on one backend. Move-only; give it back
// with BackendSelector::release().
class Lease {
 public:
  Lease() = default;
  Lease(Lease&& other) noexcept { *this = std::move(other); }
  Lease& operator=(Lease&& other) noexcept;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  explicit operator bool() const { return backend_ != nullptr; }
  // Valid until the next BackendSelector::update(): copy what outlives that (the
  // address for connect is read right away).
  const Backend& backend() const { return *backend_; }
  // Stable across snapshots: what TriedSet records.
  uint32_t id() const { return id_; }

 private:
  friend class BackendSelector;
  const Backend* backend_ = nullptr;
  uint32_t id_ = 0;
  uint32_t index_ = 0;
  uint64_t generation_ = 0;
};

struct PickResult {
  Lease lease;
  PickFailure failure = PickFailure::None;
  bool ok() const { return failure == PickFailure::None; }
};

class BackendSelector {
 public:
  BackendSelector(std::shared_ptr<const BackendSet> set, uint64_t seed);
  BackendSelector(const BackendSelector&) = delete;
  BackendSelector& operator=(const BackendSelector&) = delete;

  // Swap in a new snapshot: counters carry over by identity; backends that
  // left keep their counter until their last lease is released.
  void update(std::shared_ptr<const BackendSet> set);

  // Pick a backend and count it as started. `keyHash` only matters for hash
  // pools; `tried` lists backends a retry must avoid. When every serving
  // primary was tried, the least loaded up backup not tried yet is taken (as
  // HAProxy redispatches to a backup). No allocation.
  PickResult acquire(MonoTime now, std::optional<uint64_t> keyHash = std::nullopt,
                     const TriedSet* tried = nullptr);
  // Count the lease's connection or request as ended; empties the lease.
  void release(Lease& lease);

  const BackendSet& backends() const { return *set_; }
  const PoolCounters& counters() const { return counters_; }
  // Active count on this worker by address (including backends that left).
  uint32_t activeCount(std::string_view address) const;

 private:
  struct Retired {
    uint32_t id;
    std::string address;
    uint32_t active;
  };

  void carryOver(const BackendSet& next, std::vector<uint32_t>& ids, std::vector<uint32_t>& active);
  void markTried(const TriedSet& tried);
  uint32_t pickStandby(const IndexMask& exclude) const;
  Lease start(uint32_t index);

  std::shared_ptr<const BackendSet> set_;
  std::vector<uint32_t> active_;  // per index of set_
  std::vector<uint32_t> ids_;     // per index of set_
  std::unordered_map<uint32_t, uint32_t> indexOfId_;
  std::vector<Retired> retired_;
  std::unique_ptr<Balancer> balancer_;
  IndexMask exclude_;
  uint64_t generation_ = 0;
  uint32_t nextId_ = 1;
  uint64_t seed_;
  PoolCounters counters_;
};

}  // namespace ringlb::upstream
