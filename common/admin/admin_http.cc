#include "common/admin/admin_http.h"

#include <fmt/format.h>

#include "common/admin/metrics_text.h"
#include "common/admin/status_json.h"
#include "common/admin/status_page.h"
#include "common/ascii.h"

namespace ringlb::admin {
namespace {

std::string_view reason(uint16_t status) {
  switch (status) {
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    default: break;
  }
  std::string_view r = http::reasonPhrase(status);
  return r.empty() ? "Error" : r;
}

AdminReply plain(uint16_t status, std::string body) {
  AdminReply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// The path without its query string.
std::string_view pathOf(const http::MessageHead& head) {
  std::string_view p = head.path;
  auto q = p.find('?');
  return q == std::string_view::npos ? p : p.substr(0, q);
}

// A query parameter's value, percent-decoded ('+' is a space); nullopt when
// absent or badly encoded (then `bad` is set).
std::optional<std::string> queryParam(std::string_view target, std::string_view name, bool& bad) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return std::nullopt;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    std::string_view raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    std::string value;
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '+') {
        value.push_back(' ');
      } else if (raw[i] != '%') {
        value.push_back(raw[i]);
      } else if (i + 2 < raw.size() && hexDigitValue(raw[i + 1]) >= 0 &&
                 hexDigitValue(raw[i + 2]) >= 0) {
        value.push_back(
            static_cast<char>(hexDigitValue(raw[i + 1]) * 16 + hexDigitValue(raw[i + 2])));
        i += 2;
      } else {
        bad = true;
        return std::nullopt;
      }
    }
    return value;
  }
  return std::nullopt;
}

AdminReply answerPurge(const http::MessageHead& head, const CachePurge& purge) {
  if (head.method != http::Method::Post) {
    AdminReply r = plain(405, "method not allowed: POST /cache/purge?host=H&path_prefix=P\n");
    r.allow = "POST";
    return r;
  }
  bool bad = false;
  std::string host = queryParam(head.path, "host", bad).value_or("");
  std::string prefix = queryParam(head.path, "path_prefix", bad).value_or("");
  if (bad) return plain(400, "bad request: a query parameter is not percent-encoded right\n");
  if (!prefix.empty() && prefix.front() != '/') {
    return plain(400, "bad request: path_prefix must start with \"/\"\n");
  }
  size_t purged = purge ? purge(host, prefix) : 0;
  AdminReply r;
  r.contentType = "application/json";
  r.body = fmt::format("{{\"purged\": {}}}\n", purged);
  return r;
}

}  // namespace

AdminReply answerAdminRequest(const http::MessageHead& head,
                              const std::function<AdminSnapshot()>& snapshot,
                              const CachePurge& purge, const HistoryJson& history) {
  const std::string_view path = pathOf(head);
  if (path == "/cache/purge") return answerPurge(head, purge);
  if (head.method != http::Method::Get && head.method != http::Method::Head) {
    AdminReply r = plain(405, "method not allowed: use GET or HEAD\n");
    r.allow = "GET, HEAD";
    return r;
  }
  if (path == "/healthz") return plain(200, "ok\n");
  AdminReply r;
  if (path == "/metrics") {
    r.contentType = kMetricsContentType;
    r.body = renderMetrics(snapshot());
  } else if (path == "/status") {
    r.contentType = "application/json";
    r.body = renderStatusJson(snapshot());
  } else if (path == "/status/history" && history) {
    r.contentType = "application/json";
    r.body = history();
  } else if (path == "/") {
    r.contentType = "text/html; charset=utf-8";
    r.contentSecurityPolicy = statusPageContentSecurityPolicy();
    r.body = renderStatusPage(snapshot());
  } else {
    return plain(404,
                 "not found: try /, /status, /status/history, /metrics, /healthz or POST "
                 "/cache/purge\n");
  }
  return r;
}

AdminReply answerParseError(http::ParseError error) {
  const uint16_t status = http::httpStatusFor(error, http::MessageKind::Request);
  return plain(status, fmt::format("bad request: {}\n", http::errorName(error)));
}

std::string formatAdminReply(const AdminReply& reply, bool headOnly, bool keepAlive) {
  std::string out = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n"
      "Connection: {}\r\n",
      reply.status, reason(reply.status), reply.contentType, reply.body.size(),
      keepAlive ? "keep-alive" : "close");
  if (!reply.allow.empty()) out += fmt::format("Allow: {}\r\n", reply.allow);
  if (!reply.contentSecurityPolicy.empty()) {
    out += fmt::format("Content-Security-Policy: {}\r\n", reply.contentSecurityPolicy);
  }
  out += "\r\n";
  if (!headOnly) out += reply.body;
  return out;
}

}  // namespace ringlb::admin
