// The admin endpoint ([admin] bind): GET / (status page), /status (JSON),
// /metrics (Prometheus text) and /healthz, served by its own thread with a
// poll(2) loop over non-blocking sockets, so a slow or stuck scraper never
// touches a worker. It reads the per-worker counters (StatsRegistry) and the
// health board, filtered to the listeners and backends of the config in force.
//
// Thread rules: start(), reload() and stop() are called on the main thread
// (ServerExtension); everything else runs on the admin thread. Without an
// [admin] section start() does nothing.
#pragma once

#include <memory>

#include "common/server.h"
#include "common/shared_services.h"

namespace ringlb::admin {

// Reads `shared` (the server's), which must outlive it.
std::unique_ptr<ServerExtension> makeAdminServer(const SharedServices& shared);

}  // namespace ringlb::admin
