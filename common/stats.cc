#include "common/stats.h"

#include <iterator>

namespace ringlb {
namespace {

// The entry of `all` whose key() is `key`, created (with that key) on first
// use. The caller holds the registry's mutex.
template <typename Stats, typename... Key>
Stats& findOrCreate(std::deque<Stats>& all, const Key&... key) {
  const auto wanted = std::tie(key...);
  for (Stats& s : all) {
    if (s.key() == wanted) return s;
  }
  Stats& s = all.emplace_back();
  s.key() = wanted;
  return s;
}

}  // namespace

void DurationHistogram::observe(uint64_t micros) {
  const double seconds = static_cast<double>(micros) / 1e6;
  size_t i = 0;
  while (i < kDurationBuckets.size() && seconds > kDurationBuckets[i]) ++i;
  buckets[i].add();  // cumulative sums are formed when scraped
  count.add();
  sumMicros.add(micros);
}

const char* rejectReasonName(RejectReason r) {
  switch (r) {
    case RejectReason::BadRequest: return "bad_request";
    case RejectReason::HeaderTimeout: return "header_timeout";
    case RejectReason::TooLarge: return "too_large";
    case RejectReason::NoRoute: return "no_route";
    case RejectReason::NoBackend: return "no_backend";
    case RejectReason::ConnectionLimit: return "connection_limit";
    case RejectReason::Denied: return "denied";
    case RejectReason::Other: return "other";
    case RejectReason::TlsHandshake: return "tls_handshake";
    case RejectReason::ClientLimit: return "client_limit";
  }
  return "other";
}

const char* http2CodeName(size_t code) {
  static constexpr const char* kNames[] = {"no_error",
                                           "protocol_error",
                                           "internal_error",
                                           "flow_control_error",
                                           "settings_timeout",
                                           "stream_closed",
                                           "frame_size_error",
                                           "refused_stream",
                                           "cancel",
                                           "compression_error",
                                           "connect_error",
                                           "enhance_your_calm",
                                           "inadequate_security",
                                           "http_1_1_required"};
  return code < std::size(kNames) ? kNames[code] : "other";
}

const char* http2LimitName(Http2Limit limit) {
  switch (limit) {
    case Http2Limit::RapidReset: return "rapid_reset";
    case Http2Limit::ControlFlood: return "control_flood";
    case Http2Limit::HeaderBlock: return "header_block";
    case Http2Limit::ConcurrentStreams: return "concurrent_streams";
  }
  return "other";
}

ListenerStats& StatsRegistry::listener(const std::string& name, unsigned worker) {
  std::lock_guard lock(mutex_);
  return findOrCreate(listeners_, name, worker);
}

BackendStats& StatsRegistry::backend(const std::string& pool, const std::string& address,
                                     unsigned worker) {
  std::lock_guard lock(mutex_);
  return findOrCreate(backends_, pool, address, worker);
}

RouteStats& StatsRegistry::route(const std::string& listener, const std::string& route,
                                 unsigned worker) {
  std::lock_guard lock(mutex_);
  return findOrCreate(routes_, listener, route, worker);
}

void StatsRegistry::forEachRoute(const std::function<void(const RouteStats&)>& f) const {
  std::lock_guard lock(mutex_);
  for (const auto& s : routes_) f(s);
}

ForwardRuleStats& StatsRegistry::forwardRule(const std::string& listener, const std::string& rule,
                                             unsigned worker) {
  std::lock_guard lock(mutex_);
  return findOrCreate(forwardRules_, listener, rule, worker);
}

void StatsRegistry::forEachForwardRule(
    const std::function<void(const ForwardRuleStats&)>& f) const {
  std::lock_guard lock(mutex_);
  for (const auto& s : forwardRules_) f(s);
}

void StatsRegistry::forEachListener(const std::function<void(const ListenerStats&)>& f) const {
  std::lock_guard lock(mutex_);
  for (const auto& s : listeners_) f(s);
}

void StatsRegistry::forEachBackend(const std::function<void(const BackendStats&)>& f) const {
  std::lock_guard lock(mutex_);
  for (const auto& s : backends_) f(s);
}

}  // namespace ringlb
