// The `tcp` listener mode: accept, pick a backend, connect (with timeout and
// retries on other backends), then pump bytes both ways (TcpSession).
//
// Worker thread only.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "common/acceptor.h"
#include "common/listener_service.h"
#include "common/stats.h"
#include "common/worker.h"

namespace ringlb::l4 {

// Per-worker counters of one tcp listener (summed across workers by admin).
struct TcpCounters {
  uint64_t accepted = 0;
  uint64_t bytesFromClients = 0;
  uint64_t bytesFromBackends = 0;
  uint64_t connectFailures = 0;
  uint64_t noBackend = 0;
  uint64_t idleTimeouts = 0;
};

class TcpService final : public ListenerService, public AcceptHandler {
 public:
  TcpService(Worker& worker, const config::ListenerConfig& listener, int fd);

  // ListenerService
  void start() override;
  void stopAccepting() override;
  void resumeAccepting() override;
  bool finished() const override;
  size_t activeSessions() const override { return active_; }

  // AcceptHandler
  void onAccepted(int fd) override;
  bool canAccept() const override;
  void onAcceptError(int err) override;

  // For sessions.
  Worker& worker() { return worker_; }
  const std::string& name() const { return name_; }
  TcpCounters& counters() { return counters_; }
  // This listener's counters on this worker (for /metrics).
  ListenerStats& stats() { return stats_; }
  // The counters of `address` in `pool` on this worker, cached per listener
  // so that the registry's mutex is taken once per backend, not per connection.
  BackendStats& backendStats(const std::string& pool, const std::string& address);
  void sessionEnded() {
    --active_;
    stats_.connectionsActive.sub();
  }

 private:
  Worker& worker_;
  std::string name_;
  uint32_t limit_;
  Acceptor acceptor_;
  size_t active_ = 0;
  TcpCounters counters_;
  ListenerStats& stats_;
  std::string cachedPool_;  // the pool backendStats_ belongs to
  std::unordered_map<std::string, BackendStats*> backendStats_;
};

std::unique_ptr<ListenerService> makeTcpService(Worker& worker,
                                                const config::ListenerConfig& listener, int fd);

}  // namespace ringlb::l4
