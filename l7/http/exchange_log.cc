// Exchange, the access log: one line per request (http) or per request and
// tunnel (forward), handed to the non-blocking AccessLog.
#include <fmt/format.h>

#include "common/access_log.h"
#include "common/socket.h"
#include "common/worker.h"
#include "l7/forward/forward_target.h"
#include "l7/http/exchange.h"
#include "l7/http/http_service.h"

namespace ringlb::l7 {
namespace {

// How a forward request or tunnel ended, for its `end` field.
AccessEnd endOf(const std::optional<Error>& failure) {
  if (!failure) return AccessEnd::Closed;
  switch (failure->code) {
    case ErrorCode::Denied: return AccessEnd::Denied;
    case ErrorCode::HeadTimeout: return AccessEnd::HeaderTimeout;
    case ErrorCode::ResolveFailed: return AccessEnd::ResolveFailed;
    case ErrorCode::ResolveTimeout: return AccessEnd::ResolveTimeout;
    case ErrorCode::ConnectTimeout: return AccessEnd::ConnectTimeout;
    case ErrorCode::ConnectRefused:
    case ErrorCode::ConnectFailed: return AccessEnd::ConnectFailed;
    case ErrorCode::ResponseTimeout: return AccessEnd::ResponseTimeout;
    case ErrorCode::InvalidResponse:
    case ErrorCode::BackendClosed: return AccessEnd::BadResponse;
    case ErrorCode::BackendTruncated: return AccessEnd::BackendError;
    case ErrorCode::BodyTooLarge: return AccessEnd::BodyTooLarge;
    case ErrorCode::NoSocket: return AccessEnd::NoSocket;
    default: return AccessEnd::BadRequest;
  }
}

}  // namespace

void Exchange::logAccess(uint16_t status, uint64_t bytesSent) {
  AccessLog& log = context_.service.worker().shared().accessLog;
  if (!log.enabled()) return;
  Worker& worker = context_.service.worker();
  char route[32] = "-";
  if (choice_.route != nullptr) {
    auto index = choice_.route - context_.listener.routes.data();
    *fmt::format_to_n(route, sizeof route - 1, "routes[{}]", index).out = '\0';
  }
  AccessRecord r;
  r.time = std::chrono::system_clock::now();
  r.client = context_.clientAddr;
  r.listener = context_.listener.name;
  r.route = route;
  r.pool = choice_.pool != nullptr ? std::string_view(choice_.pool->name) : "-";
  r.backend = backendKey_.empty() ? std::string_view("-") : backendKey_;
  r.method = head_.methodName;
  r.path = head_.path.empty() ? head_.target : head_.path;
  if (!context_.protocol.empty()) {
    r.protocol = context_.protocol;
  } else if (head_.methodName.empty()) {
    r.protocol = "-";  // refused before a request line was read
  } else {
    r.protocol = head_.version == http::Version::Http10 ? "HTTP/1.0" : "HTTP/1.1";
  }
  r.status = status;
  r.bytesIn = context_.headBytes + requestBody_.taken();
  r.bytesOut = bytesSent;
  r.duration = std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - timing_.start);
  r.upstreamConnect = timing_.connect;
  r.upstreamResponse = timing_.response;
  r.requestId = requestId_.empty() ? std::string_view("-") : requestId_;
  if (failure_) r.error = failure_->name();
  r.user = authSubject_;
  r.authFailure = authFailure_;
  r.rateLimit = limitVerdict_;
  if (cache_) {
    r.cache = context_.refresh != nullptr ? std::string_view("refresh")
                                          : kCacheResults[static_cast<size_t>(cache_->result)];
  }
  log.append(worker.index(), r, context_.service.accessLine());
}

void Exchange::logForward(uint16_t status, uint64_t bytesSent, std::optional<uint64_t> bytesIn,
                          AccessEnd end) {
  AccessLog& log = context_.service.worker().shared().accessLog;
  if (!log.enabled()) return;
  Worker& worker = context_.service.worker();
  static const ForwardTarget kNone{*this};  // a head refused before it named a target
  const ForwardTarget& t = forward_ ? *forward_ : kNone;
  AccessRecord r;
  r.mode = AccessMode::Forward;
  r.time = std::chrono::system_clock::now();
  r.client = context_.clientAddr;
  r.listener = context_.listener.name;
  r.method = head_.methodName;
  r.destination = t.destText.empty() ? std::string_view("-") : std::string_view(t.destText);
  r.path = head_.path.empty() ? head_.target : head_.path;  // CONNECT: the authority
  r.backend = t.address.length > 0 ? std::string_view(t.address.text) : "-";
  r.status = status;
  r.bytesIn = bytesIn.value_or(context_.headBytes + requestBody_.taken());
  r.bytesOut = bytesSent;
  r.duration = std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - timing_.start);
  r.acl = t.verdict;
  r.user = authSubject_;
  r.authFailure = authFailure_;
  if (!authFailure_.empty()) {
    r.verdict = "login_required";
  } else if (failure_ && failure_->code == ErrorCode::Denied) {
    r.verdict = "denied";
  } else if (forwardAllowed_) {
    r.verdict = "allowed";
  }
  r.end = end != AccessEnd::None ? end : endOf(failure_);
  log.append(worker.index(), r, context_.service.accessLine());
}

}  // namespace ringlb::l7
