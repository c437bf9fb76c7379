#include "l7/cache/cache_control.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <limits>
#include <utility>

#include "common/ascii.h"
#include "l7/gateway/compress_fields.h"

namespace ringlb::l7::cache {
namespace {

namespace chrono = std::chrono;

// A directive argument as a token or a quoted-string (RFC 9111 section 5.2:
// recipients accept both); nullopt for an unterminated quote.
std::optional<std::string> unquote(std::string_view raw) {
  if (raw.empty() || raw.front() != '"') return std::string(raw);
  if (raw.size() < 2 || raw.back() != '"') return std::nullopt;
  std::string out;
  std::string_view inner = raw.substr(1, raw.size() - 2);
  for (size_t i = 0; i < inner.size(); ++i) {
    char c = inner[i];
    if (c == '"' || (c == '\\' && i + 1 == inner.size())) return std::nullopt;
    if (c == '\\') c = inner[++i];  // quoted-pair
    out.push_back(c);
  }
  return out;
}

// max-age and s-maxage: invalid counts as 0, and a second occurrence with
// another value makes the response stale (RFC 9111 section 4.2.1 allows
// either the first or "stale"; stale is the safe one).
void setAge(std::optional<Seconds>& slot, const std::optional<std::string>& arg) {
  Seconds value = arg ? parseDeltaSeconds(*arg).value_or(0) : 0;
  slot = slot && *slot != value ? 0 : value;
}

// Other delta-seconds directives: the first valid occurrence counts.
void setDelta(std::optional<Seconds>& slot, const std::optional<std::string>& arg) {
  if (!slot && arg) slot = parseDeltaSeconds(*arg);
}

// Directives without an argument. They are honoured even with a stray one
// (no-cache="F" is the qualified form; the others then fail safe).
constexpr std::array<std::pair<std::string_view, bool CacheControl::*>, 8> kFlags = {{
    {"no-cache", &CacheControl::noCache},
    {"no-store", &CacheControl::noStore},
    {"no-transform", &CacheControl::noTransform},
    {"only-if-cached", &CacheControl::onlyIfCached},
    {"private", &CacheControl::isPrivate},
    {"must-revalidate", &CacheControl::mustRevalidate},
    {"proxy-revalidate", &CacheControl::proxyRevalidate},
    {"immutable", &CacheControl::immutable},
}};

constexpr std::array<std::pair<std::string_view, std::optional<Seconds> CacheControl::*>, 4>
    kDeltas = {{
        {"max-stale", &CacheControl::maxStale},
        {"min-fresh", &CacheControl::minFresh},
        {"stale-while-revalidate", &CacheControl::staleWhileRevalidate},
        {"stale-if-error", &CacheControl::staleIfError},
    }};

void applyDirective(CacheControl& cc, std::string_view name, const std::optional<std::string>& arg,
                    bool hasArg) {
  auto is = [name](std::string_view want) { return equalsIgnoreCase(name, want); };
  if (is("max-age")) return setAge(cc.maxAge, arg);
  if (is("s-maxage")) return setAge(cc.sMaxAge, arg);
  // `public` with an argument is ignored: it would loosen the rules on
  // malformed input.
  if (is("public")) cc.isPublic = cc.isPublic || !hasArg;
  if (is("max-stale") && !hasArg && !cc.maxStale) cc.maxStale = std::numeric_limits<Seconds>::max();
  for (auto [flag, member] : kFlags) {
    if (is(flag)) cc.*member = true;
  }
  for (auto [delta, member] : kDeltas) {
    if (is(delta)) setDelta(cc.*member, arg);
  }
}

// --- HTTP-date ---------------------------------------------------------------

constexpr std::array<std::string_view, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                       "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

template <size_t N>
bool oneOf(const std::array<std::string_view, N>& names, std::string_view s) {
  for (std::string_view n : names) {
    if (n == s) return true;  // HTTP-date is case-sensitive (RFC 9110 section 5.6.7)
  }
  return false;
}

// Reads `text` front to back; any mismatch makes ok() false for good.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}

  bool ok() const { return ok_; }
  bool done() const { return ok_ && text_.empty(); }

  void expect(std::string_view literal) {
    if (ok_ && text_.starts_with(literal))
      text_.remove_prefix(literal.size());
    else
      ok_ = false;
  }
  // Exactly `n` digits.
  int digits(size_t n) {
    int value = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!ok_ || text_.empty() || text_[0] < '0' || text_[0] > '9') {
        ok_ = false;
        return 0;
      }
      value = value * 10 + (text_[0] - '0');
      text_.remove_prefix(1);
    }
    return value;
  }
  // 1-based month of a three-letter name.
  unsigned month() {
    for (size_t i = 0; ok_ && i < kMonths.size(); ++i) {
      if (text_.starts_with(kMonths[i])) {
        text_.remove_prefix(3);
        return static_cast<unsigned>(i + 1);
      }
    }
    ok_ = false;
    return 0;
  }
  // The next byte is a space (asctime pads a one-digit day with one).
  bool peekSpace() const { return ok_ && !text_.empty() && text_[0] == ' '; }

 private:
  std::string_view text_;
  bool ok_ = true;
};

struct Clock {
  int hour = 0, minute = 0, second = 0;
};

Clock timeOfDay(Cursor& in) {
  Clock t;
  t.hour = in.digits(2);
  in.expect(":");
  t.minute = in.digits(2);
  in.expect(":");
  t.second = in.digits(2);
  return t;
}

// Seconds since the epoch, or nullopt for an impossible date (Feb 30,
// 24:00:00). Second 60 (a leap second) is allowed and counts as the next one.
std::optional<Seconds> toSeconds(int year, unsigned month, int day, Clock t) {
  chrono::year_month_day ymd{chrono::year{year}, chrono::month{month},
                             chrono::day{static_cast<unsigned>(day)}};
  if (!ymd.ok() || t.hour > 23 || t.minute > 59 || t.second > 60) return std::nullopt;
  Seconds days = chrono::sys_days(ymd).time_since_epoch().count();
  return days * 86400 + Seconds{t.hour} * 3600 + Seconds{t.minute} * 60 + t.second;
}

// RFC 9110 section 5.6.7: a two-digit year more than 50 years in the future
// is the most recent past year with those digits.
int expandYear(int twoDigits) {
  auto today = chrono::floor<chrono::days>(chrono::system_clock::now());
  int current = static_cast<int>(chrono::year_month_day(today).year());
  int year = current - current % 100 + twoDigits;
  if (year > current + 50)
    year -= 100;
  else if (year + 100 <= current + 50)
    year += 100;
  return year;
}

// "Sun, 06 Nov 1994 08:49:37 GMT" after the day name.
std::optional<Seconds> imfFixdate(Cursor in) {
  in.expect(", ");
  int day = in.digits(2);
  in.expect(" ");
  unsigned month = in.month();
  in.expect(" ");
  int year = in.digits(4);
  in.expect(" ");
  Clock t = timeOfDay(in);
  in.expect(" GMT");
  if (!in.done()) return std::nullopt;
  return toSeconds(year, month, day, t);
}

// "Sunday, 06-Nov-94 08:49:37 GMT" after the day name.
std::optional<Seconds> rfc850Date(Cursor in) {
  in.expect(", ");
  int day = in.digits(2);
  in.expect("-");
  unsigned month = in.month();
  in.expect("-");
  int year = in.digits(2);
  in.expect(" ");
  Clock t = timeOfDay(in);
  in.expect(" GMT");
  if (!in.done()) return std::nullopt;
  return toSeconds(expandYear(year), month, day, t);
}

// "Sun Nov  6 08:49:37 1994" after the day name.
std::optional<Seconds> asctimeDate(Cursor in) {
  in.expect(" ");
  unsigned month = in.month();
  in.expect(" ");
  int day = 0;
  if (in.peekSpace()) {
    in.expect(" ");
    day = in.digits(1);
  } else {
    day = in.digits(2);
  }
  in.expect(" ");
  Clock t = timeOfDay(in);
  in.expect(" ");
  int year = in.digits(4);
  if (!in.done()) return std::nullopt;
  return toSeconds(year, month, day, t);
}

}  // namespace

std::optional<Seconds> parseDeltaSeconds(std::string_view text) {
  constexpr Seconds kMax = Seconds{1} << 31;  // a larger value counts as 2^31
  if (text.empty()) return std::nullopt;
  Seconds value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = std::min(kMax, value * 10 + (c - '0'));  // never near overflow
  }
  return value;
}

CacheControl parseCacheControl(std::span<const http::HeaderView> fields) {
  CacheControl cc;
  for (const http::HeaderView& f : fields) {
    if (!equalsIgnoreCase(f.name, "cache-control")) continue;
    forEachElement(f.value, [&cc](std::string_view element) {
      size_t eq = element.find('=');
      std::string_view name = trimOws(element.substr(0, eq));
      if (!isToken(name)) return true;  // not a directive: ignored
      bool hasArg = eq != std::string_view::npos;
      std::optional<std::string> arg;
      if (hasArg) arg = unquote(trimOws(element.substr(eq + 1)));
      applyDirective(cc, name, arg, hasArg);
      return true;
    });
  }
  return cc;
}

std::optional<Seconds> parseHttpDate(std::string_view text) {
  text = trimOws(text);
  size_t nameEnd = text.find_first_of(", ");
  if (nameEnd == std::string_view::npos) return std::nullopt;
  std::string_view dayName = text.substr(0, nameEnd);
  Cursor rest(text.substr(nameEnd));
  if (text[nameEnd] == ',') {
    if (oneOf(kDays, dayName)) return imfFixdate(rest);
    if (oneOf(kLongDays, dayName)) return rfc850Date(rest);
    return std::nullopt;
  }
  if (oneOf(kDays, dayName)) return asctimeDate(rest);
  return std::nullopt;
}

std::string formatHttpDate(Seconds t) {
  // Clamped to the years IMF-fixdate can write (0001 to 9999).
  constexpr Seconds kMin = -62135596800;  // 0001-01-01T00:00:00Z
  constexpr Seconds kMax = 253402300799;  // 9999-12-31T23:59:59Z
  t = std::clamp(t, kMin, kMax);
  Seconds days = t >= 0 ? t / 86400 : (t - 86399) / 86400;  // floor
  auto secs = static_cast<unsigned>(t - days * 86400);
  chrono::sys_days day{chrono::days{days}};
  chrono::year_month_day ymd(day);
  char out[64];
  std::snprintf(out, sizeof(out), "%s, %02u %s %04d %02u:%02u:%02u GMT",
                kDays[chrono::weekday(day).c_encoding()].data(), static_cast<unsigned>(ymd.day()),
                kMonths[static_cast<unsigned>(ymd.month()) - 1].data(),
                static_cast<int>(ymd.year()), secs / 3600, secs / 60 % 60, secs % 60);
  return out;
}

std::optional<std::string_view> fieldValue(std::span<const http::HeaderView> fields,
                                           std::string_view name) {
  if (const http::HeaderView* f = findField(fields, name)) return f->value;
  return std::nullopt;
}

}  // namespace ringlb::l7::cache
