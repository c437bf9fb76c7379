#include "common/discovery/discovered_backends.h"

#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <set>

#include "common/ascii.h"

namespace ringlb::discovery {
namespace {

constexpr uint32_t kMaxWeight = 256;  // the config's own limit

config::BackendConfig backendAt(const config::SocketAddress& address, uint16_t port) {
  config::BackendConfig b;
  b.resolved = address;
  b.resolved.setPort(port);
  b.address = b.resolved.numeric();
  b.resolved.text = b.address;
  return b;
}

// Sorted by address, the first of each address kept (callers add the most
// preferred first).
std::vector<config::BackendConfig> normalise(std::vector<config::BackendConfig> list) {
  std::stable_sort(list.begin(), list.end(),
                   [](const auto& a, const auto& b) { return a.address < b.address; });
  list.erase(std::unique(list.begin(), list.end(),
                         [](const auto& a, const auto& b) { return a.address == b.address; }),
             list.end());
  return list;
}

}  // namespace

std::optional<std::vector<SrvRecord>> parseSrvAnswer(const unsigned char* answer, int length,
                                                     std::string* error) {
  ares_srv_reply* replies = nullptr;
  int rc = ares_parse_srv_reply(answer, length, &replies);
  if (rc != ARES_SUCCESS) {
    *error = std::string("unreadable SRV answer: ") + ares_strerror(rc);
    return std::nullopt;
  }
  std::vector<SrvRecord> out;
  for (ares_srv_reply* r = replies; r != nullptr; r = r->next) {
    SrvRecord record;
    record.target = toLowerCopy(r->host == nullptr ? "" : r->host);
    while (!record.target.empty() && record.target.back() == '.') record.target.pop_back();
    record.port = r->port;
    record.priority = r->priority;
    record.weight = r->weight;
    out.push_back(std::move(record));
  }
  ares_free_data(replies);
  return out;
}

std::vector<config::BackendConfig> backendsFromAddresses(
    const std::vector<config::SocketAddress>& addresses, uint16_t port) {
  std::vector<config::BackendConfig> out;
  for (const auto& a : addresses) out.push_back(backendAt(a, port));
  return normalise(std::move(out));
}

std::vector<config::BackendConfig> backendsFromSrv(const std::vector<ResolvedTarget>& targets) {
  std::vector<const ResolvedTarget*> usable;
  for (const auto& t : targets) {
    if (!t.record.target.empty() && t.record.port != 0) usable.push_back(&t);
  }
  if (usable.empty()) return {};
  uint16_t best = UINT16_MAX;
  uint32_t heaviest = 0;
  for (const auto* t : usable) {
    best = std::min(best, t->record.priority);
    heaviest = std::max<uint32_t>(heaviest, t->record.weight);
  }
  // Preferred records first, so that an address listed twice keeps its best role.
  std::stable_sort(usable.begin(), usable.end(), [](const auto* a, const auto* b) {
    return a->record.priority < b->record.priority;
  });
  std::vector<config::BackendConfig> out;
  for (const auto* t : usable) {
    uint32_t weight = t->record.weight;
    if (heaviest > kMaxWeight) weight = (weight * kMaxWeight + heaviest / 2) / heaviest;
    for (const auto& a : t->addresses) {
      config::BackendConfig b = backendAt(a, t->record.port);
      b.weight = std::clamp<uint32_t>(weight, 1, kMaxWeight);
      b.backup = t->record.priority != best;
      out.push_back(std::move(b));
    }
  }
  return normalise(std::move(out));
}

bool sameBackends(const std::vector<config::BackendConfig>& a,
                  const std::vector<config::BackendConfig>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.address == y.address && x.weight == y.weight && x.backup == y.backup;
  });
}

std::string describeChange(const std::vector<config::BackendConfig>& before,
                           const std::vector<config::BackendConfig>& after) {
  std::map<std::string, const config::BackendConfig*> old;
  for (const auto& b : before) old[b.address] = &b;
  std::string out;
  auto add = [&](char sign, const std::string& address) {
    if (!out.empty()) out += ' ';
    out += sign;
    out += address;
  };
  for (const auto& b : after) {
    auto it = old.find(b.address);
    if (it == old.end()) {
      add('+', b.address);
      continue;
    }
    if (it->second->weight != b.weight || it->second->backup != b.backup) add('~', b.address);
    old.erase(it);
  }
  for (const auto& [address, b] : old) add('-', address);
  return out;
}

void fillDiscovered(config::Config& config, const std::map<std::string, DiscoveredPool>& found) {
  for (auto& [name, pool] : config.pools) {
    if (!pool.discover) continue;
    auto it = found.find(name);
    if (it != found.end() && it->second.target == *pool.discover) {
      pool.backends = it->second.backends;
    } else {
      pool.backends.clear();
    }
  }
}

}  // namespace ringlb::discovery
