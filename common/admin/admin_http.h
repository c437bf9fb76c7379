// The admin endpoint's HTTP layer, without I/O: which page a request asks
// for, and the bytes of the reply.
//
//   GET|HEAD /         HTML status page
//   GET|HEAD /status   JSON
//   GET|HEAD /status/history   JSON: the status page's chart series
//   GET|HEAD /metrics  Prometheus text 0.0.4
//   GET|HEAD /healthz  "ok"
//   POST /cache/purge?host=H&path_prefix=P   {"purged": N} (docs/cache.md)
//   other paths 404, other methods 405 (with Allow), parse errors 4xx/5xx.
//
// Pure functions; any thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "common/admin/admin_snapshot.h"
#include "common/http1/http1_parser.h"

namespace ringlb::admin {

struct AdminReply {
  uint16_t status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
  std::string_view allow;                  // 405: the methods the path takes (an Allow field)
  std::string_view contentSecurityPolicy;  // the HTML page's (a Content-Security-Policy field)
};

// Drops cached responses of `host` (empty: any) under `pathPrefix`; how many.
using CachePurge = std::function<size_t(std::string_view host, std::string_view pathPrefix)>;
// The body of GET /status/history (renderHistoryJson); without one that path is 404.
using HistoryJson = std::function<std::string()>;

// The reply to a complete request head. `snapshot` is called only for the
// pages that need one.
AdminReply answerAdminRequest(const http::MessageHead& head,
                              const std::function<AdminSnapshot()>& snapshot,
                              const CachePurge& purge = {}, const HistoryJson& history = {});
// The reply to a request that failed to parse.
AdminReply answerParseError(http::ParseError error);

// Status line, headers and (unless `headOnly`) body. `keepAlive` picks
// "Connection: keep-alive" or "Connection: close".
std::string formatAdminReply(const AdminReply& reply, bool headOnly, bool keepAlive);

}  // namespace ringlb::admin
