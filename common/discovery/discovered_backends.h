// What a pool's `discover` found, turned into backends: the pure half of DNS
// discovery (the lookups run on the discovery thread, pool_discovery.h).
//
// - dns:NAME:PORT: one backend per address, weight 1.
// - srv:NAME: one backend per address of each target, on the record's port;
//   weights scaled into 1..256 (0 counts as 1); records of a higher priority
//   value than the lowest are backups; a "." target (the service is not
//   offered there) is skipped.
// - The list is sorted by address with duplicates dropped (the first, most
//   preferred, stays), so two answers in another order are the same set.
//
// Pure; any thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/model.h"

namespace ringlb::discovery {

struct SrvRecord {
  std::string target;  // lower case, no trailing dot
  uint16_t port = 0;
  uint16_t priority = 0;
  uint16_t weight = 0;
};

// The SRV records of a DNS answer (ares_parse_srv_reply); nullopt and
// `error` set when it cannot be read.
std::optional<std::vector<SrvRecord>> parseSrvAnswer(const unsigned char* answer, int length,
                                                     std::string* error);

// One SRV target with its addresses.
struct ResolvedTarget {
  SrvRecord record;
  std::vector<config::SocketAddress> addresses;  // port ignored
};

std::vector<config::BackendConfig> backendsFromAddresses(
    const std::vector<config::SocketAddress>& addresses, uint16_t port);
std::vector<config::BackendConfig> backendsFromSrv(const std::vector<ResolvedTarget>& targets);

// Same addresses, weights and backup flags.
bool sameBackends(const std::vector<config::BackendConfig>& a,
                  const std::vector<config::BackendConfig>& b);
// "+10.0.0.3:80 -10.0.0.1:80" (weight or backup changes as "~ADDR"); "" when same.
std::string describeChange(const std::vector<config::BackendConfig>& before,
                           const std::vector<config::BackendConfig>& after);

// The last good set of one pool and the target it came from.
struct DiscoveredPool {
  config::DiscoverConfig target;
  std::vector<config::BackendConfig> backends;
};

// Gives each pool of `config` with a `discover` the backends found for it,
// when they came from the same target; other pools are left alone.
void fillDiscovered(config::Config& config, const std::map<std::string, DiscoveredPool>& found);

}  // namespace ringlb::discovery
