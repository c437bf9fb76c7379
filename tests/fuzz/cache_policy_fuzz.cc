// libFuzzer target for the edge cache's parsers of untrusted input
// (l7/cache): Cache-Control, HTTP-dates, Range, the conditional fields,
// Vary, and the store and use decisions over request and response heads.
//
// Input: a 16-byte header of parameters (method, status, times, a body size,
// flags, a timestamp), then text split into lines: request fields up to the
// first empty line, response fields up to the next, then the fields of a
// 304. A line is "name: value" (no colon: a name with an empty value).
//
// Invariants: no crash, leak or undefined behaviour; formatHttpDate and
// parseHttpDate round-trip every time IMF-fixdate can write; delta-seconds
// are clamped to 2^31; a Range answer names offsets inside the body; Vary
// names are lower-cased, sorted, unique, and a varyKey has one line per name;
// a stored response was a GET with a storable status; a 304 merge keeps
// every update.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ascii.h"
#include "l7/cache/byte_range.h"
#include "l7/cache/cache_control.h"
#include "l7/cache/conditional.h"
#include "l7/cache/freshness.h"
#include "l7/cache/vary.h"

namespace {

using namespace ringlb;
using namespace ringlb::l7::cache;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

constexpr Seconds kMaxDelta = Seconds{1} << 31;
constexpr Seconds kFirstDate = -62135596800;  // 0001-01-01T00:00:00Z
constexpr Seconds kLastDate = 253402300799;   // 9999-12-31T23:59:59Z

// Reads little-endian integers from the parameter header.
struct Params {
  const uint8_t* p;
  uint64_t u(size_t at, size_t n) const {
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{p[at + i]} << (8 * i);
    return v;
  }
};
constexpr size_t kParams = 16;

http::HeaderView toField(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return {line, {}};
  return {line.substr(0, colon), trimOws(line.substr(colon + 1))};
}

// The three field lists of the input.
struct Sections {
  std::vector<http::HeaderView> request, response, notModified;
  std::vector<std::string_view> lines;  // every line, raw
};

Sections split(std::string_view text) {
  Sections s;
  std::vector<http::HeaderView>* lists[] = {&s.request, &s.response, &s.notModified};
  size_t section = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    s.lines.push_back(line);
    if (line.empty()) {
      section = std::min<size_t>(section + 1, 2);
      continue;
    }
    lists[section]->push_back(toField(line));
  }
  return s;
}

void checkDateRoundTrip(Seconds t) {
  std::string text = formatHttpDate(t);
  FUZZ_CHECK(text.size() == 29);  // "Sun, 06 Nov 1994 08:49:37 GMT"
  std::optional<Seconds> back = parseHttpDate(text);
  FUZZ_CHECK(back.has_value());
  FUZZ_CHECK(*back == std::clamp(t, kFirstDate, kLastDate));
}

void checkText(std::string_view text) {
  if (std::optional<Seconds> t = parseHttpDate(text)) {
    // Whatever form was read, its time writes as IMF-fixdate and reads back.
    if (*t >= kFirstDate && *t <= kLastDate) checkDateRoundTrip(*t);
  }
  if (std::optional<Seconds> d = parseDeltaSeconds(text)) {
    FUZZ_CHECK(*d >= 0 && *d <= kMaxDelta);
    FUZZ_CHECK(!text.empty());
    FUZZ_CHECK(std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }));
  }
}

void checkDelta(const std::optional<Seconds>& d) {
  if (d) FUZZ_CHECK(*d >= 0 && *d <= kMaxDelta);
}

void checkCacheControl(std::span<const http::HeaderView> fields) {
  CacheControl cc = parseCacheControl(fields);
  checkDelta(cc.maxAge);
  checkDelta(cc.sMaxAge);
  checkDelta(cc.minFresh);
  checkDelta(cc.staleWhileRevalidate);
  checkDelta(cc.staleIfError);
  if (cc.maxStale && *cc.maxStale != std::numeric_limits<Seconds>::max()) checkDelta(cc.maxStale);
  // Fields named otherwise are not read.
  std::vector<http::HeaderView> renamed(fields.begin(), fields.end());
  for (auto& f : renamed) {
    if (equalsIgnoreCase(f.name, "cache-control")) f.name = "x-cache-control";
  }
  CacheControl none = parseCacheControl(renamed);
  FUZZ_CHECK(!none.maxAge && !none.noStore && !none.noCache && !none.isPrivate);
}

void checkRange(const http::MessageHead& request, uint64_t size) {
  RangeAnswer a = rangeAnswer(request, size);
  switch (a.kind) {
    case RangeAnswer::Whole: FUZZ_CHECK(a.contentRange.empty()); break;
    case RangeAnswer::Partial:
      FUZZ_CHECK(request.method == http::Method::Get);
      FUZZ_CHECK(a.first <= a.last && a.last < size);
      FUZZ_CHECK(a.contentRange == "bytes " + std::to_string(a.first) + "-" +
                                       std::to_string(a.last) + "/" + std::to_string(size));
      break;
    case RangeAnswer::Unsatisfiable:
      FUZZ_CHECK(request.method == http::Method::Get);
      FUZZ_CHECK(a.contentRange == "bytes */" + std::to_string(size));
      break;
    default: FUZZ_CHECK(false);
  }
}

void checkConditional(const http::MessageHead& request,
                      std::span<const http::HeaderView> response) {
  auto etag = fieldValue(response, "etag").value_or("");
  auto lastModified = fieldValue(response, "last-modified").value_or("");
  bool nm = notModified(request, etag, lastModified);
  bool ir = ifRangeAllows(request, etag, lastModified);
  if (request.method != http::Method::Get && request.method != http::Method::Head) FUZZ_CHECK(!nm);
  if (!isConditional(request)) FUZZ_CHECK(!nm && ir);
  // Against the stored fields' own values as the client's validators.
  (void)notModified(request, trimOws(etag), "");
  (void)ifRangeAllows(request, "", lastModified);
}

void checkVary(std::span<const http::HeaderView> request,
               std::span<const http::HeaderView> response, bool compress) {
  std::optional<std::vector<std::string>> names = varyNames(response);
  if (!names) return;
  FUZZ_CHECK(std::is_sorted(names->begin(), names->end()));
  FUZZ_CHECK(std::adjacent_find(names->begin(), names->end()) == names->end());
  for (const std::string& n : *names) {
    FUZZ_CHECK(!n.empty() && n == toLowerCopy(n));
    FUZZ_CHECK(n.find_first_of(" \t,\n") == std::string::npos);
  }
  static const std::optional<config::CompressConfig> kCompress = config::CompressConfig{};
  static const std::optional<config::CompressConfig> kNone;
  const auto& route = compress ? kCompress : kNone;
  std::string key = varyKey(*names, request, route);
  FUZZ_CHECK(key == varyKey(*names, request, route));
  // One line per name: field values never hold a line feed here.
  FUZZ_CHECK(static_cast<size_t>(std::count(key.begin(), key.end(), '\n')) == names->size());
  if (!names->empty()) FUZZ_CHECK(key.starts_with(names->front()));
  // Fields the response does not vary on do not change the key.
  std::vector<http::HeaderView> more(request.begin(), request.end());
  more.push_back({"x-fuzz-unvaried-field", "1"});
  if (!std::binary_search(names->begin(), names->end(), "x-fuzz-unvaried-field")) {
    FUZZ_CHECK(varyKey(*names, more, route) == key);
  }
}

constexpr std::array<uint16_t, 16> kStatuses = {200, 203, 204, 206, 300, 301, 302, 304,
                                                307, 308, 404, 405, 410, 414, 500, 501};
bool storable(uint16_t status) {
  for (uint16_t s : {200, 203, 204, 300, 301, 302, 307, 308, 404, 405, 410, 414, 501}) {
    if (s == status) return true;
  }
  return false;
}

void checkDecisions(const http::MessageHead& request, const http::MessageHead& response,
                    const Params& p) {
  // Times near today, as the exchange passes them; `now` before or after.
  Seconds requestTime = 1'700'000'000 + static_cast<Seconds>(p.u(3, 3));
  Seconds responseTime = requestTime + static_cast<Seconds>(p.u(6, 1));
  Seconds defaultTtl = p.u(15, 1) & 1 ? static_cast<Seconds>(p.u(7, 2)) : 0;
  Seconds now = responseTime + static_cast<Seconds>(p.u(9, 4)) - (Seconds{1} << 31);

  StoreDecision d = decideStore(request, response, requestTime, responseTime, defaultTtl);
  const Freshness& f = d.freshness;
  FUZZ_CHECK(f.lifetime >= 0);
  FUZZ_CHECK(f.correctedInitialAge >= 0);
  FUZZ_CHECK(f.staleWhileRevalidate >= 0 && f.staleIfError >= 0);
  FUZZ_CHECK(!noStoreName(d.reason).empty() == !d.store());
  if (request.method != http::Method::Get) FUZZ_CHECK(d.reason == NoStore::Method);
  if (d.store()) {
    FUZZ_CHECK(storable(response.status));
    FUZZ_CHECK(f.lifetime > 0 || f.hasValidator);
  }
  FUZZ_CHECK(currentAge(f, now) >= 0);
  Usability u = usability(f, request, now);
  FUZZ_CHECK(u == Usability::Fresh || u == Usability::StaleWhileRevalidate ||
             u == Usability::MustValidate);
  if (f.noCache) FUZZ_CHECK(u == Usability::MustValidate);
  bool sie = staleIfErrorAllows(f, request, now);
  if (f.mustRevalidate) FUZZ_CHECK(!sie && u != Usability::StaleWhileRevalidate);
}

void checkMerge(std::span<const http::HeaderView> response,
                std::span<const http::HeaderView> notModified) {
  std::vector<OwnedField> stored;
  for (const auto& f : response) stored.push_back({std::string(f.name), std::string(f.value)});
  std::vector<OwnedField> merged = mergeNotModified(stored, notModified);
  FUZZ_CHECK(merged.size() <= stored.size() + notModified.size());
  // Every kept field came from one side or the other.
  for (const OwnedField& m : merged) {
    bool fromStored = std::any_of(stored.begin(), stored.end(), [&](const OwnedField& s) {
      return s.name == m.name && s.value == m.value;
    });
    bool from304 = std::any_of(notModified.begin(), notModified.end(), [&](const auto& n) {
      return n.name == m.name && n.value == m.value;
    });
    FUZZ_CHECK(fromStored || from304);
  }
  // A 304's Content-Length never replaces the stored one.
  for (const OwnedField& m : merged) {
    if (!equalsIgnoreCase(m.name, "content-length")) continue;
    FUZZ_CHECK(std::any_of(stored.begin(), stored.end(), [&](const OwnedField& s) {
      return s.name == m.name && s.value == m.value;
    }));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < kParams) return 0;
  Params p{data};
  std::string text(reinterpret_cast<const char*>(data) + kParams, size - kParams);
  Sections s = split(text);

  // Any time IMF-fixdate can write round-trips.
  auto raw = static_cast<int64_t>(p.u(0, 8));
  Seconds span = kLastDate - kFirstDate + 1;
  checkDateRoundTrip(kFirstDate + ((raw % span) + span) % span);
  checkDateRoundTrip(raw);  // clamped

  for (std::string_view line : s.lines) checkText(line);
  for (const auto* list : {&s.request, &s.response, &s.notModified}) {
    for (const auto& f : *list) checkText(f.value);
    checkCacheControl(*list);
  }

  static constexpr std::array<http::Method, 4> kMethods = {http::Method::Get, http::Method::Head,
                                                           http::Method::Post, http::Method::Other};
  http::MessageHead request;
  request.method = kMethods[data[0] % kMethods.size()];
  request.headers = s.request;
  http::MessageHead response;
  response.status = data[1] < 128 ? kStatuses[data[1] % kStatuses.size()]
                                  : static_cast<uint16_t>(100 + p.u(1, 2) % 500);
  response.headers = s.response;

  // Body sizes around the offsets a Range names, and huge ones.
  uint64_t bodySize = p.u(11, 4);
  if (data[15] & 2) bodySize = std::numeric_limits<uint64_t>::max() - (bodySize & 0xff);
  checkRange(request, bodySize);
  checkRange(request, bodySize & 0xff);
  checkConditional(request, s.response);
  checkVary(s.request, s.response, data[15] & 4);
  checkDecisions(request, response, p);
  checkMerge(s.response, s.notModified);
  return 0;
}
