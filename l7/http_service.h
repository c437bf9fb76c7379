// The `http` listener mode: accept client connections and run an HttpSession
// on each; own this worker's keep-alive connections to the backends
// (UpstreamPool) and the listener's counters.
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
#include "l7/upstream_pool.h"

namespace ringlb::l7 {

class HttpService final : public ListenerService, public AcceptHandler {
 public:
  HttpService(Worker& worker, const config::ListenerConfig& listener, int fd);

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
  ListenerStats& stats() { return stats_; }
  UpstreamPool& upstreams() { return upstreams_; }
  // Registered once per (pool, backend) on this worker, then a map lookup.
  BackendStats& backendStats(const std::string& pool, const std::string& address);
  // A fresh random 64-bit word (X-Request-Id).
  uint64_t nextRandom();
  void sessionEnded() { --active_; }

 private:
  Worker& worker_;
  std::string name_;
  uint32_t limit_;
  Acceptor acceptor_;
  ListenerStats& stats_;
  UpstreamPool upstreams_;
  std::unordered_map<std::string, std::unordered_map<std::string, BackendStats*>> backendStats_;
  uint64_t rng_;
  size_t active_ = 0;
};

std::unique_ptr<ListenerService> makeHttpService(Worker& worker,
                                                 const config::ListenerConfig& listener, int fd);

}  // namespace ringlb::l7
