#include "common/client_connection_counts.h"

#include <functional>

namespace ringlb {

ClientConnectionCounts::Shard& ClientConnectionCounts::shardOf(std::string_view client) const {
  return shards_[std::hash<std::string_view>{}(client) % kShards];
}

bool ClientConnectionCounts::acquire(std::string_view client, uint32_t limit) {
  Shard& s = shardOf(client);
  std::lock_guard lock(s.mutex);
  auto it = s.counts.find(std::string(client));
  if (it == s.counts.end()) {
    if (limit == 0) return false;
    s.counts.emplace(std::string(client), 1);
    return true;
  }
  if (it->second >= limit) return false;
  ++it->second;
  return true;
}

void ClientConnectionCounts::release(std::string_view client) {
  Shard& s = shardOf(client);
  std::lock_guard lock(s.mutex);
  auto it = s.counts.find(std::string(client));
  if (it == s.counts.end()) return;
  if (--it->second == 0) s.counts.erase(it);
}

uint32_t ClientConnectionCounts::held(std::string_view client) const {
  Shard& s = shardOf(client);
  std::lock_guard lock(s.mutex);
  auto it = s.counts.find(std::string(client));
  return it == s.counts.end() ? 0 : it->second;
}

std::shared_ptr<ClientConnectionCounts> clientConnectionCounts(const std::string& name) {
  static std::mutex mutex;
  static std::unordered_map<std::string, std::shared_ptr<ClientConnectionCounts>> byListener;
  std::lock_guard lock(mutex);
  auto& slot = byListener[name];
  if (!slot) slot = std::make_shared<ClientConnectionCounts>();
  return slot;
}

}  // namespace ringlb
