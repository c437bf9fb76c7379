#include "common/accepting_service.h"

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace ringlb {

AcceptingService::AcceptingService(Worker& worker, const config::ListenerConfig& listener, int fd)
    : worker_(worker),
      name_(listener.name),
      limit_(std::max(1u, listener.maxConnections / worker.workerCount())),
      acceptor_(worker.ring(), fd, *this),
      stats_(worker.shared().stats.listener(listener.name, worker.index())) {
  // Load the certificates now rather than on the first connection.
  if (listener.tls && worker.config()) tlsContext(worker.config(), listener);
}

std::shared_ptr<tls::TlsContext> AcceptingService::tlsContext(
    const std::shared_ptr<const config::Config>& config, const config::ListenerConfig& listener) {
  bool sameSnapshot = !tlsBuiltFor_.owner_before(config) && !config.owner_before(tlsBuiltFor_);
  if (sameSnapshot || !listener.tls) return tls_;
  // A reload re-reads the files (renewed certificates); if they no longer
  // load, the previous ones stay in force.
  tlsBuiltFor_ = config;
  std::string error;
  // Only http listeners speak HTTP inside: a tcp listener offers no ALPN.
  // Tickets under the server's shared keys resume on any worker, across
  // reloads, and only on this listener.
  auto built = tls::TlsContext::build(*listener.tls, tls::alpnOffer(listener), &error,
                                      &worker_.shared().ticketKeys, listener.name);
  if (built) {
    tls_ = std::move(built);
  } else {
    logError("listener {}: TLS: {}{}", name_, error,
             tls_ ? "; the previous certificates stay in use" : "; refusing connections");
  }
  return tls_;
}

std::unique_ptr<tls::TlsStream> AcceptingService::backendTls(const config::PoolConfig& pool,
                                                             const std::string& backend,
                                                             bool http) {
  auto context = backendTls_.get(worker_.config(), pool, http);
  return context ? context->client(backend) : nullptr;
}

void AcceptingService::start() { acceptor_.start(); }

void AcceptingService::stopAccepting() { acceptor_.stop(); }

void AcceptingService::resumeAccepting() { acceptor_.resume(); }

bool AcceptingService::finished() const {
  return acceptor_.stopped() && acceptor_.opsInFlight() == 0 && active_ == 0;
}

bool AcceptingService::canAccept() const {
  return active_ < limit_ && !worker_.atConnectionLimit();
}

void AcceptingService::onAccepted(int fd) {
  ++active_;
  stats_.connectionsAccepted.add();
  startSession(fd);
}

void AcceptingService::onAcceptError(int err, bool firstOfEpisode) {
  stats_.acceptFailures.add();
  if (!firstOfEpisode) return;
  if (err == EMFILE || err == ENFILE) {
    logError(
        "listener {}: accept failed: {}; new connections wait in the backlog, retried every "
        "100 ms (raise the descriptor limit: LimitNOFILE, ulimit -n, fs.file-max)",
        name_, std::strerror(err));
    return;
  }
  logError(
      "listener {}: accept failed: {}; new connections wait in the backlog, retried every "
      "100 ms",
      name_, std::strerror(err));
}

BackendStats& AcceptingService::backendStats(const std::string& pool, const std::string& address) {
  auto& byAddress = backendStats_[pool];
  auto it = byAddress.find(address);
  if (it != byAddress.end()) return *it->second;
  BackendStats& s = worker_.shared().stats.backend(pool, address, worker_.index());
  byAddress.emplace(address, &s);
  return s;
}

}  // namespace ringlb
