// BackendStatusBoard: the health state of every backend, as last decided by
// the health thread, for /status, /metrics and the status page.
//
// Written by the health thread on each transition (and by the main thread on
// reload), read by the admin thread; a mutex guards it. Workers never read it:
// they get health through BackendSet snapshots posted to their mailboxes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ringlb {

struct BackendStatus {
  std::string pool;
  std::string address;
  uint32_t weight = 1;
  bool backup = false;
  // "up" | "down" (CONFIG.md); before the first probe result a backend
  // carries traffic and shows as "up" with checked = false.
  bool up = true;
  bool checked = false;    // an active check has decided the state
  bool ejected = false;    // passively ejected (shown as down)
  std::string lastReason;  // why the last change happened
  std::chrono::system_clock::time_point lastChange{};
  uint64_t changes = 0;  // ringlb_backend_health_changes_total
  uint64_t probesOk = 0;
  uint64_t probesFailed = 0;
  uint64_t probesSkipped = 0;  // not run: no socket to spare on this host
};

class BackendStatusBoard {
 public:
  // Main thread, at start and reload: the backends that exist now. Known
  // backends (pool + address) keep their state; others start up/unchecked.
  void setBackends(const std::vector<BackendStatus>& current);
  // Health thread: a state change or a probe result.
  void update(const std::string& pool, const std::string& address,
              const std::function<void(BackendStatus&)>& change);
  // Admin thread: a copy of everything, ordered by pool then address.
  std::vector<BackendStatus> snapshot() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, BackendStatus> backends_;
};

}  // namespace ringlb
