// HttpSession, access log: one line per request once it ended (answered,
// switched to a tunnel, or cut short), handed to the non-blocking AccessLog.
#include <fmt/format.h>

#include "common/access_log.h"
#include "common/worker.h"
#include "l7/http_service.h"
#include "l7/http_session.h"

namespace ringlb::l7 {

void HttpSession::logRequest() {
  if (!exchangeOpen_) return;
  exchangeOpen_ = false;
  AccessLog& log = AccessLog::global();
  if (!log.enabled()) return;
  Worker& worker = service_.worker();
  const http::MessageHead& h = reqParser_.head();
  char route[32] = "-";
  if (route_ != nullptr && listener_ != nullptr) {
    auto index = route_ - listener_->routes.data();
    *fmt::format_to_n(route, sizeof route - 1, "routes[{}]", index).out = '\0';
  }
  AccessRecord r;
  r.time = std::chrono::system_clock::now();
  r.client = clientAddr_;
  r.listener = service_.name();
  r.route = route;
  r.pool = pool_ != nullptr ? std::string_view(pool_->name) : "-";
  r.backend = backendKey_.empty() ? std::string_view("-") : backendKey_;
  r.method = h.methodName;
  r.path = h.path.empty() ? h.target : h.path;
  r.status = status_;
  r.bytesIn = reqHeadBytes_ + req_.bodyBytes;
  r.bytesOut = respSentBytes_;
  r.duration = std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - requestStart_);
  r.upstreamConnect = connectTime_;
  r.upstreamResponse = responseTime_;
  r.requestId = requestId_.empty() ? std::string_view("-") : requestId_;
  if (error_) r.error = error_->name();
  std::string& line = service_.accessLine();
  line.clear();
  formatAccessLine(r, line);
  log.append(worker.index(), line);
}

}  // namespace ringlb::l7
