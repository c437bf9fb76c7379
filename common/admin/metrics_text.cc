#include "common/admin/metrics_text.h"

#include <fmt/format.h>

#include <initializer_list>
#include <iterator>
#include <utility>

#include "common/stats.h"

namespace ringlb::admin {
namespace {

using Label = std::pair<std::string_view, std::string_view>;

// Appends families to one buffer: a HELP and TYPE line per family, then its samples.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }

  void sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value) {
    writeName(name, labels, {});
    fmt::format_to(std::back_inserter(out_), " {}\n", value);
  }

  void sample(std::string_view name, std::initializer_list<Label> labels, double value) {
    writeName(name, labels, {});
    fmt::format_to(std::back_inserter(out_), " {}\n", value);
  }

  // The _bucket, _sum and _count samples of one histogram.
  void histogram(std::string_view name, std::initializer_list<Label> labels,
                 const HistogramView& h) {
    uint64_t cumulative = 0;
    const std::string bucket = std::string(name) + "_bucket";
    for (size_t i = 0; i < h.buckets.size(); ++i) {
      cumulative += h.buckets[i];
      std::string le =
          i < kDurationBuckets.size() ? fmt::format("{}", kDurationBuckets[i]) : "+Inf";
      writeName(bucket, labels, le);
      fmt::format_to(std::back_inserter(out_), " {}\n", cumulative);
    }
    sample(std::string(name) + "_sum", labels, static_cast<double>(h.sumMicros) / 1e6);
    sample(std::string(name) + "_count", labels, h.count);
  }

 private:
  void writeName(std::string_view name, std::initializer_list<Label> labels, std::string_view le) {
    out_ += name;
    if (labels.size() == 0 && le.empty()) return;
    out_ += '{';
    bool first = true;
    for (const auto& [key, value] : labels) {
      if (!first) out_ += ',';
      first = false;
      fmt::format_to(std::back_inserter(out_), "{}=\"{}\"", key, escapeLabelValue(value));
    }
    if (!le.empty()) fmt::format_to(std::back_inserter(out_), "{}le=\"{}\"", first ? "" : ",", le);
    out_ += '}';
  }

  std::string& out_;
};

// The event loops: how often they wake and how much each wake-up carries
// (completions / wakeups), provided-buffer exhaustion and receive re-arms.
void writeWorkerCounters(Writer& w, const AdminSnapshot& snap) {
  struct Family {
    const char* name;
    const char* help;
    uint64_t WorkerView::*field;
  };
  static constexpr Family kFamilies[] = {
      {"ringlb_worker_wakeups_total", "Waits of a worker's event loop for completions.",
       &WorkerView::wakeups},
      {"ringlb_worker_batched_waits_total",
       "Of the waits, those that batched completions (min-wait, under load).",
       &WorkerView::batchedWaits},
      {"ringlb_worker_completions_total", "io_uring completions a worker handled.",
       &WorkerView::completions},
      {"ringlb_recv_buffers_exhausted_total",
       "Receives that found the worker's provided buffers used up (-ENOBUFS); each is re-armed "
       "after 2 ms.",
       &WorkerView::buffersExhausted},
      {"ringlb_recv_rearms_total",
       "Multishot receives armed again on a connection: the kernel ended one early, buffers ran "
       "out, a paused read resumed, or a stream moved to bulk buffers.",
       &WorkerView::recvRearms},
  };
  for (const Family& f : kFamilies) {
    w.family(f.name, "counter", f.help);
    for (const auto& worker : snap.workers) {
      w.sample(f.name, {{"worker", std::to_string(worker.index)}}, worker.*f.field);
    }
  }
}

void writeDiscovery(Writer& w, const AdminSnapshot& snap) {
  if (snap.discovery.empty()) return;
  w.family("ringlb_discovery_backends", "gauge",
           "Backends of a pool with `discover` in its last good DNS answer.");
  for (const auto& d : snap.discovery) {
    w.sample("ringlb_discovery_backends", {{"pool", d.pool}}, static_cast<uint64_t>(d.backends));
  }
  w.family("ringlb_discovery_lookups_total", "counter",
           "DNS discovery lookups by result (ok; failed keeps the last good set).");
  for (const auto& d : snap.discovery) {
    w.sample("ringlb_discovery_lookups_total", {{"pool", d.pool}, {"result", "ok"}}, d.lookupsOk);
    w.sample("ringlb_discovery_lookups_total", {{"pool", d.pool}, {"result", "failed"}},
             d.lookupsFailed);
  }
  w.family("ringlb_discovery_changes_total", "counter",
           "Times DNS discovery changed a pool's backends (applied like a reload).");
  for (const auto& d : snap.discovery) {
    w.sample("ringlb_discovery_changes_total", {{"pool", d.pool}}, d.changes);
  }
}

void writeProcess(Writer& w, const AdminSnapshot& snap) {
  w.family("ringlb_start_time_seconds", "gauge", "Start time of the process since the Unix epoch.");
  const auto start = std::chrono::duration<double>(snap.startTime.time_since_epoch()).count();
  w.sample("ringlb_start_time_seconds", {}, start);
  w.family("ringlb_workers", "gauge", "Worker threads.");
  w.sample("ringlb_workers", {}, static_cast<uint64_t>(snap.workers.size()));
  w.family("ringlb_reloads_total", "counter", "Config reloads by result (ok, failed).");
  w.sample("ringlb_reloads_total", {{"result", "ok"}}, snap.reloadsOk);
  w.sample("ringlb_reloads_total", {{"result", "failed"}}, snap.reloadsFailed);
  writeDiscovery(w, snap);
  writeWorkerCounters(w, snap);
  w.family("ringlb_access_log_dropped_total", "counter",
           "Access-log lines dropped because the writer fell behind (a worker never waits).");
  w.sample("ringlb_access_log_dropped_total", {}, snap.accessLogDropped);
}

void writeListenerCounters(Writer& w, const AdminSnapshot& snap) {
  w.family("ringlb_connections_accepted_total", "counter", "Client connections accepted.");
  for (const auto& l : snap.listeners) {
    w.sample("ringlb_connections_accepted_total", {{"listener", l.name}}, l.connectionsAccepted);
  }
  w.family("ringlb_accept_failures_total", "counter",
           "Accepts that failed (out of file descriptors or memory, or another error); each is "
           "retried after 100 ms while the connections wait in the backlog.");
  for (const auto& l : snap.listeners) {
    w.sample("ringlb_accept_failures_total", {{"listener", l.name}}, l.acceptFailures);
  }
  w.family("ringlb_connections_active", "gauge", "Client connections open now.");
  for (const auto& l : snap.listeners) {
    w.sample("ringlb_connections_active", {{"listener", l.name}}, l.connectionsActive);
  }
  w.family("ringlb_bytes_total", "counter",
           "Bytes received from clients (direction=in) and sent to clients (direction=out).");
  for (const auto& l : snap.listeners) {
    w.sample("ringlb_bytes_total", {{"listener", l.name}, {"direction", "in"}}, l.bytesIn);
    w.sample("ringlb_bytes_total", {{"listener", l.name}, {"direction", "out"}}, l.bytesOut);
  }
  w.family("ringlb_requests_total", "counter", "HTTP requests answered, by final status code.");
  for (const auto& l : snap.listeners) {
    for (const auto& [code, n] : l.requestsByCode) {
      w.sample("ringlb_requests_total", {{"listener", l.name}, {"code", std::to_string(code)}}, n);
    }
  }
  w.family("ringlb_rejected_total", "counter",
           "Requests or connections refused before reaching a backend, by reason.");
  for (const auto& l : snap.listeners) {
    for (size_t i = 0; i < l.rejected.size(); ++i) {
      const char* reason = rejectReasonName(static_cast<RejectReason>(i));
      w.sample("ringlb_rejected_total", {{"listener", l.name}, {"reason", reason}}, l.rejected[i]);
    }
  }
  w.family("ringlb_tls_handshakes_total", "counter",
           "TLS handshakes on listeners with TLS: result ok (resumed: a session ticket was "
           "accepted), failed (an error, or the client left first), timeout (handshake_timeout).");
  for (const auto& l : snap.listeners) {
    if (!l.tls) continue;
    auto sample = [&](const char* result, const char* resumed, uint64_t n) {
      w.sample("ringlb_tls_handshakes_total",
               {{"listener", l.name}, {"result", result}, {"resumed", resumed}}, n);
    };
    sample("ok", "false", l.tlsFull);
    sample("ok", "true", l.tlsResumed);
    sample("failed", "false", l.tlsFailed);
    sample("timeout", "false", l.tlsTimedOut);
  }
}

void writeHttp2Metrics(Writer& w, const AdminSnapshot& snap) {
  w.family("ringlb_http_streams_active", "gauge",
           "HTTP/2 streams open now (requests in progress on HTTP/2 connections).");
  for (const auto& l : snap.listeners) {
    if (l.http2)
      w.sample("ringlb_http_streams_active", {{"listener", l.name}}, l.http2StreamsActive);
  }
  auto byCode = [&](std::string_view family, std::string_view help, const auto& sent,
                    const auto& received) {
    w.family(family, "counter", help);
    for (const auto& l : snap.listeners) {
      if (!l.http2) continue;
      for (size_t i = 0; i < kHttp2Codes; ++i) {
        for (auto [side, n] :
             {std::pair{"sent", (l.*sent)[i]}, std::pair{"received", (l.*received)[i]}}) {
          // Every code is listed for the ones an operator alerts on; others once seen.
          bool common = i == 0 || i == 1 || i == 7 || i == 8 || i == 11;
          if (n != 0 || common) {
            w.sample(family, {{"listener", l.name}, {"side", side}, {"code", http2CodeName(i)}}, n);
          }
        }
      }
    }
  };
  byCode("ringlb_http2_goaways_total",
         "HTTP/2 GOAWAY frames sent by the proxy or received from clients, by error code.",
         &ListenerView::http2GoawaysSent, &ListenerView::http2GoawaysReceived);
  byCode("ringlb_http2_resets_total",
         "HTTP/2 RST_STREAM frames sent by the proxy or received from clients, by error code.",
         &ListenerView::http2ResetsSent, &ListenerView::http2ResetsReceived);
  w.family("ringlb_http2_limit_hits_total", "counter",
           "HTTP/2 attack limits that struck: rapid_reset, control_flood and header_block close "
           "the connection (GOAWAY enhance_your_calm); concurrent_streams refuses a stream.");
  for (const auto& l : snap.listeners) {
    if (!l.http2) continue;
    for (size_t i = 0; i < kHttp2Limits; ++i) {
      w.sample("ringlb_http2_limit_hits_total",
               {{"listener", l.name}, {"limit", http2LimitName(static_cast<Http2Limit>(i))}},
               l.http2LimitHits[i]);
    }
  }
}

void writeGatewayMetrics(Writer& w, const AdminSnapshot& snap) {
  w.family("ringlb_rate_limited_total", "counter",
           "Requests a route's rate_limit answered with 429.");
  for (const auto& r : snap.routes) {
    w.sample("ringlb_rate_limited_total", {{"listener", r.listener}, {"route", r.route}},
             r.rateLimited);
  }
  w.family("ringlb_compress_errors_total", "counter",
           "Responses whose compression failed in the encoder: the client's body was cut.");
  for (const auto& r : snap.routes) {
    w.sample("ringlb_compress_errors_total", {{"listener", r.listener}, {"route", r.route}},
             r.compressErrors);
  }
  w.family("ringlb_auth_failures_total", "counter",
           "Requests a route's auth refused (401; 429 when throttled; 500 when its credentials "
           "never loaded), by reason.");
  for (const auto& r : snap.routes) {
    for (size_t i = 1; i < r.authFailures.size(); ++i) {
      if (r.authFailures[i] == 0) continue;
      w.sample("ringlb_auth_failures_total",
               {{"listener", r.listener}, {"route", r.route}, {"reason", kAuthFailureReasons[i]}},
               r.authFailures[i]);
    }
  }
}

void writeCacheMetrics(Writer& w, const AdminSnapshot& snap) {
  w.family("ringlb_cache_requests_total", "counter",
           "Requests to routes with `cache`, by how the cache served them (docs/cache.md).");
  for (const auto& l : snap.listeners) {
    if (!l.cache) continue;
    for (size_t i = 0; i < kCacheResults.size(); ++i) {
      w.sample("ringlb_cache_requests_total", {{"listener", l.name}, {"result", kCacheResults[i]}},
               l.cacheRequests[i]);
    }
  }
  w.family("ringlb_cache_refreshes_total", "counter",
           "Background refreshes of stale copies (stale-while-revalidate), by outcome "
           "(docs/cache.md).");
  for (const auto& l : snap.listeners) {
    if (!l.cache) continue;
    for (size_t i = 0; i < kCacheRefreshResults.size(); ++i) {
      w.sample("ringlb_cache_refreshes_total",
               {{"listener", l.name}, {"result", kCacheRefreshResults[i]}}, l.cacheRefreshes[i]);
    }
  }
  w.family("ringlb_cache_bytes", "gauge",
           "Bytes a route's cache holds (bodies, fields and bookkeeping; at most max_size).");
  for (const auto& c : snap.caches) {
    w.sample("ringlb_cache_bytes", {{"listener", c.listener}, {"route", c.route}}, c.bytes);
  }
  w.family("ringlb_cache_objects", "gauge", "Responses a route's cache holds.");
  for (const auto& c : snap.caches) {
    w.sample("ringlb_cache_objects", {{"listener", c.listener}, {"route", c.route}}, c.objects);
  }
  w.family("ringlb_cache_evictions_total", "counter",
           "Responses a route's cache dropped for room (least recently used first).");
  for (const auto& c : snap.caches) {
    w.sample("ringlb_cache_evictions_total", {{"listener", c.listener}, {"route", c.route}},
             c.evictions);
  }
}

void writeForwardMetrics(Writer& w, const AdminSnapshot& snap) {
  w.family("ringlb_forward_tunnels_active", "gauge", "CONNECT tunnels open now (forward).");
  for (const auto& l : snap.listeners) {
    if (l.mode != "forward") continue;
    w.sample("ringlb_forward_tunnels_active", {{"listener", l.name}}, l.tunnelsActive);
  }
  w.family("ringlb_forward_tunnel_bytes_total", "counter",
           "Bytes CONNECT tunnels carried from clients (direction=in) and to clients "
           "(direction=out), counted when each tunnel ends (forward).");
  for (const auto& l : snap.listeners) {
    if (l.mode != "forward") continue;
    w.sample("ringlb_forward_tunnel_bytes_total", {{"listener", l.name}, {"direction", "in"}},
             l.tunnelBytesFromClients);
    w.sample("ringlb_forward_tunnel_bytes_total", {{"listener", l.name}, {"direction", "out"}},
             l.tunnelBytesToClients);
  }
  w.family("ringlb_forward_denied_total", "counter",
           "Requests and tunnels the forward ACL refused (403), by the rule: a deny pattern as "
           "written, connect_ports, unspecified_address or not_allowed.");
  for (const auto& r : snap.forwardRules) {
    w.sample("ringlb_forward_denied_total", {{"listener", r.listener}, {"rule", r.rule}}, r.denied);
  }
}

void writeListenerModeMetrics(Writer& w, const AdminSnapshot& snap) {
  w.family("ringlb_request_duration_seconds", "histogram",
           "HTTP request duration, from the complete request head to the last response byte "
           "(http, forward).");
  for (const auto& l : snap.listeners) {
    if (l.mode != "http" && l.mode != "forward") continue;
    w.histogram("ringlb_request_duration_seconds", {{"listener", l.name}}, l.requestDuration);
  }
  w.family("ringlb_datagrams_total", "counter",
           "UDP datagrams from clients (direction=in) and to clients (direction=out).");
  for (const auto& l : snap.listeners) {
    if (l.mode != "udp") continue;
    w.sample("ringlb_datagrams_total", {{"listener", l.name}, {"direction", "in"}}, l.datagramsIn);
    w.sample("ringlb_datagrams_total", {{"listener", l.name}, {"direction", "out"}},
             l.datagramsOut);
  }
  w.family("ringlb_udp_sessions_total", "counter", "UDP sessions opened (one per client address).");
  for (const auto& l : snap.listeners) {
    if (l.mode == "udp")
      w.sample("ringlb_udp_sessions_total", {{"listener", l.name}}, l.udpSessionsCreated);
  }
  w.family("ringlb_udp_sessions_closed_total", "counter",
           "UDP sessions closed early: reason=idle (idle_timeout) or evicted (table full, least "
           "recently used first).");
  for (const auto& l : snap.listeners) {
    if (l.mode != "udp") continue;
    w.sample("ringlb_udp_sessions_closed_total", {{"listener", l.name}, {"reason", "idle"}},
             l.udpIdleExpiries);
    w.sample("ringlb_udp_sessions_closed_total", {{"listener", l.name}, {"reason", "evicted"}},
             l.udpEvictions);
  }
  w.family("ringlb_udp_datagrams_dropped_total", "counter",
           "UDP datagrams not relayed: reason=truncated (over 64 KiB) or error (no session, no "
           "room, or a send error).");
  for (const auto& l : snap.listeners) {
    if (l.mode != "udp") continue;
    w.sample("ringlb_udp_datagrams_dropped_total", {{"listener", l.name}, {"reason", "truncated"}},
             l.udpTruncated);
    w.sample("ringlb_udp_datagrams_dropped_total", {{"listener", l.name}, {"reason", "error"}},
             l.udpDropped);
  }
  w.family("ringlb_udp_icmp_errors_total", "counter",
           "ICMP errors (port unreachable and the like) from backends; the client's next datagram "
           "opens a new session, which may pick another backend.");
  for (const auto& l : snap.listeners) {
    if (l.mode == "udp")
      w.sample("ringlb_udp_icmp_errors_total", {{"listener", l.name}}, l.udpIcmpErrors);
  }
}

// One family with one sample per backend.
template <typename Get>
void perBackend(Writer& w, const AdminSnapshot& snap, std::string_view name, std::string_view type,
                std::string_view help, Get get) {
  w.family(name, type, help);
  for (const auto& p : snap.pools) {
    for (const auto& b : p.backends) {
      w.sample(name, {{"pool", p.name}, {"backend", b.address}}, static_cast<uint64_t>(get(b)));
    }
  }
}

void writeBackends(Writer& w, const AdminSnapshot& snap) {
  perBackend(w, snap, "ringlb_backend_up", "gauge",
             "1 when the backend takes traffic (healthy and not ejected), else 0.",
             [](const BackendView& b) { return b.up ? 1 : 0; });
  perBackend(w, snap, "ringlb_backend_weight", "gauge", "Configured weight.",
             [](const BackendView& b) { return b.weight; });
  perBackend(w, snap, "ringlb_backend_health_changes_total", "counter",
             "Up/down transitions decided by health checks or passive ejection.",
             [](const BackendView& b) { return b.healthChanges; });
  perBackend(w, snap, "ringlb_backend_active", "gauge",
             "Connections (tcp) or requests (http) in progress on the backend.",
             [](const BackendView& b) { return b.active; });
  perBackend(w, snap, "ringlb_backend_requests_total", "counter",
             "Connections (tcp) or requests (http) sent to the backend.",
             [](const BackendView& b) { return b.requests; });
  perBackend(w, snap, "ringlb_backend_connect_failures_total", "counter",
             "Failed or timed-out connection attempts to the backend.",
             [](const BackendView& b) { return b.connectFailures; });
  w.family("ringlb_health_probes_total", "counter",
           "Active health probes by result (ok, failed, skipped: no socket on this host).");
  for (const auto& p : snap.pools) {
    for (const auto& b : p.backends) {
      w.sample("ringlb_health_probes_total",
               {{"pool", p.name}, {"backend", b.address}, {"result", "ok"}}, b.probesOk);
      w.sample("ringlb_health_probes_total",
               {{"pool", p.name}, {"backend", b.address}, {"result", "failed"}}, b.probesFailed);
      w.sample("ringlb_health_probes_total",
               {{"pool", p.name}, {"backend", b.address}, {"result", "skipped"}}, b.probesSkipped);
    }
  }
  w.family("ringlb_upstream_connect_duration_seconds", "histogram",
           "Time to establish a connection to the backend.");
  for (const auto& p : snap.pools) {
    for (const auto& b : p.backends) {
      w.histogram("ringlb_upstream_connect_duration_seconds",
                  {{"pool", p.name}, {"backend", b.address}}, b.connectTime);
    }
  }
}

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

std::string renderMetrics(const AdminSnapshot& snap) {
  std::string out;
  out.reserve(16 * 1024);
  Writer w(out);
  writeProcess(w, snap);
  writeListenerCounters(w, snap);
  writeListenerModeMetrics(w, snap);
  writeHttp2Metrics(w, snap);
  writeGatewayMetrics(w, snap);
  writeCacheMetrics(w, snap);
  writeForwardMetrics(w, snap);
  writeBackends(w, snap);
  return out;
}

}  // namespace ringlb::admin
