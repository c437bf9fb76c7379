// The health thread (issue 5): one thread with its own io_uring that probes
// every backend of every pool with a [pools.NAME.health] table, applies
// rise/fall and passive ejection (health/state.h), and on each state change
// logs one line (pool, backend, old -> new, reason), updates the
// BackendStatusBoard and posts a new BackendSet to every worker
// (health/publisher.h). Workers never wait for it: snapshots go to their
// mailboxes, and their passive reports come through common/passive_reports.h,
// drained here every 50 ms.
//
// - First probes run at once at start (spread over a few ms); until its first
//   result a backend is "unknown" and carries traffic (shown up, unchecked).
// - Pools without a health table: passive ejection only.
// - Reload: backends that stay (pool + address) keep their state; the main
//   thread posts health-aware sets right after the new config, in the same
//   mailbox drain, so a reload never puts a down backend back into service.
// - Stop: cancels every probe, waits for every CQE, joins.
//
// Thread rules: the ServerExtension calls come from the main thread;
// everything else runs on the health thread.
#pragma once

#include <memory>

#include "common/server.h"
#include "common/shared_services.h"

namespace ringlb::health {

// Uses the server's passive-report queue and status board (`shared`), which
// must outlive it.
std::unique_ptr<ServerExtension> makeHealthChecker(SharedServices& shared);

}  // namespace ringlb::health
