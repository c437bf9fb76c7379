#include "config/duration.h"

#include <array>
#include <cstdint>

namespace ringlb::config {
namespace {

struct DurationUnit {
  std::string_view suffix;
  uint64_t millis;
};

// Longest suffix first so that "ms" is not read as "m".
constexpr std::array<DurationUnit, 4> kDurationUnits = {
    {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}}};
constexpr size_t kMaxFractionDigits = 6;

bool isDigit(char c) { return c >= '0' && c <= '9'; }

const DurationUnit* findUnit(std::string_view suffix) {
  for (const DurationUnit& unit : kDurationUnits) {
    if (unit.suffix == suffix) return &unit;
  }
  return nullptr;
}

}  // namespace

std::optional<Duration> parseDuration(std::string_view text, std::string* error) {
  const uint64_t maxMillis = static_cast<uint64_t>(kMaxDuration.count());
  if (!text.empty() && text.front() == '-') {
    *error = "a duration cannot be negative";
    return std::nullopt;
  }
  size_t i = 0;
  uint64_t whole = 0;
  while (i < text.size() && isDigit(text[i])) {
    whole = whole * 10 + static_cast<uint64_t>(text[i] - '0');
    if (whole > maxMillis) {
      *error = "duration is longer than the maximum of 720h";
      return std::nullopt;
    }
    ++i;
  }
  if (i == 0) {
    *error = "expected a number with a unit, like \"250ms\", \"2s\", \"5m\" or \"1h\"";
    return std::nullopt;
  }
  uint64_t fraction = 0;
  uint64_t scale = 1;
  if (i < text.size() && text[i] == '.') {
    size_t start = ++i;
    while (i < text.size() && isDigit(text[i])) {
      if (i - start >= kMaxFractionDigits) {
        *error = "too many decimals in duration";
        return std::nullopt;
      }
      fraction = fraction * 10 + static_cast<uint64_t>(text[i] - '0');
      scale *= 10;
      ++i;
    }
    if (i == start) {
      *error = "expected digits after the decimal point";
      return std::nullopt;
    }
  }
  std::string_view suffix = text.substr(i);
  if (suffix.empty()) {
    *error = "duration needs a unit: ms, s, m or h (for example \"2s\")";
    return std::nullopt;
  }
  const DurationUnit* unit = findUnit(suffix);
  if (unit == nullptr) {
    *error = "unknown duration unit; use ms, s, m or h";
    return std::nullopt;
  }
  // Exact arithmetic: whole <= 2.6e9, scale <= 1e6, unit <= 3.6e6 fits 128 bits.
  unsigned __int128 scaled =
      (static_cast<unsigned __int128>(whole) * scale + fraction) * unit->millis;
  if (scaled % scale != 0) {
    *error = "duration must be a whole number of milliseconds";
    return std::nullopt;
  }
  unsigned __int128 millis = scaled / scale;
  if (millis > maxMillis) {
    *error = "duration is longer than the maximum of 720h";
    return std::nullopt;
  }
  return Duration(static_cast<int64_t>(millis));
}

std::string formatDuration(Duration duration) {
  const auto millis = static_cast<uint64_t>(duration.count());
  if (millis == 0) return "0s";
  for (auto it = kDurationUnits.rbegin(); it != kDurationUnits.rend(); ++it) {
    if (millis % it->millis == 0) {
      return std::to_string(millis / it->millis) + std::string(it->suffix);
    }
  }
  return std::to_string(millis) + "ms";
}

}  // namespace ringlb::config
