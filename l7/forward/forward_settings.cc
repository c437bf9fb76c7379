#include "l7/forward/forward_settings.h"

#include <algorithm>

namespace ringlb::l7 {

std::shared_ptr<const ForwardSettings> ForwardSettings::build(
    const config::ListenerConfig& listener) {
  auto s = std::make_shared<ForwardSettings>();
  s->acl = ForwardAcl(listener.allow, listener.deny, listener.connectPorts);
  s->connectTimeout = std::min(kMaxConnectTimeout, listener.responseTimeout);
  return s;
}

}  // namespace ringlb::l7
