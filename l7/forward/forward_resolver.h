// ForwardResolver: the forward proxy's name lookups, on the worker's own
// ring (dns::DnsResolver: c-ares, a cache, no thread). It asks the servers
// of `global.resolvers` (the system's when empty) and follows a reload that
// changes them: the next lookup after the new snapshot uses the new list.
//
// A ResolveJob is one lookup: host and port in; the addresses (port set),
// the first of them in `address`/`length`, or an error out. Its waiter hears
// back on the worker thread, never inside resolve(); at the latest after
// dns::kLookupTimeout (5 s), with "timed out".
//
// Thread rules: construct, resolve() and destroy on the worker thread. The
// owner of a job clears its `waiter` when it stops waiting (the resolver
// keeps the job alive until it answered). Destroying the resolver drops the
// jobs still waiting without calling their waiters; the worker's ring must
// keep running until the polls it cancelled came back (see dns::DnsChannel),
// so an owner going away with the worker calls stop() and waits for idle().
#pragma once

#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "common/dns/dns_resolver.h"
#include "config/model.h"

namespace ringlb {
class Worker;
}

namespace ringlb::l7 {

struct ResolveJob;

class ResolveWaiter {
 public:
  virtual ~ResolveWaiter() = default;
  // Worker thread: the job is done (ok() or error set).
  virtual void onResolved(const ResolveJob& job) = 0;
};

struct ResolveJob final : dns::DnsRequest {
  // Input (set before resolve()).
  std::string host;
  uint16_t port = 0;
  // Output (set just before the waiter is called).
  sockaddr_storage address{};  // addresses.front()
  socklen_t length = 0;
  // Every address, IPv4 first then IPv6, with `port`; text "ip:port" or "[ip]:port".
  std::vector<config::SocketAddress> addresses;
  std::string error;  // empty on success: "no such host", "timed out", ...
  // Worker thread only: null once nobody waits.
  ResolveWaiter* waiter = nullptr;

  bool ok() const { return error.empty(); }
  void onAnswer(const dns::DnsAnswer& answer) override;
};

class ForwardResolver {
 public:
  explicit ForwardResolver(Worker& worker);
  ForwardResolver(const ForwardResolver&) = delete;
  ForwardResolver& operator=(const ForwardResolver&) = delete;

  // Worker thread: looks up `job->host`; its waiter hears back later.
  void resolve(std::shared_ptr<ResolveJob> job);
  // Worker thread: drops every lookup (waiters not called) and closes the
  // resolver's sockets; later jobs fail with "resolver stopped".
  void stop() { dns_.stop(); }
  // Nothing of the resolver's is left on the ring: it may be destroyed
  // even if the ring stops turning.
  bool idle() const { return dns_.idle(); }

 private:
  void followConfig();

  Worker& worker_;
  std::shared_ptr<const config::Config> seen_;  // the snapshot whose resolvers are in use
  dns::DnsResolver dns_;
};

}  // namespace ringlb::l7
