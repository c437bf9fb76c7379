#include "l7/http/headers.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "common/ascii.h"
#include "l7/gateway/auth_phase.h"

namespace ringlb::l7 {
namespace {

void appendField(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

bool namedIn(const std::vector<std::string>& names, std::string_view name) {
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return equalsIgnoreCase(n, name); });
}

bool namedIn(const std::vector<config::HeaderEdit>& edits, std::string_view name) {
  return std::any_of(edits.begin(), edits.end(),
                     [&](const config::HeaderEdit& e) { return equalsIgnoreCase(e.name, name); });
}

// A Forwarded parameter value: a token as is, anything else quoted.
void appendForwardedValue(std::string& out, std::string_view v) {
  bool token = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
  if (token) {
    out.append(v);
    return;
  }
  out.push_back('"');
  for (char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

// Fields the proxy rewrites itself: never copied from the request.
bool rewrittenByProxy(std::string_view name) {
  return equalsIgnoreCase(name, "host") || equalsIgnoreCase(name, "x-forwarded-for") ||
         equalsIgnoreCase(name, "x-forwarded-proto") ||
         equalsIgnoreCase(name, "x-forwarded-host") || equalsIgnoreCase(name, "forwarded") ||
         equalsIgnoreCase(name, "x-client-verify") ||
         equalsIgnoreCase(name, "x-client-cert-subject") ||
         equalsIgnoreCase(name, "x-client-cert-san");
}

void appendJoined(std::string& out, const http::MessageHead& head, std::string_view name) {
  for (const auto& h : head.headers) {
    if (!equalsIgnoreCase(h.name, name) || h.value.empty()) continue;
    out.append(h.value).append(", ");
  }
}

// A route's set_request_headers and remove_request_headers apply to the
// fields the proxy writes itself too: "set" replaces whoever wrote the first
// value, so a field never goes out twice.
bool editedByRoute(const config::RouteConfig* route, std::string_view name) {
  return route != nullptr &&
         (namedIn(route->removeRequestHeaders, name) || namedIn(route->setRequestHeaders, name));
}

void writeClientIdentity(const tls::PeerIdentity& id, const config::RouteConfig* route,
                         std::string& out) {
  if (!editedByRoute(route, "x-client-verify")) {
    appendField(out, "X-Client-Verify", id.verified ? "SUCCESS" : "NONE");
  }
  if (!id.verified) return;
  if (!editedByRoute(route, "x-client-cert-subject")) {
    appendField(out, "X-Client-Cert-Subject", id.subject);
  }
  if (!id.san.empty() && !editedByRoute(route, "x-client-cert-san")) {
    appendField(out, "X-Client-Cert-SAN", id.san);
  }
}

void writeForwardingFields(const http::MessageHead& req, const config::RouteConfig* route,
                           const ForwardInfo& info, std::string_view host, std::string& out) {
  if (!editedByRoute(route, "x-forwarded-for")) {
    out.append("X-Forwarded-For: ");
    appendJoined(out, req, "x-forwarded-for");
    out.append(info.clientIp).append("\r\n");
  }
  if (!editedByRoute(route, "x-forwarded-proto")) appendField(out, "X-Forwarded-Proto", info.proto);
  if (!editedByRoute(route, "x-forwarded-host")) appendField(out, "X-Forwarded-Host", host);
  if (!editedByRoute(route, "forwarded")) {
    out.append("Forwarded: ");
    appendJoined(out, req, "forwarded");
    out.append("for=");
    if (info.clientIp.find(':') != std::string_view::npos) {
      out.append("\"[").append(info.clientIp).append("]\"");
    } else {
      out.append(info.clientIp);
    }
    out.append(";host=");
    appendForwardedValue(out, host);
    out.append(";proto=").append(info.proto).append("\r\n");
  }
  if (req.find("x-request-id") == nullptr && !editedByRoute(route, "x-request-id")) {
    appendField(out, "X-Request-Id", info.requestId);
  }
  if (info.clientIdentity != nullptr) writeClientIdentity(*info.clientIdentity, route, out);
}

void writeRequestLine(const http::MessageHead& req, std::string_view target, std::string& out) {
  out.append(req.methodName).push_back(' ');
  if (!target.empty()) {
    out.append(target);
  } else if (req.targetForm == http::TargetForm::Absolute) {
    if (req.path.empty() || req.path.front() == '?') out.push_back('/');
    out.append(req.path);
  } else {
    out.append(req.target);
  }
  out.append(" HTTP/1.1\r\n");
}

}  // namespace

bool isConditionalOrRange(std::string_view name) {
  for (std::string_view n : {"if-none-match", "if-modified-since", "if-match",
                             "if-unmodified-since", "if-range", "range"}) {
    if (equalsIgnoreCase(name, n)) return true;
  }
  return false;
}

bool forwardsUpgrade(const http::MessageHead& req) {
  return req.wantsUpgrade() && !equalsIgnoreCase(req.upgrade, "h2c");
}

void writeUpstreamRequestHead(const http::MessageHead& req, const config::RouteConfig* route,
                              const ForwardInfo& info, std::string& out) {
  writeRequestLine(req, info.target, out);
  std::string_view host = req.authority.empty() ? info.fallbackHost : req.authority;
  if (!editedByRoute(route, "host")) appendField(out, "Host", host);
  for (const auto& h : req.headers) {
    bool framing =
        req.framing == http::BodyFraming::Chunked && equalsIgnoreCase(h.name, "transfer-encoding");
    if (!framing && (req.isHopByHop(h.name) || rewrittenByProxy(h.name))) continue;
    if (editedByRoute(route, h.name)) continue;
    if (info.auth != nullptr && authStripsRequestHeader(*info.auth, h.name)) continue;
    if (info.revalidating && isConditionalOrRange(h.name)) continue;
    appendField(out, h.name, h.value);
  }
  writeForwardingFields(req, route, info, host, out);
  for (const auto& f : info.addFields) appendField(out, f.name, f.value);
  for (const auto& f : info.validators) appendField(out, f.name, f.value);
  if (forwardsUpgrade(req)) {
    appendField(out, "Connection", "upgrade");
    appendField(out, "Upgrade", req.upgrade);
  }
  if (route != nullptr) {
    for (const auto& e : route->setRequestHeaders) appendField(out, e.name, e.value);
  }
  out.append("\r\n");
}

void writeClientResponseHead(const http::MessageHead& resp, const config::RouteConfig* route,
                             const ResponseHeadOptions& options, std::string& out) {
  out.append("HTTP/1.1 ");
  out.append(std::to_string(resp.status)).push_back(' ');
  out.append(resp.reason).append("\r\n");
  for (const auto& h : resp.headers) {
    bool framing = resp.framing == http::BodyFraming::Chunked && !options.dechunk &&
                   equalsIgnoreCase(h.name, "transfer-encoding");
    if (!framing && resp.isHopByHop(h.name)) continue;
    if (route != nullptr && (namedIn(route->removeResponseHeaders, h.name) ||
                             namedIn(route->setResponseHeaders, h.name))) {
      continue;
    }
    appendField(out, h.name, h.value);
  }
  if (route != nullptr) {
    for (const auto& e : route->setResponseHeaders) appendField(out, e.name, e.value);
  }
  if (options.upgrade) {
    appendField(out, "Connection", "upgrade");
    appendField(out, "Upgrade", resp.upgrade);
  } else if (options.close) {
    appendField(out, "Connection", "close");
  } else if (options.keepAlive) {
    appendField(out, "Connection", "keep-alive");
  }
  if (!options.via.empty()) appendField(out, "Via", options.via);
  out.append("\r\n");
}

void clientResponseFields(const http::MessageHead& resp, const config::RouteConfig* route,
                          std::vector<http::HeaderView>& out) {
  for (const auto& h : resp.headers) {
    if (resp.isHopByHop(h.name)) continue;
    if (route != nullptr && (namedIn(route->removeResponseHeaders, h.name) ||
                             namedIn(route->setResponseHeaders, h.name))) {
      continue;
    }
    out.push_back(h);
  }
  if (route != nullptr) {
    for (const auto& e : route->setResponseHeaders) out.push_back({e.name, e.value});
  }
}

std::string formatRequestId(uint64_t hi, uint64_t lo) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int i = 0; i < 16; ++i) {
    id[15 - i] = kHex[(hi >> (4 * i)) & 0xf];
    id[31 - i] = kHex[(lo >> (4 * i)) & 0xf];
  }
  return id;
}

bool isIdempotent(http::Method method) {
  switch (method) {
    case http::Method::Get:
    case http::Method::Head:
    case http::Method::Options:
    case http::Method::Put:
    case http::Method::Delete:
    case http::Method::Trace: return true;
    default: return false;
  }
}

}  // namespace ringlb::l7
