// DnsResolver: asynchronous A and AAAA lookups on a worker's own ring
// (c-ares through DnsChannel; no thread), with a cache. A slow name delays
// nobody else: every lookup is a query of its own.
//
// - lookup(name, request): request->onAnswer() runs later on the worker
//   thread, never inside lookup(): a cached answer at the next timer tick
//   (at most 1 ms), otherwise once the servers answered or failed, and at
//   the latest after DnsOptions::lookupTimeout ("timed out").
// - Lookups of a name already being queried wait for that query: one query
//   per name at a time.
// - Cache (DnsCache): a positive answer for the smallest TTL of its records,
//   clamped to [minTtl, maxTtl]; "no such host" and "no address" for
//   negativeTtl. Timeouts and server failures are not kept.
// - setServers(): later lookups ask the new servers and the cache is
//   emptied; queries in flight finish on the old ones (a c-ares channel
//   cannot change servers while it has queries).
//
// Thread rules: worker thread only. The resolver holds each request (a
// shared_ptr) until it answered it; a request that stops caring makes its
// onAnswer a no-op. onAnswer may start lookups but must not destroy the
// resolver. stop() (and destruction) drops the requests still waiting
// without calling them and closes the sockets; idle() says when the last of
// their polls has come back from the ring. The IoContext outlives the
// resolver; an owner that cannot keep the ring running after destroying it
// (a worker tearing down) stops it and waits for idle() first.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/dns/dns_answer.h"
#include "common/dns/dns_cache.h"
#include "common/dns/dns_channel.h"
#include "common/dns/dns_options.h"
#include "common/io_context.h"
#include "common/timer_wheel.h"
#include "config/model.h"

namespace ringlb::dns {

// One caller waiting for one name.
class DnsRequest {
 public:
  virtual ~DnsRequest() = default;
  // Worker thread, never inside DnsResolver::lookup().
  virtual void onAnswer(const DnsAnswer& answer) = 0;
};

class DnsResolver final : public TimerHandler {
 public:
  // `servers` empty: the system's (/etc/resolv.conf).
  DnsResolver(IoContext& io, std::vector<config::SocketAddress> servers, DnsOptions options = {});
  ~DnsResolver() override;
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  void lookup(std::string_view name, std::shared_ptr<DnsRequest> request);
  void setServers(std::vector<config::SocketAddress> servers);
  // Ends every query (requests dropped, not called); later lookups answer
  // "resolver stopped".
  void stop();
  // No query and no op of the resolver's on the ring.
  bool idle() const;
  const std::vector<config::SocketAddress>& servers() const { return servers_; }

  size_t cachedNames() const { return cache_.size(); }
  size_t queriesInFlight() const { return queries_.size(); }

  // The delivery timer.
  void onTimer(Timer& timer) override;

 private:
  struct Query;
  using Ready = std::pair<std::shared_ptr<DnsRequest>, std::shared_ptr<const DnsAnswer>>;

  static void onQueryDone(void* arg, int status, int timeouts, ares_addrinfo* result);
  void startQuery(const std::string& name, std::shared_ptr<DnsRequest> request);
  void finish(Query& query, int status, const ares_addrinfo* result);
  void timedOut(Query& query);
  void detach(Query& query);
  void answerLater(std::shared_ptr<DnsRequest> request, std::shared_ptr<const DnsAnswer> answer);
  void openChannel();
  void reapRetired();

  IoContext& io_;
  DnsOptions options_;
  std::vector<config::SocketAddress> servers_;
  std::unique_ptr<DnsChannel> channel_;
  std::vector<std::unique_ptr<DnsChannel>> retired_;  // old servers, queries still in flight
  DnsCache cache_;
  std::unordered_map<std::string, Query*> byName_;                 // queries new lookups may join
  std::unordered_set<Query*> queries_;                             // every query waiting for c-ares
  std::vector<Ready> ready_;                                       // answered, not delivered yet
  std::shared_ptr<size_t> watches_ = std::make_shared<size_t>(0);  // alive, see DnsWatch
  bool stopped_ = false;
  Timer deliver_{*this};
};

}  // namespace ringlb::dns
