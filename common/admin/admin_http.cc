#include "common/admin/admin_http.h"

#include <fmt/format.h>

#include "common/admin/metrics_text.h"
#include "common/admin/status_json.h"
#include "common/admin/status_page.h"

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

}  // namespace

AdminReply answerAdminRequest(const http::MessageHead& head,
                              const std::function<AdminSnapshot()>& snapshot) {
  if (head.method != http::Method::Get && head.method != http::Method::Head) {
    AdminReply r = plain(405, "method not allowed: use GET or HEAD\n");
    r.allowHeader = true;
    return r;
  }
  const std::string_view path = pathOf(head);
  if (path == "/healthz") return plain(200, "ok\n");
  AdminReply r;
  if (path == "/metrics") {
    r.contentType = kMetricsContentType;
    r.body = renderMetrics(snapshot());
  } else if (path == "/status") {
    r.contentType = "application/json";
    r.body = renderStatusJson(snapshot());
  } else if (path == "/") {
    r.contentType = "text/html; charset=utf-8";
    r.body = renderStatusPage(snapshot());
  } else {
    return plain(404, "not found: try /, /status, /metrics or /healthz\n");
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
  if (reply.allowHeader) out += "Allow: GET, HEAD\r\n";
  out += "\r\n";
  if (!headOnly) out += reply.body;
  return out;
}

}  // namespace ringlb::admin
