#include "common/admin/status_json.h"

#include <nlohmann/json.hpp>

#include "common/stats.h"

namespace ringlb::admin {
namespace {

// ordered_json keeps fields in the order written here, which reads better than sorted.
using json = nlohmann::ordered_json;

json listenerJson(const ListenerView& l) {
  json requests = json::object();
  for (const auto& [code, n] : l.requestsByCode) requests[std::to_string(code)] = n;
  json rejected = json::object();
  for (size_t i = 0; i < l.rejected.size(); ++i) {
    rejected[rejectReasonName(static_cast<RejectReason>(i))] = l.rejected[i];
  }
  return {
      {"name", l.name},
      {"bind", l.bind},
      {"mode", l.mode},
      {"pool", l.pool},
      {"active_connections", l.connectionsActive},
      {"connections_accepted", l.connectionsAccepted},
      {"bytes_in", l.bytesIn},
      {"bytes_out", l.bytesOut},
      {"requests", requests},
      {"rejected", rejected},
      {"rate", l.rate},
  };
}

json backendJson(const BackendView& b) {
  return {
      {"address", b.address},
      {"state", b.up ? "up" : "down"},
      {"checked", b.checked},
      {"ejected", b.ejected},
      {"weight", b.weight},
      {"backup", b.backup},
      {"active_connections", b.active},
      {"requests", b.requests},
      {"connect_failures", b.connectFailures},
      {"rate", b.rate},
      {"last_change", b.lastChange ? json(formatIso8601(*b.lastChange)) : json(nullptr)},
      {"last_reason", b.lastReason},
      {"health_changes", b.healthChanges},
      {"probes_ok", b.probesOk},
      {"probes_failed", b.probesFailed},
      {"probes_skipped", b.probesSkipped},
  };
}

json poolJson(const PoolView& p) {
  json backends = json::array();
  for (const auto& b : p.backends) backends.push_back(backendJson(b));
  return {{"name", p.name},
          {"balance", p.balance},
          {"health_checked", p.healthChecked},
          {"backends", backends}};
}

}  // namespace

std::string renderStatusJson(const AdminSnapshot& snap) {
  json listeners = json::array();
  for (const auto& l : snap.listeners) listeners.push_back(listenerJson(l));
  json pools = json::array();
  for (const auto& p : snap.pools) pools.push_back(poolJson(p));
  json workers = json::array();
  for (const auto& w : snap.workers) {
    workers.push_back({{"index", w.index}, {"active_connections", w.activeConnections}});
  }
  json discovery = json::array();
  for (const auto& d : snap.discovery) {
    discovery.push_back(
        {{"pool", d.pool},
         {"target", d.target},
         {"backends", d.backends},
         {"lookups_ok", d.lookupsOk},
         {"lookups_failed", d.lookupsFailed},
         {"changes", d.changes},
         {"last_error", d.lastError},
         {"last_change", d.changes != 0 ? json(formatIso8601(d.lastChange)) : json(nullptr)}});
  }
  const double uptime = std::chrono::duration<double>(snap.now - snap.startTime).count();
  json doc = {
      {"version", RINGLB_VERSION_STRING},
      {"time", formatIso8601(snap.now)},
      {"started", formatIso8601(snap.startTime)},
      {"uptime_seconds", uptime},
      {"workers", workers},
      {"listeners", listeners},
      {"pools", pools},
      {"discovery", discovery},
      {"reloads", {{"ok", snap.reloadsOk}, {"failed", snap.reloadsFailed}}},
  };
  // Invalid UTF-8 in a name becomes U+FFFD rather than an exception.
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace ringlb::admin
