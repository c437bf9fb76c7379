// PoolDiscovery: the discovery thread. It looks up the `discover` target of
// every pool that has one, at once and then every `refresh`, on a ring of its
// own (c-ares through dns::DnsResolver for addresses, dns::DnsChannel for SRV
// records), so no worker waits for DNS. Answers are not cached: each refresh
// asks the servers.
//
// - A good answer that differs from the pool's last set is handed to the main
//   thread (takeChanges), which applies it like a reload (common/server.cc).
// - A failed lookup (timeout, server failure, no such name, no records) keeps
//   the last good set: it is logged (once per new error), counted, and the
//   next try comes after `refresh`.
// - SRV targets with no address are left out; a target whose lookup failed
//   otherwise fails the whole refresh (the set would shrink by accident).
// - setConfig (start, reload): a new or changed target is looked up at once;
//   pools that stay keep their set and their schedule.
//
// Thread rules: the public calls come from the main thread; the rest runs on
// the discovery thread. Destruction stops and joins it.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/discovery/discovered_backends.h"
#include "common/discovery/discovery_status.h"
#include "common/dns/dns_options.h"
#include "config/model.h"

namespace ringlb::discovery {

class DiscoveryLoop;

class PoolDiscovery {
 public:
  struct Change {
    std::string pool;
    DiscoveredPool found;
    std::string diff;  // describeChange() of the set before
  };

  explicit PoolDiscovery(DiscoveryStatusBoard& status, dns::DnsOptions options = defaultOptions());
  ~PoolDiscovery();
  PoolDiscovery(const PoolDiscovery&) = delete;
  PoolDiscovery& operator=(const PoolDiscovery&) = delete;

  // Starts the thread on the first call; "" or why it could not start.
  // `known`: the sets the config in force already has (kept, not reported).
  std::string setConfig(const config::Config& config,
                        const std::map<std::string, DiscoveredPool>& known);
  // The sets that changed since the last call, the latest per pool.
  std::vector<Change> takeChanges();
  // True once every pool new in the last setConfig had its first lookup
  // finish, good or failed.
  bool settled() const;

  // Discovery asks every time: nothing is cached between refreshes.
  static dns::DnsOptions defaultOptions();

 private:
  friend class DiscoveryLoop;
  // Discovery thread.
  void publish(Change change);
  void firstLookupDone(const std::string& pool);

  DiscoveryStatusBoard& status_;
  dns::DnsOptions options_;
  std::unique_ptr<DiscoveryLoop> loop_;
  std::thread thread_;

  mutable std::mutex mutex_;
  std::map<std::string, Change> changes_;  // guarded by mutex_
  std::set<std::string> unsettled_;        // guarded by mutex_
};

}  // namespace ringlb::discovery
