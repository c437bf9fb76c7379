// Exchange, the edge cache (docs/cache.md): after the gateway's phases, a
// route with `cache` looks the request up. A fresh copy answers at once; a
// stale one is revalidated (its validators replace the client's conditional
// fields upstream) or, within stale-while-revalidate, served while another
// request revalidates it; a miss goes upstream, the first of concurrent
// misses alone (the others wait for its copy). On the way back the
// response is captured as the client gets it (after compression) and stored
// when it ends, if RFC 9111 allows.
#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "common/ascii.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/worker.h"
#include "l7/cache/byte_range.h"
#include "l7/cache/cache_control.h"
#include "l7/cache/conditional.h"
#include "l7/cache/vary.h"
#include "l7/http/background_fetch.h"
#include "l7/http/exchange.h"
#include "l7/http/http_service.h"

namespace ringlb::l7 {
namespace {

// How often a coalesced request looks for the copy another one fetches.
constexpr auto kWaitPoll = std::chrono::milliseconds(5);

cache::Seconds wallSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Fields the store never keeps: the connection's, the framing (the stored
// body has its own length) and Age (computed per answer).
bool notStored(const http::MessageHead& response, std::string_view name) {
  if (response.isHopByHop(name)) return true;
  for (std::string_view n : {"content-length", "transfer-encoding", "age", "cache-status"}) {
    if (equalsIgnoreCase(name, n)) return true;
  }
  return false;
}

const std::optional<config::CompressConfig> kNoCompress;

bool isSafe(http::Method method) {
  return method == http::Method::Get || method == http::Method::Head ||
         method == http::Method::Options || method == http::Method::Trace;
}

// The upstream request carries the copy's validators (in place of the
// client's conditional fields: ForwardInfo::revalidating).
void validateWith(ExchangeCache& c, const cache::StoredResponse& copy) {
  c.validating = true;
  if (!copy.etag.empty()) c.validators.push_back({"If-None-Match", copy.etag});
  if (!copy.lastModified.empty()) c.validators.push_back({"If-Modified-Since", copy.lastModified});
}

bool isServerError(uint16_t status) {
  return status == 500 || status == 502 || status == 503 || status == 504;
}

}  // namespace

bool Exchange::lookupCache() {
  const config::RouteConfig& route = *choice_.route;
  if (!cache_) {
    cache_ = std::make_unique<ExchangeCache>();
    size_t index = static_cast<size_t>(choice_.route - context_.listener.routes.data());
    cache_->store = context_.service.cacheStore(route, index);
    cache_->maxObjectSize = route.cache->maxObjectSize;
  }
  ExchangeCache& c = *cache_;
  bool get = head_.method == http::Method::Get;
  if (c.key.empty()) {
    std::string_view target =
        head_.targetForm == http::TargetForm::Absolute ? head_.path : head_.target;
    c.key = cache::cacheKey(head_.authority, target);
  }
  if (context_.refresh != nullptr) {
    refreshLookup();
    return false;
  }
  if ((!get && head_.method != http::Method::Head) || head_.wantsUpgrade()) {
    c.result = CacheResult::Bypass;
    c.status = "ringlb; fwd=method";
    // RFC 9111 section 4.4: a successful unsafe request makes the stored
    // responses of its target invalid (cacheResponseHead).
    c.invalidates = !isSafe(head_.method);
    return false;
  }
  cache::Seconds now = wallSeconds();
  c.requestTime = now;
  bool anyVariant = false;
  c.stored = c.store->find(c.key, [&](const cache::StoredResponse& s) {
    anyVariant = true;
    const auto& compress = s.varyByRouteCoding ? route.compress : kNoCompress;
    return cache::varyKey(s.varyNames, head_.headers, compress) == s.varyKey;
  });
  c.varyMiss = anyVariant && !c.stored;
  auto steady = context_.service.worker().now();
  // Only a plain GET fetches for others: a range, a conditional or a HEAD
  // may get an answer that cannot be stored, and would make the key pass.
  bool plainGet = get && !cache::isConditional(head_) && head_.find("range") == nullptr;
  auto claim = [&] {
    if (!plainGet) return cache::CacheStore::Claim::Pass;
    auto verdict = c.store->claim(c.key, steady, context_.listener.responseTimeout);
    if (verdict == cache::CacheStore::Claim::Fill) c.fill = cache::FillTicket(c.store, c.key);
    return verdict;
  };
  auto wait = [&] {
    c.waiting = true;
    c.collapsed = true;
    if (c.waitUntil == std::chrono::steady_clock::time_point{}) {
      c.waitUntil = steady + context_.listener.responseTimeout;
    }
    context_.owner.setResponseDeadline(steady + kWaitPoll);
    return true;
  };
  if (c.stored) {
    const cache::Freshness& f = c.stored->freshness;
    switch (cache::usability(f, head_, now)) {
      case cache::Usability::Fresh: {
        bool stale = cache::currentAge(f, now) >= f.lifetime;  // within the client's max-stale
        answerFromCache(*c.stored, stale ? CacheResult::Stale : CacheResult::Hit);
        return true;
      }
      case cache::Usability::StaleWhileRevalidate:
        // The first request in the window claims the refresh and hands it
        // to a background exchange; when none can start, it refreshes the
        // copy itself. Every other one gets the stale copy at once.
        if (claim() == cache::CacheStore::Claim::Fill && !refreshInBackground()) break;
        answerFromCache(*c.stored, CacheResult::Stale);
        return true;
      case cache::Usability::MustValidate:
        if (!f.hasValidator) break;  // nothing to validate with: fetch it anew
        if (claim() == cache::CacheStore::Claim::Wait) return wait();
        break;
    }
    if (f.hasValidator) {
      validateWith(c, *c.stored);
      c.result = CacheResult::Miss;  // until a 304 comes
      c.status = "ringlb; fwd=stale";
      return false;
    }
  }
  if (cache::parseCacheControl(head_.headers).onlyIfCached) {
    c.result = CacheResult::Miss;
    c.status = "ringlb; fwd=miss; detail=only-if-cached";
    std::array<http::HeaderView, 1> fields{{{"Cache-Status", c.status}}};
    answerLocally(504, fields, "504 Gateway Timeout: not in the cache (only-if-cached)\n");
    return true;
  }
  c.result = CacheResult::Miss;
  c.status = c.stored     ? "ringlb; fwd=stale"  // fetched anew: no validator
             : c.varyMiss ? "ringlb; fwd=vary-miss"
                          : "ringlb; fwd=uri-miss";
  if (!c.fill && claim() == cache::CacheStore::Claim::Wait) return wait();
  return false;
}

void Exchange::refreshLookup() {
  ExchangeCache& c = *cache_;
  CacheRefresh& r = *context_.refresh;
  c.key = r.key;
  c.requestTime = wallSeconds();
  c.stored = r.stored;
  // A reload may have given the route a new store: its fill is not ours.
  if (r.fill.store() == c.store.get()) {
    c.fill = std::move(r.fill);
  } else {
    r.fill.abandon();
  }
  c.result = CacheResult::Miss;
  c.status = "ringlb; fwd=stale";
  if (c.stored->freshness.hasValidator) validateWith(c, *c.stored);
}

bool Exchange::refreshInBackground() {
  ExchangeCache& c = *cache_;
  HttpService& service = context_.service;
  if (context_.draining || !service.backgroundFetchRoom()) return false;
  auto refresh = std::make_unique<CacheRefresh>();
  refresh->key = c.key;
  refresh->stored = c.stored;
  refresh->fill = std::move(c.fill);
  refresh->claimHeaders = claimHeaders_;
  refresh->authSubject = authSubject_;
  if (BackgroundFetch::start(service, head_, context_, refresh)) return true;
  c.fill = std::move(refresh->fill);  // this request refreshes the copy itself
  return false;
}

void Exchange::cacheWaitOver() {
  ExchangeCache& c = *cache_;
  c.waiting = false;
  context_.owner.setResponseDeadline({});
  if (context_.service.worker().now() >= c.waitUntil) {
    // The fetch takes longer than this request may wait: go alone.
    c.result = CacheResult::Miss;
    c.status = "ringlb; fwd=uri-miss";
    routeUpstream();
    return;
  }
  if (!lookupCache()) routeUpstream();
}

void Exchange::answerFromCache(const cache::StoredResponse& s, CacheResult result) {
  ExchangeCache& c = *cache_;
  c.result = result;
  cache::Seconds now = wallSeconds();
  cache::Seconds age = cache::currentAge(s.freshness, now);
  cache::Seconds ttl = s.freshness.lifetime - age;
  switch (result) {
    case CacheResult::Hit:
      c.status = c.collapsed ? "ringlb; hit; collapsed" : fmt::format("ringlb; hit; ttl={}", ttl);
      break;
    case CacheResult::Stale:
      c.status = fmt::format("ringlb; hit; ttl={}; detail=stale", ttl);
      break;
    case CacheResult::Revalidated: c.status = "ringlb; fwd=stale; fwd-status=304"; break;
    default: break;
  }
  local_ = true;
  phase_ = Phase::Responding;
  if (!requestBody_.done()) keepAlive_ = false;
  if (context_.refresh != nullptr) {  // no client to answer
    status_ = s.status;
    signalComplete();
    return;
  }
  uint16_t status = s.status;
  std::string_view body = s.body;
  std::string contentRange;
  bool get = head_.method == http::Method::Get;
  if (s.status == 200 && cache::notModified(head_, s.etag, s.lastModified)) {
    status = 304;
    body = {};
  } else if (s.status == 200 && get && head_.find("range") != nullptr &&
             cache::ifRangeAllows(head_, s.etag, s.lastModified)) {
    cache::RangeAnswer range = cache::rangeAnswer(head_, s.body.size());
    if (range.kind == cache::RangeAnswer::Partial) {
      status = 206;
      body = body.substr(range.first, range.last - range.first + 1);
      contentRange = std::move(range.contentRange);
    } else if (range.kind == cache::RangeAnswer::Unsatisfiable) {
      status = 416;
      body = {};
      contentRange = std::move(range.contentRange);
    }
  }
  status_ = status;
  std::string ageText = std::to_string(std::max<cache::Seconds>(age, 0));
  std::string length = std::to_string(body.size());
  std::vector<http::HeaderView> fields;
  fields.reserve(s.fields.size() + 6);
  for (const auto& f : s.fields) {
    // A 304 carries the validators and caching fields, not the body's.
    if (status == 304 &&
        (equalsIgnoreCase(f.name, "content-type") || equalsIgnoreCase(f.name, "content-encoding") ||
         equalsIgnoreCase(f.name, "content-language"))) {
      continue;
    }
    fields.push_back({f.name, f.value});
  }
  fields.push_back({"Age", ageText});
  fields.push_back({"Cache-Status", c.status});
  if (!contentRange.empty()) fields.push_back({"Content-Range", contentRange});
  if (status != 304 && status != 204) fields.push_back({"Content-Length", length});
  if (choice_.route->cors) corsFields(fields);
  http::MessageHead response;
  response.status = status;
  response.reason = status == s.status ? std::string_view(s.reason) : http::reasonPhrase(status);
  response.headers = fields;
  bool head = head_.method == http::Method::Head;
  bool noBody = head || status == 304 || status == 204;
  response.framing = noBody ? http::BodyFraming::None : http::BodyFraming::ContentLength;
  response.contentLength = body.size();
  ResponseHeadOptions options;
  options.close = !keepAlive_ || context_.draining;
  options.keepAlive = head_.version == http::Version::Http10 && !options.close;
  context_.client.sendResponseHead(response, choice_.route, options);
  if (!noBody) context_.client.responseBody().append(body);
  signalComplete();
  context_.client.flushResponse();
}

bool Exchange::cacheResponseHead(const http::MessageHead& h) {
  ExchangeCache& c = *cache_;
  if (c.invalidates && h.status < 400) c.store->invalidate(c.key);
  if (c.result == CacheResult::Bypass) return false;
  if (c.validating && h.status == 304 && c.stored) {
    // The copy is still good: its fields refreshed from the 304, stored
    // again, and the client answered from it.
    auto fresh = std::make_shared<cache::StoredResponse>(*c.stored);
    fresh->fields = cache::mergeNotModified(c.stored->fields, h.headers);
    std::vector<http::HeaderView> views;
    for (const auto& f : fresh->fields) views.push_back({f.name, f.value});
    http::MessageHead merged = h;
    merged.status = c.stored->status;
    merged.headers = views;
    cache::StoreDecision d = cache::decideStore(head_, merged, c.requestTime, wallSeconds(),
                                                choice_.route->cache->defaultTtl.count() / 1000);
    if (d.store()) fresh->freshness = d.freshness;
    if (auto etag = cache::fieldValue(views, "etag")) fresh->etag = *etag;
    if (auto lm = cache::fieldValue(views, "last-modified")) fresh->lastModified = *lm;
    bool stored = d.store() && c.store->insert(c.key, fresh);
    if (!d.store()) c.store->erase(c.key, c.stored.get());
    c.fill.end(stored);
    backendKeepAlive_ = h.keepAlive;
    responseBody_ = BodyRelay(h);
    context_.owner.setResponseDeadline({});
    timing_.response = std::chrono::duration_cast<std::chrono::microseconds>(
        context_.service.worker().now() - timing_.attempt);
    answerFromCache(*fresh, CacheResult::Revalidated);
    return true;
  }
  if (c.stored && isServerError(h.status) &&
      cache::staleIfErrorAllows(c.stored->freshness, head_, wallSeconds())) {
    backendKeepAlive_ = false;  // its body is not read: the connection closes
    answerFromCache(*c.stored, CacheResult::Stale);
    return true;
  }
  return false;
}

bool Exchange::startCapture(const http::MessageHead& h) {
  ExchangeCache& c = *cache_;
  if (c.result == CacheResult::Bypass) return false;
  c.status += fmt::format("; fwd-status={}", h.status);
  cache::StoreDecision d = cache::decideStore(head_, h, c.requestTime, wallSeconds(),
                                              choice_.route->cache->defaultTtl.count() / 1000);
  bool tooBig = h.framing == http::BodyFraming::ContentLength && h.contentLength > c.maxObjectSize;
  if (!d.store() || tooBig) {
    // A GET's uncacheable answer replaces the copy (a HEAD's says nothing of
    // it, nor does a server error: the copy may still serve on errors).
    if (c.stored && head_.method == http::Method::Get && h.status < 500) {
      c.store->erase(c.key, c.stored.get());
    }
    c.fill.end(false);
    return false;
  }
  c.capture = std::make_unique<cache::StoredResponse>();
  c.capture->status = h.status;
  c.capture->reason = h.reason;
  c.capture->freshness = d.freshness;
  if (h.framing == http::BodyFraming::ContentLength) {
    c.capture->body.reserve(h.contentLength);
    c.status += "; stored";
  }
  return true;
}

void Exchange::captureFields(std::span<const http::HeaderView> fields) {
  ExchangeCache& c = *cache_;
  cache::StoredResponse& s = *c.capture;
  const http::MessageHead& response = responseParser().head();
  for (const auto& f : fields) {
    if (notStored(response, f.name)) continue;
    s.fields.push_back({std::string(f.name), std::string(f.value)});
  }
  if (auto etag = cache::fieldValue(fields, "etag")) s.etag = *etag;
  if (auto lm = cache::fieldValue(fields, "last-modified")) s.lastModified = *lm;
  auto names = cache::varyNames(fields);
  if (!names) {  // Vary: * (decideStore refuses it; the edits could add it)
    c.capture.reset();
    c.fill.end(false);
    return;
  }
  s.varyNames = std::move(*names);
  s.varyByRouteCoding = !(compressDecision_ && compressDecision_->skip == CompressSkip::Encoded);
  s.varyKey = cache::varyKey(s.varyNames, head_.headers,
                             s.varyByRouteCoding ? choice_.route->compress : kNoCompress);
  std::string_view key = c.key;
  auto nl = key.find('\n');
  s.host = std::string(key.substr(0, nl));
  s.target = std::string(key.substr(nl + 1));
}

void Exchange::captureBody(std::string_view bytes) {
  ExchangeCache& c = *cache_;
  if (c.capture->body.size() + bytes.size() > c.maxObjectSize) {
    // Larger than the route keeps: the client gets all of it, the store none.
    c.capture.reset();
    c.fill.end(false);
    return;
  }
  c.capture->body.append(bytes);
}

void Exchange::endCapture() {
  ExchangeCache& c = *cache_;
  if (!c.capture) {
    c.fill.end(false);
    return;
  }
  if (!responseBody_.done() || failure_) {
    c.capture.reset();
    c.fill.abandon();  // broke off: the next miss fetches it again
    return;
  }
  bool stored = false;
  if (responseBody_.trailers().empty()) {  // trailers are not kept: not stored
    c.capture->body.shrink_to_fit();
    stored =
        c.store->insert(c.key, std::shared_ptr<const cache::StoredResponse>(std::move(c.capture)));
  }
  c.capture.reset();
  c.fill.end(stored);
}

bool Exchange::serveStaleOnError(const Error& error) {
  ExchangeCache& c = *cache_;
  if (!c.stored || local_ || phase_ >= Phase::Responding || error.source != ErrorSource::Backend) {
    return false;
  }
  if (!cache::staleIfErrorAllows(c.stored->freshness, head_, wallSeconds())) return false;
  logDebug("listener {}: {} from {}: serving the stale copy (stale-if-error)",
           context_.listener.name, error.name(), backendKey_);
  if (conn_ != nullptr) dropBackend(false);
  releaseLease();
  context_.owner.setResponseDeadline({});
  answerFromCache(*c.stored, CacheResult::Stale);
  return true;
}

void Exchange::countCache(uint16_t statusSent) {
  ListenerStats& stats = context_.service.stats();
  if (context_.refresh == nullptr) {
    stats.cacheRequests[static_cast<size_t>(cache_->result)].add();
    return;
  }
  CacheRefreshResult result = CacheRefreshResult::Fetched;
  if (failure_ || statusSent >= 500 || cache_->result == CacheResult::Stale) {
    result = CacheRefreshResult::Failed;
  } else if (cache_->result == CacheResult::Revalidated) {
    result = CacheRefreshResult::Revalidated;
  }
  stats.cacheRefreshes[static_cast<size_t>(result)].add();
}

}  // namespace ringlb::l7
