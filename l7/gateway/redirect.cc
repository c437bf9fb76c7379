#include "l7/gateway/redirect.h"

#include "l7/http/router.h"

namespace ringlb::l7 {

std::string redirectLocation(const config::RouteConfig& route, const http::MessageHead& request,
                             std::string_view fallbackHost) {
  // Origin-form: the target as received; absolute-form: its path and query.
  std::string_view target =
      request.targetForm == http::TargetForm::Absolute ? request.path : request.target;
  std::string location;
  if (route.redirect == "https") {
    std::string_view host = request.authority.empty() ? fallbackHost : request.authority;
    location = "https://";
    location.append(hostWithoutPort(host));
  } else {
    location = route.redirect;  // the loader dropped its trailing "/"
  }
  if (target.empty() || target.front() != '/') location.push_back('/');
  location.append(target);
  return location;
}

}  // namespace ringlb::l7
