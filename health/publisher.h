// Publisher: builds each pool's BackendSet with health applied and posts it
// to every worker. It holds the traffic state ("up": carries traffic, from
// the health thread's decisions) by backend identity (pool + address), so a
// reload builds the new config's sets with the health already known: a
// reload never resets health. Backends it has never heard of are up.
//
// Thread rules: any thread; one mutex serialises builds and posts, so every
// worker receives a pool's snapshots in the order they were built. The main
// thread calls setConfig (start, reload), the health thread update().
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/upstream/backend_set.h"
#include "config/model.h"

namespace ringlb::health {

class Publisher {
 public:
  using SetPtr = std::shared_ptr<const upstream::BackendSet>;
  // Delivers one snapshot to every worker (Worker::post + updatePool); must
  // not wait for the workers.
  using PostToWorkers = std::function<void(SetPtr)>;

  struct BackendHealth {
    std::string address;
    bool up = true;
  };

  explicit Publisher(PostToWorkers post);

  // Rebuilds every pool of `config` with the known health and posts the
  // pools that have a backend down (the others equal what the workers built
  // from the config). Forgets pools and backends that left.
  void setConfig(const config::Config& config, upstream::MonoTime now);
  // Records the pool's backends' traffic state; when any differs from what
  // was published, posts a new snapshot and returns true. Addresses not in
  // the current config are ignored (a reload removed them).
  bool update(const std::string& pool, const std::vector<BackendHealth>& states,
              upstream::MonoTime now);

  // The last snapshot built for `pool` (null when unknown).
  SetPtr current(const std::string& pool) const;
  uint64_t published() const;

 private:
  using Key = std::pair<std::string, std::string>;  // pool, address

  std::vector<bool> upVector(const upstream::BackendSet& set) const;

  PostToWorkers post_;
  mutable std::mutex mutex_;
  std::map<std::string, SetPtr> sets_;  // by pool
  std::map<Key, bool> up_;              // only what differs from "up" matters
  uint64_t version_ = 1ULL << 32;       // above the workers' config versions
  uint64_t published_ = 0;
};

}  // namespace ringlb::health
