// ForwardSettings: what a `forward` listener's exchanges need from its
// config, built once per config snapshot: the destination rules and the
// timeouts. The exchange's routing step for the forward proxy reads them
// (exchange_forward.cc).
//
// Thread rules: immutable once built; shared by the exchanges of one worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "config/model.h"
#include "l7/forward/forward_acl.h"

namespace ringlb::l7 {

struct ForwardSettings {
  // Upstream connects give up after this (or response_timeout if shorter).
  static constexpr config::Duration kMaxConnectTimeout = std::chrono::seconds(10);

  ForwardAcl acl;
  config::Duration connectTimeout{};  // also bounds resolving a name

  static std::shared_ptr<const ForwardSettings> build(const config::ListenerConfig& listener);
};

}  // namespace ringlb::l7
