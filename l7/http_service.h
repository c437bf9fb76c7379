// The `http` listener mode: accept client connections and run an HttpSession
// on each; own this worker's keep-alive connections to the backends
// (UpstreamPool) and the listener's counters.
//
// Worker thread only.
#pragma once

#include <memory>
#include <string>

#include "common/accepting_service.h"
#include "common/worker.h"
#include "l7/tls_context.h"
#include "l7/upstream_pool.h"

namespace ringlb::l7 {

class HttpService final : public AcceptingService {
 public:
  HttpService(Worker& worker, const config::ListenerConfig& listener, int fd);

  // Also stops the upstream pool: idle connections close now, the others
  // as their exchanges end.
  void stopAccepting() override;
  bool finished() const override;

  UpstreamPool& upstreams() { return upstreams_; }
  // A fresh random 64-bit word (X-Request-Id).
  uint64_t nextRandom();
  // Scratch space for formatting access log lines: no allocation per request.
  std::string& accessLine() { return accessLine_; }
  // The TLS set-up of this listener as configured in `config` (the session's
  // snapshot), built once per config snapshot. Null when the certificates
  // never loaded: the session must then refuse the connection.
  std::shared_ptr<TlsContext> tlsContext(const std::shared_ptr<const config::Config>& config,
                                         const config::ListenerConfig& listener);

 protected:
  void startSession(int fd) override;

 private:
  UpstreamPool upstreams_;
  uint64_t rng_;
  std::string accessLine_;
  std::shared_ptr<TlsContext> tls_;
  std::weak_ptr<const config::Config> tlsBuiltFor_;  // the snapshot tls_ was (re)built for
};

std::unique_ptr<ListenerService> makeHttpService(Worker& worker,
                                                 const config::ListenerConfig& listener, int fd);

}  // namespace ringlb::l7
