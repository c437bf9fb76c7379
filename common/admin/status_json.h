// JSON for GET /status: listeners (name, bind, mode, counters), pools with
// each backend's address, state ("up" | "down"), active connections and the
// time of its last state change (ISO 8601 UTC, null before any change).
// The field list is in docs/observability.md.
//
// Pure function; any thread.
#pragma once

#include <string>

#include "common/admin/admin_snapshot.h"

namespace ringlb::admin {

std::string renderStatusJson(const AdminSnapshot& snap);

}  // namespace ringlb::admin
