// A hand-built AdminSnapshot for the renderer tests: one tcp and one http
// listener, one pool with a healthy and a down backend.
#pragma once

#include <chrono>

#include "common/admin/admin_snapshot.h"

namespace ringlb::admin::testing {

inline std::chrono::system_clock::time_point at(int64_t unixMillis) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(unixMillis));
}

inline AdminSnapshot sampleSnapshot() {
  AdminSnapshot s;
  s.startTime = at(1'700'000'000'000);
  s.now = at(1'700'000'060'000);
  s.workers = {{0, 3, 100, 40, 350, 0, 2}, {1, 4, 90, 0, 200, 7, 11}};
  s.reloadsOk = 2;
  s.reloadsFailed = 1;

  ListenerView tcp;
  tcp.name = "db";
  tcp.bind = "127.0.0.1:5432";
  tcp.mode = "tcp";
  tcp.pool = "api";
  tcp.connectionsAccepted = 10;
  tcp.acceptFailures = 5;
  tcp.connectionsActive = 3;
  tcp.bytesIn = 1000;
  tcp.bytesOut = 2000;
  tcp.rejected[static_cast<size_t>(RejectReason::NoBackend)] = 4;
  s.listeners.push_back(tcp);

  ListenerView web;
  web.name = "web";
  web.bind = "0.0.0.0:8080";
  web.mode = "http";
  web.pool = "api";
  web.requestsByCode = {{200, 7}, {503, 2}};
  web.requestDuration.buckets[0] = 5;      // <= 0.5 ms
  web.requestDuration.buckets[3] = 3;      // <= 5 ms
  web.requestDuration.buckets.back() = 1;  // +Inf
  web.requestDuration.count = 9;
  web.requestDuration.sumMicros = 7'500'000;
  s.listeners.push_back(web);

  PoolView pool;
  pool.name = "api";
  pool.balance = "round_robin";
  pool.healthChecked = true;
  BackendView up;
  up.pool = "api";
  up.address = "127.0.0.1:9001";
  up.weight = 3;
  up.active = 2;
  up.requests = 40;
  up.probesOk = 12;
  BackendView down;
  down.pool = "api";
  down.address = "127.0.0.1:9002";
  down.up = false;
  down.checked = true;
  down.healthChanges = 1;
  down.probesFailed = 3;
  down.probesSkipped = 2;
  down.connectFailures = 5;
  down.lastReason = "connection refused";
  down.lastChange = at(1'700'000'030'250);
  pool.backends = {up, down};
  s.pools.push_back(pool);
  return s;
}

}  // namespace ringlb::admin::testing
