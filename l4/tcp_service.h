// The `tcp` listener mode: accept, pick a backend, connect (with timeout and
// retries on other backends), then pump bytes both ways (TcpSession).
//
// Worker thread only.
#pragma once

#include <memory>
#include <string>

#include "common/accepting_service.h"
#include "common/worker.h"

namespace ringlb::l4 {

class TcpService final : public AcceptingService {
 public:
  TcpService(Worker& worker, const config::ListenerConfig& listener, int fd)
      : AcceptingService(worker, listener, fd) {}

  // A tcp session also moves the active-connections gauge.
  void tcpSessionEnded() {
    stats().connectionsActive.sub();
    sessionEnded();
  }
  // The sessions' scratch line for the access log (one worker, one line at a time).
  std::string& accessLine() { return accessLine_; }

 protected:
  void startSession(int fd) override;

 private:
  std::string accessLine_;
};

std::unique_ptr<ListenerService> makeTcpService(Worker& worker,
                                                const config::ListenerConfig& listener, int fd);

}  // namespace ringlb::l4
