#include "l7/forward/forward_resolver.h"

#include <cstring>

#include "common/worker.h"

namespace ringlb::l7 {
namespace {

std::vector<config::SocketAddress> resolversOf(const std::shared_ptr<const config::Config>& c) {
  return c ? c->global.resolvers : std::vector<config::SocketAddress>{};
}

}  // namespace

void ResolveJob::onAnswer(const dns::DnsAnswer& answer) {
  error = answer.error;
  addresses = answer.addresses;
  for (config::SocketAddress& a : addresses) {
    a.setPort(port);
    a.text = a.numeric();  // DNS answers are IPv4 or IPv6: "IP:PORT", "[IPv6]:PORT"
  }
  if (!addresses.empty()) {
    std::memcpy(&address, &addresses.front().storage, addresses.front().length);
    length = addresses.front().length;
  } else if (error.empty()) {
    error = "no address";
  }
  if (waiter != nullptr) waiter->onResolved(*this);
}

ForwardResolver::ForwardResolver(Worker& worker)
    : worker_(worker), seen_(worker.config()), dns_(worker.io(), resolversOf(seen_)) {}

void ForwardResolver::followConfig() {
  const auto& current = worker_.config();
  if (current == seen_) return;
  seen_ = current;
  std::vector<config::SocketAddress> servers = resolversOf(current);
  if (servers != dns_.servers()) dns_.setServers(std::move(servers));
}

void ForwardResolver::resolve(std::shared_ptr<ResolveJob> job) {
  followConfig();
  const ResolveJob& j = *job;  // stays alive: the resolver holds it
  dns_.lookup(j.host, std::move(job));
}

}  // namespace ringlb::l7
