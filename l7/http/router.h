// Router: picks the route of a request from a listener's routes. The first
// route whose every condition holds wins (host exact or "*.suffix", path
// exact or prefix, methods, header values); with none, the listener's own
// pool; with no pool either, nothing (the session answers 404).
//
// A Router only points into the ListenerConfig (no copy), so building one per
// request is free; the config snapshot must outlive it.
// Thread rules: pure reads of an immutable config; any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "common/http1/http_types.h"
#include "config/model.h"

namespace ringlb::l7 {

// What routing looks at; views into the parsed request.
struct RouteRequest {
  std::string_view host;  // authority or Host value, the port is ignored
  std::string_view path;  // path with optional query; the query is ignored
  std::string_view method;
  std::span<const http::HeaderView> headers;
};

struct RouteMatch {
  const config::RouteConfig* route = nullptr;  // null: the listener's default pool
  const std::string* pool = nullptr;           // null: nothing matched (404)
  bool found() const { return pool != nullptr; }
};

class Router {
 public:
  explicit Router(const config::ListenerConfig& listener) : listener_(&listener) {}
  RouteMatch match(const RouteRequest& request) const;

 private:
  const config::ListenerConfig* listener_;
};

// "example.com:8080" -> "example.com"; "[::1]:80" -> "[::1]".
std::string_view hostWithoutPort(std::string_view authority);
// Case-insensitive; `pattern` "*.example.com" matches any host ending in
// ".example.com" with a non-empty label before it (not "example.com").
bool hostMatches(std::string_view pattern, std::string_view host);
// True when `route` accepts `request` (every condition set on it holds).
bool routeMatches(const config::RouteConfig& route, const RouteRequest& request);

}  // namespace ringlb::l7
