// The `tcp` listener mode: accept, pick a backend, connect (with timeout and
// retries on other backends), then pump bytes both ways (TcpSession).
//
// Worker thread only.
#pragma once

#include <memory>

#include "common/accepting_service.h"
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

class TcpService final : public AcceptingService {
 public:
  TcpService(Worker& worker, const config::ListenerConfig& listener, int fd)
      : AcceptingService(worker, listener, fd) {}

  TcpCounters& counters() { return counters_; }
  // A tcp session also moves the active-connections gauge.
  void tcpSessionEnded() {
    stats().connectionsActive.sub();
    sessionEnded();
  }

 protected:
  void startSession(int fd) override;

 private:
  TcpCounters counters_;
};

std::unique_ptr<ListenerService> makeTcpService(Worker& worker,
                                                const config::ListenerConfig& listener, int fd);

}  // namespace ringlb::l4
