// GET / on the admin listener: a small HTML status page in the spirit of
// HAProxy's stats page (listeners, pools, each backend's state, weight,
// active connections and request rate), with charts of the last 5 minutes
// (GET /status/history) drawn by an inline script as inline SVG: nothing is
// loaded from anywhere else, and the Content-Security-Policy sent with it
// says so. The script refreshes the charts and tables every 2 s; without
// JavaScript the page reloads itself (a <meta http-equiv="refresh"> inside
// <noscript>) and shows the tables only.
//
// Each backend row carries data-pool and data-backend attributes and its
// state cell the class "state up" or "state down", for tests and scrapers.
//
// Pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "common/admin/admin_snapshot.h"

namespace ringlb::admin {

inline constexpr int kStatusPageRefreshSeconds = 2;

// Text safe inside HTML elements and double-quoted attributes.
std::string htmlEscape(std::string_view text);

std::string renderStatusPage(const AdminSnapshot& snap);

// The Content-Security-Policy field value for the page: its own inline script
// and style block (by their SHA-256), connections to its own origin, nothing else.
std::string_view statusPageContentSecurityPolicy();

}  // namespace ringlb::admin
