// Durations as written in the config: "250ms", "2s", "1.5s", "5m", "1h".
// Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/model.h"

namespace ringlb::config {

// The longest duration the config accepts (30 days), so that timer code can
// add durations without overflow.
inline constexpr Duration kMaxDuration = std::chrono::hours(24 * 30);

// "<number><unit>" with unit ms, s, m or h; the number may have a fraction
// ("1.5s") as long as the result is a whole number of milliseconds.
// Returns nullopt with `error` set (missing unit, negative, too long, ...).
std::optional<Duration> parseDuration(std::string_view text, std::string* error);

// The shortest exact spelling: 30000ms -> "30s", 90000ms -> "90s", 3600000ms -> "1h".
std::string formatDuration(Duration duration);

}  // namespace ringlb::config
