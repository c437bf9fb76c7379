#include "l7/http_service.h"

#include <chrono>
#include <cstring>

#include "common/log.h"
#include "l7/http_session.h"

namespace ringlb::l7 {

HttpService::HttpService(Worker& worker, const config::ListenerConfig& listener, int fd)
    : worker_(worker),
      name_(listener.name),
      limit_(std::max(1u, listener.maxConnections / worker.workerCount())),
      acceptor_(worker.ring(), fd, *this),
      stats_(StatsRegistry::instance().listener(listener.name, worker.index())),
      upstreams_(worker),
      rng_(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
           (uint64_t{worker.index()} << 48) ^ reinterpret_cast<uintptr_t>(this)) {}

void HttpService::start() { acceptor_.start(); }

void HttpService::stopAccepting() {
  acceptor_.stop();
  upstreams_.closeIdle();
}

void HttpService::resumeAccepting() { acceptor_.resume(); }

bool HttpService::finished() const {
  return acceptor_.stopped() && acceptor_.opsInFlight() == 0 && active_ == 0 &&
         upstreams_.live() == 0;
}

bool HttpService::canAccept() const { return active_ < limit_ && !worker_.atConnectionLimit(); }

void HttpService::onAccepted(int fd) {
  ++active_;
  stats_.connectionsAccepted.add();
  // The session owns itself from here and deletes itself when done.
  (new HttpSession(*this, fd))->start();
}

void HttpService::onAcceptError(int err) {
  logError("listener {}: accept failed: {}", name_, std::strerror(err));
}

BackendStats& HttpService::backendStats(const std::string& pool, const std::string& address) {
  auto& byAddress = backendStats_[pool];
  auto it = byAddress.find(address);
  if (it != byAddress.end()) return *it->second;
  BackendStats& s = StatsRegistry::instance().backend(pool, address, worker_.index());
  byAddress.emplace(address, &s);
  return s;
}

uint64_t HttpService::nextRandom() {
  // splitmix64: fast, and good enough for request ids.
  uint64_t z = (rng_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::unique_ptr<ListenerService> makeHttpService(Worker& worker,
                                                 const config::ListenerConfig& listener, int fd) {
  return std::make_unique<HttpService>(worker, listener, fd);
}

}  // namespace ringlb::l7
