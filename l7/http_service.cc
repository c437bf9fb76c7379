#include "l7/http_service.h"

#include <chrono>

#include "common/log.h"
#include "l7/http_session.h"

namespace ringlb::l7 {

HttpService::HttpService(Worker& worker, const config::ListenerConfig& listener, int fd)
    : AcceptingService(worker, listener, fd),
      upstreams_(worker),
      rng_(static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
           (uint64_t{worker.index()} << 48) ^ reinterpret_cast<uintptr_t>(this)) {
  // Load the certificates now rather than on the first connection.
  if (listener.tls && worker.config()) tlsContext(worker.config(), listener);
}

void HttpService::stopAccepting() {
  AcceptingService::stopAccepting();
  upstreams_.stop();
}

bool HttpService::finished() const {
  return AcceptingService::finished() && upstreams_.live() == 0;
}

void HttpService::startSession(int fd) {
  // The session owns itself from here and deletes itself when done.
  (new HttpSession(*this, fd))->start();
}

std::shared_ptr<TlsContext> HttpService::tlsContext(
    const std::shared_ptr<const config::Config>& config, const config::ListenerConfig& listener) {
  bool sameSnapshot = !tlsBuiltFor_.owner_before(config) && !config.owner_before(tlsBuiltFor_);
  if (sameSnapshot || !listener.tls) return tls_;
  // A reload re-reads the files (renewed certificates); if they no longer
  // load, the previous ones stay in force.
  tlsBuiltFor_ = config;
  std::string error;
  auto built = TlsContext::build(*listener.tls, &error);
  if (built) {
    tls_ = std::move(built);
  } else {
    logError("listener {}: TLS: {}{}", name(), error,
             tls_ ? "; the previous certificates stay in use" : "; refusing connections");
  }
  return tls_;
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
