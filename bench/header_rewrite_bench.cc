// Header rewriting on the proxy path (l7/headers.h): the head sent to the
// backend (hop-by-hop removal, Host, X-Forwarded-*, Forwarded, X-Request-Id,
// route edits) and the head sent back to the client. Each head is parsed once
// outside the loop; only the rewrite into a reused string is timed, as the
// session reuses its upstream head buffer. Bytes/s counts the input head.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "bench/sample_requests.h"
#include "common/http1/http1_parser.h"
#include "config/model.h"
#include "l7/http/headers.h"

namespace ringlb::l7 {
namespace {

using bench::kApiRequest;
using bench::kBrowserRequest;

// A typical static-page response from a backend (10 fields).
const std::string kPageResponse =
    "HTTP/1.1 200 OK\r\n"
    "Date: Tue, 14 May 2024 09:12:44 GMT\r\n"
    "Server: nginx/1.24.0\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Length: 48213\r\n"
    "Last-Modified: Mon, 13 May 2024 17:03:10 GMT\r\n"
    "ETag: \"6642474e-bc55\"\r\n"
    "Cache-Control: public, max-age=300\r\n"
    "Vary: Accept-Encoding\r\n"
    "Keep-Alive: timeout=5\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

constexpr std::string_view kRequestId = "4f2a9c1e7b3d5a6f8e0c1b2a3d4e5f60";

// The head of `raw`, parsed once; the parser keeps the views alive.
std::unique_ptr<http::Http1Parser> parseOnce(http::MessageKind kind, const std::string& raw) {
  auto parser = std::make_unique<http::Http1Parser>(kind);
  if (parser->feed(raw).status != http::ParseStatus::HeadComplete) return nullptr;
  return parser;
}

// Two set and two remove rules each way, as a route with edits would have.
config::RouteConfig routeWithEdits() {
  config::RouteConfig route;
  route.setRequestHeaders = {{"X-Tenant", "blue"}, {"X-Env", "production"}};
  route.removeRequestHeaders = {"Cookie", "Priority"};
  route.setResponseHeaders = {{"Strict-Transport-Security", "max-age=31536000"},
                              {"X-Frame-Options", "DENY"}};
  route.removeResponseHeaders = {"Server", "ETag"};
  return route;
}

void rewriteRequest(benchmark::State& state, const std::string& raw,
                    const config::RouteConfig* route) {
  auto parser = parseOnce(http::MessageKind::Request, raw);
  if (parser == nullptr) {
    state.SkipWithError("parse failed");
    return;
  }
  const ForwardInfo info{"192.0.2.17", "http", kRequestId, "lb.example.com"};
  std::string out;
  out.reserve(2048);
  for (auto _ : state) {
    out.clear();
    writeUpstreamRequestHead(parser->head(), route, info, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * raw.size()));
  state.counters["in_bytes"] = static_cast<double>(raw.size());
  state.counters["out_bytes"] = static_cast<double>(out.size());
}

void rewriteResponse(benchmark::State& state, const config::RouteConfig* route) {
  auto parser = parseOnce(http::MessageKind::Response, kPageResponse);
  if (parser == nullptr) {
    state.SkipWithError("parse failed");
    return;
  }
  std::string out;
  out.reserve(2048);
  for (auto _ : state) {
    out.clear();
    writeClientResponseHead(parser->head(), route, ResponseHeadOptions{}, out);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kPageResponse.size()));
  state.counters["in_bytes"] = static_cast<double>(kPageResponse.size());
  state.counters["out_bytes"] = static_cast<double>(out.size());
}

void BM_RewriteBrowserRequest(benchmark::State& state) {
  rewriteRequest(state, kBrowserRequest, nullptr);
}
BENCHMARK(BM_RewriteBrowserRequest);

void BM_RewriteApiRequest(benchmark::State& state) { rewriteRequest(state, kApiRequest, nullptr); }
BENCHMARK(BM_RewriteApiRequest);

void BM_RewriteBrowserRequestWithRouteEdits(benchmark::State& state) {
  const config::RouteConfig route = routeWithEdits();
  rewriteRequest(state, kBrowserRequest, &route);
}
BENCHMARK(BM_RewriteBrowserRequestWithRouteEdits);

void BM_RewriteResponse(benchmark::State& state) { rewriteResponse(state, nullptr); }
BENCHMARK(BM_RewriteResponse);

void BM_RewriteResponseWithRouteEdits(benchmark::State& state) {
  const config::RouteConfig route = routeWithEdits();
  rewriteResponse(state, &route);
}
BENCHMARK(BM_RewriteResponseWithRouteEdits);

// What the session adds per request without X-Request-Id: the id itself.
void BM_RewriteRequestIdFormat(benchmark::State& state) {
  uint64_t n = 0x9e3779b97f4a7c15;
  for (auto _ : state) {
    n += 0x9e3779b97f4a7c15;
    std::string id = formatRequestId(n, ~n);
    benchmark::DoNotOptimize(id.data());
  }
}
BENCHMARK(BM_RewriteRequestIdFormat);

}  // namespace
}  // namespace ringlb::l7
