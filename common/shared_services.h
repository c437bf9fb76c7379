// SharedServices: what the threads of one server share, made by the Server
// and handed to its workers and extensions: no process-wide singletons. Two
// servers in one process (tests, the demo) do not mix their logs, counters or
// health reports.
//
//   accessLog       per-worker lock-free rings, one writer thread
//   passiveReports  workers -> health thread (connect failures, successes)
//   stats           counters for /metrics (single writer per counter)
//   backendStatus   health state per backend for /status
//   ticketKeys      TLS session-ticket keys of every listener and worker
//   caches          the http routes' caches (admin purge and gauges)
//   discovery       what DNS discovery last did per pool (/status, /metrics)
//
// Thread rules: each member documents its own; the object outlives every
// worker and extension of its server.
#pragma once

#include "common/access_log.h"
#include "common/backend_status.h"
#include "common/cache_registry.h"
#include "common/discovery/discovery_status.h"
#include "common/passive_reports.h"
#include "common/stats.h"
#include "common/tls/ticket_keys.h"

namespace ringlb {

struct SharedServices {
  AccessLog accessLog;
  PassiveReportQueue passiveReports;
  StatsRegistry stats;
  BackendStatusBoard backendStatus;
  tls::TicketKeys ticketKeys;
  CacheRegistry caches;
  discovery::DiscoveryStatusBoard discovery;
};

}  // namespace ringlb
