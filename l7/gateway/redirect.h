// The redirect phase (the first of the request phases, docs/gateway.md): a
// route with `redirect` answers with its `redirect_code` and a Location
// instead of proxying.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "common/http1/http1_parser.h"
#include "config/model.h"

namespace ringlb::l7 {

// The Location for `request` on a redirect route: "https" sends the same
// host (without its port) and target to https; a URL prefix gets the
// request's target appended. `fallbackHost` stands in for a request without
// a host (HTTP/1.0).
std::string redirectLocation(const config::RouteConfig& route, const http::MessageHead& request,
                             std::string_view fallbackHost);

}  // namespace ringlb::l7
