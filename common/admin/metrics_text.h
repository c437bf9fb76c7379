// Prometheus text exposition format 0.0.4 for GET /metrics.
// Every metric and its meaning is listed in docs/observability.md.
//
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "common/admin/admin_snapshot.h"

namespace ringlb::admin {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

// A label value with backslash, double quote and newline escaped.
std::string escapeLabelValue(std::string_view value);

std::string renderMetrics(const AdminSnapshot& snap);

}  // namespace ringlb::admin
