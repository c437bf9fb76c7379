// GET / on the admin listener: a small HTML status page in the spirit of
// HAProxy's stats page (listeners, pools, each backend's state, weight,
// active connections and request rate). It reloads itself every few seconds
// with <meta http-equiv="refresh">: no script, so it works in any browser.
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

}  // namespace ringlb::admin
