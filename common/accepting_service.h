// AcceptingService: what every TCP-accepting listener mode shares (tcp,
// http): the acceptor, the listener's share of max_connections on this worker
// and the worker's own limit, the session count, and the stats look-ups.
// A mode derives from it and says how a session starts.
//
// Worker thread only.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "common/acceptor.h"
#include "common/listener_service.h"
#include "common/stats.h"
#include "common/tls/backend_tls.h"
#include "common/tls/tls_context.h"
#include "common/worker.h"

namespace ringlb {

class AcceptingService : public ListenerService, public AcceptHandler {
 public:
  AcceptingService(Worker& worker, const config::ListenerConfig& listener, int fd);

  // ListenerService
  void start() override;
  void stopAccepting() override;
  void resumeAccepting() override;
  bool finished() const override;
  size_t activeSessions() const override { return active_; }

  // AcceptHandler
  void onAccepted(int fd) final;
  bool canAccept() const override;
  void onAcceptError(int err, bool firstOfEpisode) override;

  // For sessions.
  Worker& worker() { return worker_; }
  const std::string& name() const override { return name_; }
  // This listener's counters on this worker (for /metrics).
  ListenerStats& stats() { return stats_; }
  // The counters of `address` in `pool` on this worker, cached here so that
  // the registry's mutex is taken once per backend, not per connection.
  BackendStats& backendStats(const std::string& pool, const std::string& address);
  // The listener stopped for good (a drain or its removal by a reload).
  bool stopped() const { return acceptor_.stopped(); }
  // A session of this listener has ended (and freed itself): below this
  // listener's limit again, accept again if that was what held it back.
  void sessionEnded() {
    --active_;
    acceptor_.resume();
  }
  // The TLS set-up of this listener as configured in `config` (the session's
  // snapshot), built once per config snapshot (a reload re-reads the files).
  // Null when the certificates never loaded: the session must then refuse
  // the connection.
  // Pools with [pools.NAME.tls]: a client TLS stream for a connection to
  // `backend` (as written in the pool; `http`: ALPN http/1.1); null when the
  // pool's TLS settings never loaded (logged).
  std::unique_ptr<tls::TlsStream> backendTls(const config::PoolConfig& pool,
                                             const std::string& backend, bool http);
  std::shared_ptr<tls::TlsContext> tlsContext(const std::shared_ptr<const config::Config>& config,
                                              const config::ListenerConfig& listener);

 protected:
  // Starts a session that owns `fd` and deletes itself when done.
  virtual void startSession(int fd) = 0;

 private:
  Worker& worker_;
  std::string name_;
  uint32_t limit_;
  Acceptor acceptor_;
  ListenerStats& stats_;
  size_t active_ = 0;
  std::unordered_map<std::string, std::unordered_map<std::string, BackendStats*>> backendStats_;
  std::shared_ptr<tls::TlsContext> tls_;
  tls::BackendTlsCache backendTls_;
  std::weak_ptr<const config::Config> tlsBuiltFor_;  // the snapshot tls_ was (re)built for
};

}  // namespace ringlb
