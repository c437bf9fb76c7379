// Logging to stderr, one line per event: "2026-11-26T22:34:56.123Z warn  message".
// Any thread; each line is written with one write(2), so lines never mix.
#pragma once

#include <fmt/format.h>

#include <string_view>

#include "config/model.h"

namespace ringlb {

using config::LogLevel;

void setLogLevel(LogLevel level);
bool logEnabled(LogLevel level);
void logLine(LogLevel level, std::string_view message);

template <typename... Args>
void logError(fmt::format_string<Args...> f, Args&&... args) {
  logLine(LogLevel::Error, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void logWarn(fmt::format_string<Args...> f, Args&&... args) {
  if (logEnabled(LogLevel::Warn))
    logLine(LogLevel::Warn, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void logInfo(fmt::format_string<Args...> f, Args&&... args) {
  if (logEnabled(LogLevel::Info))
    logLine(LogLevel::Info, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void logDebug(fmt::format_string<Args...> f, Args&&... args) {
  if (logEnabled(LogLevel::Debug)) {
    logLine(LogLevel::Debug, fmt::format(f, std::forward<Args>(args)...));
  }
}

}  // namespace ringlb
