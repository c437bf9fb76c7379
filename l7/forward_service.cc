#include "l7/forward_service.h"

#include <algorithm>

#include "l7/forward_session.h"

namespace ringlb::l7 {

ForwardService::ForwardService(Worker& worker, const config::ListenerConfig& listener, int fd)
    : AcceptingService(worker, listener, fd), settings_(build(listener)) {}

ForwardService::~ForwardService() = default;

std::shared_ptr<const ForwardSettings> ForwardService::build(
    const config::ListenerConfig& listener) {
  auto s = std::make_shared<ForwardSettings>();
  s->acl = ForwardAcl(listener.allow, listener.deny, listener.connectPorts);
  s->limits.maxRequestLine = listener.maxRequestLine;
  s->limits.maxHeaderBytes = listener.maxHeaderSize;
  s->limits.maxHeaderCount = listener.maxHeaderFields;
  s->maxBodySize = listener.maxBodySize;
  s->headerTimeout = listener.headerTimeout;
  s->responseTimeout = listener.responseTimeout;
  s->connectTimeout = std::min(kMaxConnectTimeout, listener.responseTimeout);
  s->idleTimeout = listener.effectiveIdleTimeout();
  return s;
}

std::shared_ptr<const ForwardSettings> ForwardService::settings() {
  const auto& current = worker().config();
  if (current != nullptr && current != seenConfig_) {
    seenConfig_ = current;
    for (const auto& l : current->listeners) {
      if (l.name == name()) settings_ = build(l);
    }
  }
  return settings_;
}

ForwardResolver& ForwardService::resolver() {
  if (!resolver_) resolver_ = std::make_unique<ForwardResolver>(worker());
  return *resolver_;
}

void ForwardService::startSession(int fd) {
  stats().connectionsActive.add();
  // The session owns itself from here and deletes itself when done.
  (new ForwardSession(*this, fd))->start();
}

std::unique_ptr<ListenerService> makeForwardService(Worker& worker,
                                                    const config::ListenerConfig& listener,
                                                    int fd) {
  return std::make_unique<ForwardService>(worker, listener, fd);
}

}  // namespace ringlb::l7
