// The `forward` listener mode: an HTTP forward (egress) proxy. Each accepted
// connection is a ForwardSession (CONNECT tunnel or one absolute-URI
// request); the service holds what the sessions of this listener share: the
// settings of the current config (ACL, limits, timeouts) and the resolver
// thread, started on the first host name.
//
// Worker thread only.
#pragma once

#include <chrono>
#include <memory>

#include "common/accepting_service.h"
#include "common/worker.h"
#include "l7/forward_acl.h"
#include "l7/forward_resolver.h"
#include "l7/http1_parser.h"

namespace ringlb::l7 {

// One listener's forward settings from one config snapshot. Immutable; a
// session keeps the one it started with.
struct ForwardSettings {
  ForwardAcl acl;
  http::ParserLimits limits;
  config::Duration headerTimeout{};
  config::Duration responseTimeout{};
  config::Duration connectTimeout{};
  config::Duration idleTimeout{};
  uint64_t maxBodySize = 0;  // 0 = unlimited
};

class ForwardService final : public AcceptingService {
 public:
  // Upstream connects give up after this (or response_timeout if shorter).
  static constexpr config::Duration kMaxConnectTimeout = std::chrono::seconds(10);

  ForwardService(Worker& worker, const config::ListenerConfig& listener, int fd);
  ~ForwardService() override;

  // The settings of the worker's current config (rebuilt after a reload).
  std::shared_ptr<const ForwardSettings> settings();
  ForwardResolver& resolver();

  // A forward session also moves the active-connections gauge.
  void forwardSessionEnded() {
    stats().connectionsActive.sub();
    sessionEnded();
  }
  // The sessions' scratch line for the access log (one worker, one line at a time).
  std::string& accessLine() { return accessLine_; }

 protected:
  void startSession(int fd) override;

 private:
  static std::shared_ptr<const ForwardSettings> build(const config::ListenerConfig& listener);

  std::shared_ptr<const config::Config> seenConfig_;
  std::shared_ptr<const ForwardSettings> settings_;
  std::unique_ptr<ForwardResolver> resolver_;
  std::string accessLine_;
};

std::unique_ptr<ListenerService> makeForwardService(Worker& worker,
                                                    const config::ListenerConfig& listener, int fd);

}  // namespace ringlb::l7
