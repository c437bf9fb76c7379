// ClientConnectionCounts: how many connections each client address holds
// open on one listener, across all workers (a client's connections land on
// any worker: SO_REUSEPORT hashes the 4-tuple). A forward listener's
// max_connections_per_client refuses a connection at accept when its
// address already holds that many.
//
// Thread rules: any thread. 16 shards, each with its own mutex, so workers
// accepting different clients rarely meet. An address's entry is dropped
// when its last connection closes, so memory follows the clients connected
// now.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace ringlb {

class ClientConnectionCounts {
 public:
  // Counts one more connection of `client` unless it holds `limit` already.
  bool acquire(std::string_view client, uint32_t limit);
  // One connection of `client` (acquired before) closed.
  void release(std::string_view client);
  // Connections `client` holds now.
  uint32_t held(std::string_view client) const;

 private:
  static constexpr size_t kShards = 16;
  struct alignas(64) Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, uint32_t> counts;
  };
  Shard& shardOf(std::string_view client) const;

  mutable Shard shards_[kShards];
};

// The counts of listener `name`, shared by its services on every worker and
// kept across reloads (connections opened before a reload still count).
std::shared_ptr<ClientConnectionCounts> clientConnectionCounts(const std::string& name);

}  // namespace ringlb
