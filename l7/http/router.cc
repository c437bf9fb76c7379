#include "l7/http/router.h"

#include <algorithm>

#include "common/ascii.h"

namespace ringlb::l7 {
namespace {

std::string_view pathOnly(std::string_view path) {
  size_t q = path.find('?');
  return q == std::string_view::npos ? path : path.substr(0, q);
}

bool headersMatch(const config::RouteConfig& route, std::span<const http::HeaderView> headers) {
  for (const auto& want : route.matchHeaders) {
    bool found = std::any_of(headers.begin(), headers.end(), [&](const http::HeaderView& h) {
      return equalsIgnoreCase(h.name, want.name) && h.value == want.value;
    });
    if (!found) return false;
  }
  return true;
}

}  // namespace

std::string_view hostWithoutPort(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    return close == std::string_view::npos ? authority : authority.substr(0, close + 1);
  }
  size_t colon = authority.rfind(':');
  return colon == std::string_view::npos ? authority : authority.substr(0, colon);
}

bool hostMatches(std::string_view pattern, std::string_view host) {
  if (pattern.size() >= 2 && pattern[0] == '*' && pattern[1] == '.') {
    std::string_view suffix = pattern.substr(1);  // ".example.com"
    return host.size() > suffix.size() &&
           equalsIgnoreCase(host.substr(host.size() - suffix.size()), suffix);
  }
  return equalsIgnoreCase(pattern, host);
}

bool routeMatches(const config::RouteConfig& route, const RouteRequest& request) {
  if (!route.host.empty() && !hostMatches(route.host, hostWithoutPort(request.host))) return false;
  std::string_view path = pathOnly(request.path);
  if (!route.path.empty() && path != route.path) return false;
  if (!route.pathPrefix.empty() && path.substr(0, route.pathPrefix.size()) != route.pathPrefix) {
    return false;
  }
  if (!route.methods.empty() &&
      std::none_of(route.methods.begin(), route.methods.end(),
                   [&](const std::string& m) { return equalsIgnoreCase(m, request.method); })) {
    return false;
  }
  return headersMatch(route, request.headers);
}

RouteMatch Router::match(const RouteRequest& request) const {
  for (const auto& route : listener_->routes) {
    if (!routeMatches(route, request)) continue;
    const std::string* pool = route.pool.empty() ? &listener_->pool : &route.pool;
    if (pool->empty() && route.redirect.empty()) return {};
    return {&route, pool};
  }
  if (listener_->pool.empty()) return {};
  return {nullptr, &listener_->pool};
}

}  // namespace ringlb::l7
