#include "l7/cache/freshness.h"

#include <algorithm>
#include <array>

#include "common/ascii.h"
#include "l7/gateway/compress_fields.h"

namespace ringlb::l7::cache {
namespace {

using Fields = std::span<const http::HeaderView>;

bool has(Fields fields, std::string_view name) { return findField(fields, name) != nullptr; }

// Statuses stored with explicit freshness or default_ttl (RFC 9110 section
// 15.1 "heuristically cacheable"), and those that need explicit freshness.
bool heuristicallyCacheable(uint16_t status) {
  constexpr std::array<uint16_t, 11> kStatuses = {200, 203, 204, 300, 301, 308,
                                                  404, 405, 410, 414, 501};
  return std::find(kStatuses.begin(), kStatuses.end(), status) != kStatuses.end();
}
bool cacheableWithExplicitFreshness(uint16_t status) { return status == 302 || status == 307; }

// Date, or the response time when it is absent or invalid.
Seconds dateValue(Fields response, Seconds responseTime) {
  std::optional<std::string_view> date = fieldValue(response, "date");
  std::optional<Seconds> parsed = date ? parseHttpDate(*date) : std::nullopt;
  return parsed.value_or(responseTime);
}

// s-maxage, else max-age, else Expires - Date (invalid Expires: 0), else
// default_ttl. Never negative.
Seconds freshnessLifetime(const CacheControl& cc, Fields response, Seconds responseTime,
                          Seconds defaultTtl) {
  if (cc.sMaxAge) return *cc.sMaxAge;
  if (cc.maxAge) return *cc.maxAge;
  if (std::optional<std::string_view> expires = fieldValue(response, "expires")) {
    std::optional<Seconds> at = parseHttpDate(*expires);
    if (!at) return 0;
    return std::max<Seconds>(0, *at - dateValue(response, responseTime));
  }
  return std::max<Seconds>(0, defaultTtl);
}

// RFC 9111 section 4.2.3: what the response's age already was when it arrived.
Seconds correctedInitialAge(Fields response, Seconds requestTime, Seconds responseTime) {
  std::optional<std::string_view> ageField = fieldValue(response, "age");
  std::optional<Seconds> parsedAge = ageField ? parseDeltaSeconds(*ageField) : std::nullopt;
  Seconds ageValue = parsedAge.value_or(0);  // an invalid Age is ignored
  Seconds apparentAge = std::max<Seconds>(0, responseTime - dateValue(response, responseTime));
  Seconds responseDelay = std::max<Seconds>(0, responseTime - requestTime);
  return std::max(apparentAge, ageValue + responseDelay);
}

bool hasValidator(Fields response) {
  std::optional<std::string_view> etag = fieldValue(response, "etag");
  std::optional<std::string_view> lastModified = fieldValue(response, "last-modified");
  return (etag && !etag->empty()) || (lastModified && parseHttpDate(*lastModified));
}

// How far past its lifetime the response is at `now` (0 while fresh).
Seconds staleness(const Freshness& f, Seconds now) {
  return std::max<Seconds>(0, currentAge(f, now) - f.lifetime);
}

// The first failing rule names the reason, in this fixed order: what was
// asked (method), what came back (partial, status), the directives of the
// request and then the response, the fields that make a response one
// client's, and last whether it could ever be used.
NoStore notStoredBecause(const http::MessageHead& request, const http::MessageHead& response,
                         const CacheControl& req, const CacheControl& res, const Freshness& f) {
  Fields fields = response.headers;
  bool explicitFreshness = res.sMaxAge || res.maxAge || has(fields, "expires");
  bool statusOk = heuristicallyCacheable(response.status) ||
                  (cacheableWithExplicitFreshness(response.status) && explicitFreshness);
  // RFC 9111 section 3.5: these three let a shared cache keep an
  // authenticated answer.
  bool authorizedOk = !has(request.headers, "authorization") || res.isPublic ||
                      res.sMaxAge.has_value() || res.mustRevalidate;
  if (request.method != http::Method::Get) return NoStore::Method;
  if (response.status == 206 || has(fields, "content-range")) return NoStore::Partial;
  if (!statusOk) return NoStore::Status;
  if (req.noStore) return NoStore::RequestNoStore;
  if (res.noStore) return NoStore::ResponseNoStore;
  if (res.isPrivate) return NoStore::Private;
  if (!authorizedOk) return NoStore::Authorization;
  if (listHasToken(fields, "vary", "*")) return NoStore::VaryStar;
  if (has(fields, "set-cookie")) return NoStore::SetCookie;
  if ((f.lifetime <= 0 || f.noCache) && !f.hasValidator) return NoStore::NoFreshness;
  return NoStore::None;
}

}  // namespace

std::string_view noStoreName(NoStore reason) {
  switch (reason) {
    case NoStore::None: return "";
    case NoStore::Method: return "method";
    case NoStore::Status: return "status";
    case NoStore::RequestNoStore: return "request_no_store";
    case NoStore::ResponseNoStore: return "response_no_store";
    case NoStore::Private: return "private";
    case NoStore::Authorization: return "authorization";
    case NoStore::VaryStar: return "vary_star";
    case NoStore::SetCookie: return "set_cookie";
    case NoStore::NoFreshness: return "no_freshness";
    case NoStore::Partial: return "partial";
  }
  return "";
}

StoreDecision decideStore(const http::MessageHead& request, const http::MessageHead& response,
                          Seconds requestTime, Seconds responseTime, Seconds defaultTtl) {
  CacheControl req = parseCacheControl(request.headers);
  CacheControl res = parseCacheControl(response.headers);
  StoreDecision d;
  Freshness& f = d.freshness;
  f.requestTime = requestTime;
  f.responseTime = responseTime;
  f.correctedInitialAge = correctedInitialAge(response.headers, requestTime, responseTime);
  f.lifetime = freshnessLifetime(res, response.headers, responseTime, defaultTtl);
  f.staleWhileRevalidate = res.staleWhileRevalidate.value_or(0);
  f.staleIfError = res.staleIfError.value_or(0);
  f.mustRevalidate = res.mustRevalidate || res.proxyRevalidate || res.sMaxAge.has_value();
  f.noCache = res.noCache;
  f.hasValidator = hasValidator(response.headers);

  d.reason = notStoredBecause(request, response, req, res, f);
  return d;
}

Seconds currentAge(const Freshness& f, Seconds now) {
  Seconds residentTime = std::max<Seconds>(0, now - f.responseTime);
  return std::max<Seconds>(0, f.correctedInitialAge + residentTime);
}

Usability usability(const Freshness& f, const http::MessageHead& request, Seconds now) {
  CacheControl cc = parseCacheControl(request.headers);
  // Pragma: no-cache counts only from clients that send no Cache-Control
  // (RFC 9111 section 5.4).
  bool pragmaNoCache =
      !has(request.headers, "cache-control") && listHasToken(request.headers, "pragma", "no-cache");
  if (cc.noCache || pragmaNoCache || f.noCache) return Usability::MustValidate;
  Seconds age = currentAge(f, now);
  if (cc.maxAge && age > *cc.maxAge) return Usability::MustValidate;
  if (cc.minFresh && f.lifetime - age < *cc.minFresh) return Usability::MustValidate;
  if (age < f.lifetime) return Usability::Fresh;
  Seconds stale = age - f.lifetime;
  if (f.mustRevalidate) return Usability::MustValidate;
  if (cc.maxStale && stale <= *cc.maxStale) return Usability::Fresh;
  // A window of 0 is no window: stale-while-revalidate absent is stored as 0.
  if (f.staleWhileRevalidate > 0 && stale <= f.staleWhileRevalidate) {
    return Usability::StaleWhileRevalidate;
  }
  return Usability::MustValidate;
}

bool staleIfErrorAllows(const Freshness& f, const http::MessageHead& request, Seconds now) {
  if (f.mustRevalidate) return false;
  // A no-cache response may not be served unvalidated on the client's word
  // alone (RFC 9111 section 4.2.4); its own stale-if-error still counts.
  Seconds window = f.staleIfError;
  if (!f.noCache) {
    window = std::max(window, parseCacheControl(request.headers).staleIfError.value_or(0));
  }
  return window > 0 && staleness(f, now) <= window;
}

std::vector<OwnedField> mergeNotModified(std::span<const OwnedField> stored,
                                         std::span<const http::HeaderView> notModified) {
  // Fields that describe the 304 message itself, not the stored response.
  auto skipped = [notModified](std::string_view name) {
    for (std::string_view s :
         {"content-length", "content-encoding", "transfer-encoding", "content-range", "connection",
          "keep-alive", "te", "trailer", "upgrade", "proxy-connection", "age"}) {
      if (equalsIgnoreCase(name, s)) return true;
    }
    return listHasToken(notModified, "connection", name);  // named hop-by-hop
  };
  std::vector<const http::HeaderView*> updates;
  for (const http::HeaderView& f : notModified) {
    if (!skipped(f.name)) updates.push_back(&f);
  }
  auto updated = [&updates](std::string_view name) {
    return std::any_of(updates.begin(), updates.end(), [name](const http::HeaderView* u) {
      return equalsIgnoreCase(u->name, name);
    });
  };
  auto appendUpdates = [&updates](std::vector<OwnedField>& out, std::string_view name) {
    for (const http::HeaderView* u : updates) {
      if (equalsIgnoreCase(u->name, name))
        out.push_back({std::string(u->name), std::string(u->value)});
    }
  };

  std::vector<OwnedField> out;
  out.reserve(stored.size() + updates.size());
  for (size_t i = 0; i < stored.size(); ++i) {
    const std::string& name = stored[i].name;
    if (!updated(name)) {
      out.push_back(stored[i]);
      continue;
    }
    // The new values go where the first stored field of that name was.
    bool first =
        std::none_of(stored.begin(), stored.begin() + static_cast<ptrdiff_t>(i),
                     [&name](const OwnedField& s) { return equalsIgnoreCase(s.name, name); });
    if (first) appendUpdates(out, name);
  }
  // Names the stored response did not have, in the 304's order.
  for (const http::HeaderView* u : updates) {
    bool known = std::any_of(stored.begin(), stored.end(), [u](const OwnedField& s) {
      return equalsIgnoreCase(s.name, u->name);
    });
    if (!known) out.push_back({std::string(u->name), std::string(u->value)});
  }
  return out;
}

}  // namespace ringlb::l7::cache
