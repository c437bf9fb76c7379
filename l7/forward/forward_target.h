// ForwardTarget: where one forward-proxy exchange goes: the destination the
// client named, the ACL's verdict, the name lookup in flight and the address
// it resolved to. Only forward listeners' exchanges have one.
//
// Worker thread only. Owned by its exchange; a lookup still in flight when
// the exchange ends is abandoned (its result is dropped).
#pragma once

#include <memory>
#include <string>

#include "config/model.h"
#include "l7/forward/forward_request.h"
#include "l7/forward/forward_resolver.h"

namespace ringlb::l7 {

class Exchange;

struct ForwardTarget final : ResolveWaiter {
  explicit ForwardTarget(Exchange& owner) : exchange(owner) {}
  ~ForwardTarget() override {
    if (job) job->waiter = nullptr;
  }
  void onResolved(const ResolveJob& done) override;

  Exchange& exchange;
  Destination dest;
  std::string destText;  // "host:port" ("[v6]:port"): the connection pool's key, the log
  bool tunnel = false;   // CONNECT
  std::shared_ptr<ResolveJob> job;
  std::string verdict;            // the ACL rule that decided (the 403 body, the access log)
  config::SocketAddress address;  // what the name resolved to
};

}  // namespace ringlb::l7
