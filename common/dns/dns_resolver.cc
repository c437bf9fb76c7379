#include "common/dns/dns_resolver.h"

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>

#include "common/socket.h"

namespace ringlb::dns {
namespace {

using Clock = std::chrono::steady_clock;

std::string describe(int status) {
  switch (status) {
    case ARES_ENOTFOUND: return "no such host";
    case ARES_ENODATA: return "no address";
    case ARES_ETIMEOUT: return "timed out";
    case ARES_ESERVFAIL: return "server failure";
    case ARES_EREFUSED: return "query refused";
    case ARES_ECONNREFUSED: return "connection refused";
    case ARES_EBADNAME: return "bad name";
    case ARES_EBADRESP:
    case ARES_EFORMERR: return "bad answer";
    case ARES_ENOMEM: return "out of memory";
    case ARES_EDESTRUCTION:
    case ARES_ECANCELLED: return "resolver stopped";
    default: return ares_strerror(status);
  }
}

// Answers that say the name has no address: kept like positive ones.
bool negative(int status) { return status == ARES_ENOTFOUND || status == ARES_ENODATA; }

std::string lowerCase(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// IPv4 first, each family in answer order: callers that try one address
// reach services on loopback, which listen on 127.0.0.1 more often than ::1.
// Returns the smallest TTL of the records (INT_MAX when none says).
int collect(const ares_addrinfo* result, std::vector<config::SocketAddress>& out) {
  int ttl = INT_MAX;
  for (const ares_addrinfo_cname* c = result->cnames; c != nullptr; c = c->next) {
    ttl = std::min(ttl, c->ttl);
  }
  for (int family : {AF_INET, AF_INET6}) {
    for (const ares_addrinfo_node* n = result->nodes; n != nullptr; n = n->ai_next) {
      if (n->ai_family != family || n->ai_addrlen > sizeof(sockaddr_storage)) continue;
      config::SocketAddress& a = out.emplace_back();
      std::memcpy(&a.storage, n->ai_addr, n->ai_addrlen);
      a.length = n->ai_addrlen;
      std::array<char, kAddressTextSize> text;
      std::string_view full = formatAddress(a.sa(), text);  // "ip:0" / "[ip]:0"
      full = full.substr(0, full.rfind(':'));
      if (family == AF_INET6) full = full.substr(1, full.size() - 2);
      a.text = full;
      ttl = std::min(ttl, n->ai_ttl);
    }
  }
  return ttl;
}

}  // namespace

// One c-ares lookup and the requests waiting for it. c-ares owns it until
// its callback (onQueryDone) deletes it; `resolver` is null once nobody
// waits for it here (timed out, or the resolver is gone).
struct DnsResolver::Query final : TimerHandler {
  DnsResolver* resolver = nullptr;
  std::string name;
  bool current = true;  // asked of the current servers: its answer may be cached
  std::vector<std::shared_ptr<DnsRequest>> waiting;
  Timer deadline{*this};

  void onTimer(Timer&) override { resolver->timedOut(*this); }
};

DnsResolver::DnsResolver(IoContext& io, std::vector<config::SocketAddress> servers,
                         DnsOptions options)
    : io_(io), options_(options), servers_(std::move(servers)), cache_(options.cacheSize) {
  openChannel();
}

DnsResolver::~DnsResolver() { stop(); }

void DnsResolver::stop() {
  stopped_ = true;
  // ares_destroy (in the channels' destructors) calls every query back;
  // detached, they only free themselves.
  for (Query* q : queries_) {
    q->resolver = nullptr;
    q->waiting.clear();
    io_.timers.cancel(q->deadline);
  }
  queries_.clear();
  byName_.clear();
  ready_.clear();
  io_.timers.cancel(deliver_);
  channel_.reset();
  retired_.clear();
}

bool DnsResolver::idle() const {
  auto busy = [](const auto& c) { return c && c->pending() != 0; };
  return !busy(channel_) && std::none_of(retired_.begin(), retired_.end(), busy) && *watches_ == 0;
}

void DnsResolver::openChannel() {
  if (channel_ && channel_->pending() != 0) {
    retired_.push_back(std::move(channel_));
  }
  channel_ = std::make_unique<DnsChannel>(io_, options_, servers_, watches_);
}

void DnsResolver::setServers(std::vector<config::SocketAddress> servers) {
  servers_ = std::move(servers);
  if (stopped_) return;
  cache_.clear();
  // Queries in flight still answer their requests, but new lookups do not
  // join them and their answers are not cached.
  for (auto& [name, q] : byName_) q->current = false;
  byName_.clear();
  openChannel();
}

void DnsResolver::reapRetired() {
  std::erase_if(retired_, [](const auto& c) { return c->pending() == 0; });
}

void DnsResolver::lookup(std::string_view name, std::shared_ptr<DnsRequest> request) {
  reapRetired();
  std::string key = lowerCase(name);
  if (stopped_) {
    answerLater(std::move(request),
                std::make_shared<const DnsAnswer>(DnsAnswer{{}, describe(ARES_EDESTRUCTION)}));
  } else if (auto answer = cache_.find(key, io_.now)) {
    answerLater(std::move(request), std::move(answer));
  } else if (auto it = byName_.find(key); it != byName_.end()) {
    it->second->waiting.push_back(std::move(request));
  } else if (!channel_->error().empty()) {
    answerLater(std::move(request),
                std::make_shared<const DnsAnswer>(DnsAnswer{{}, channel_->error()}));
  } else {
    startQuery(key, std::move(request));
  }
}

void DnsResolver::startQuery(const std::string& name, std::shared_ptr<DnsRequest> request) {
  auto* q = new Query;
  q->resolver = this;
  q->name = name;
  q->waiting.push_back(std::move(request));
  queries_.insert(q);
  byName_.emplace(name, q);
  io_.timers.schedule(q->deadline, io_.now + options_.lookupTimeout);
  // May call onQueryDone before it returns (hosts file, literal, bad name).
  channel_->lookup(name, &DnsResolver::onQueryDone, q);
}

void DnsResolver::onQueryDone(void* arg, int status, int, ares_addrinfo* result) {
  std::unique_ptr<Query> q(static_cast<Query*>(arg));
  if (q->resolver != nullptr) q->resolver->finish(*q, status, result);
  if (result != nullptr) ares_freeaddrinfo(result);
}

void DnsResolver::finish(Query& query, int status, const ares_addrinfo* result) {
  auto answer = std::make_shared<DnsAnswer>();
  int ttl = INT_MAX;
  if (status == ARES_SUCCESS && result != nullptr) ttl = collect(result, answer->addresses);
  if (status == ARES_SUCCESS && answer->addresses.empty()) status = ARES_ENODATA;
  if (status != ARES_SUCCESS) answer->error = describe(status);

  if (query.current && (status == ARES_SUCCESS || negative(status))) {
    std::chrono::seconds keep = options_.negativeTtl;
    if (status == ARES_SUCCESS) {
      keep = std::clamp(std::chrono::seconds(std::max(ttl, 0)), options_.minTtl, options_.maxTtl);
    }
    cache_.store(query.name, answer, io_.now + keep);
  }
  std::vector<std::shared_ptr<DnsRequest>> waiting = std::move(query.waiting);
  detach(query);
  for (auto& request : waiting) answerLater(std::move(request), answer);
}

void DnsResolver::timedOut(Query& query) {
  auto answer = std::make_shared<const DnsAnswer>(DnsAnswer{{}, describe(ARES_ETIMEOUT)});
  std::vector<std::shared_ptr<DnsRequest>> waiting = std::move(query.waiting);
  // c-ares keeps trying until its own schedule ends; the query then frees
  // itself unheard.
  detach(query);
  for (auto& request : waiting) answerLater(std::move(request), answer);
}

void DnsResolver::detach(Query& query) {
  if (auto it = byName_.find(query.name); it != byName_.end() && it->second == &query) {
    byName_.erase(it);
  }
  queries_.erase(&query);
  io_.timers.cancel(query.deadline);
  query.resolver = nullptr;
  query.waiting.clear();
}

void DnsResolver::answerLater(std::shared_ptr<DnsRequest> request,
                              std::shared_ptr<const DnsAnswer> answer) {
  ready_.emplace_back(std::move(request), std::move(answer));
  // A deadline already reached fires at the next tick: after the caller of
  // lookup() has returned, and outside any c-ares call.
  if (!deliver_.armed()) io_.timers.schedule(deliver_, io_.now);
}

void DnsResolver::onTimer(Timer&) {
  std::vector<Ready> batch;
  batch.swap(ready_);
  for (auto& [request, answer] : batch) request->onAnswer(*answer);
  reapRetired();
}

}  // namespace ringlb::dns
