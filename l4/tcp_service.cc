#include "l4/tcp_service.h"

#include <cstring>

#include "common/log.h"
#include "l4/tcp_session.h"

namespace ringlb::l4 {

TcpService::TcpService(Worker& worker, const config::ListenerConfig& listener, int fd)
    : worker_(worker),
      name_(listener.name),
      limit_(std::max(1u, listener.maxConnections / worker.workerCount())),
      acceptor_(worker.ring(), fd, *this),
      stats_(StatsRegistry::instance().listener(listener.name, worker.index())) {}

void TcpService::start() { acceptor_.start(); }

void TcpService::stopAccepting() { acceptor_.stop(); }

void TcpService::resumeAccepting() { acceptor_.resume(); }

bool TcpService::finished() const {
  return acceptor_.stopped() && acceptor_.opsInFlight() == 0 && active_ == 0;
}

bool TcpService::canAccept() const { return active_ < limit_ && !worker_.atConnectionLimit(); }

void TcpService::onAccepted(int fd) {
  ++counters_.accepted;
  ++active_;
  stats_.connectionsAccepted.add();
  stats_.connectionsActive.add();
  // The session owns itself from here and deletes itself when done.
  (new TcpSession(*this, fd))->start();
}

BackendStats& TcpService::backendStats(const std::string& pool, const std::string& address) {
  if (pool != cachedPool_) {  // the listener's pool changed in a reload
    backendStats_.clear();
    cachedPool_ = pool;
  }
  auto it = backendStats_.find(address);
  if (it != backendStats_.end()) return *it->second;
  BackendStats& s = StatsRegistry::instance().backend(pool, address, worker_.index());
  backendStats_.emplace(address, &s);
  return s;
}

void TcpService::onAcceptError(int err) {
  logError("listener {}: accept failed: {}", name_, std::strerror(err));
}

std::unique_ptr<ListenerService> makeTcpService(Worker& worker,
                                                const config::ListenerConfig& listener, int fd) {
  return std::make_unique<TcpService>(worker, listener, fd);
}

}  // namespace ringlb::l4
