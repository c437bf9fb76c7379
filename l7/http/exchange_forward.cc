// Exchange, routing for the forward proxy: a CONNECT target or an absolute
// URI, checked against deny/allow/connect_ports before and after the name
// is resolved (a name that resolves into a denied range is refused), then a
// keep-alive connection to the origin or a new one. CONNECT becomes a
// tunnel once connected ("200 Connection established").
#include <fmt/format.h>
#include <netdb.h>

#include <cerrno>
#include <cstring>

#include "common/socket.h"
#include "common/worker.h"
#include "l7/forward/forward_settings.h"
#include "l7/forward/forward_target.h"
#include "l7/http/exchange.h"
#include "l7/http/http_service.h"

namespace ringlb::l7 {
namespace {

// A literal IP as a socket address; getaddrinfo with AI_NUMERICHOST never blocks.
bool literalAddress(const Destination& d, sockaddr_storage& out, socklen_t& length) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  std::string port = std::to_string(d.port);
  if (getaddrinfo(d.host.c_str(), port.c_str(), &hints, &list) != 0) return false;
  std::memcpy(&out, list->ai_addr, list->ai_addrlen);
  length = list->ai_addrlen;
  freeaddrinfo(list);
  return true;
}

}  // namespace

void ForwardTarget::onResolved(const ResolveJob&) { exchange.onResolved(); }

void Exchange::routeForward() {
  forward_ = std::make_unique<ForwardTarget>(*this);
  ForwardTarget& t = *forward_;
  if (head_.method == http::Method::Connect) {
    auto dest = parseAuthority(head_.authority, 0);
    if (!dest) {
      fail(makeError(ErrorCode::BadRequest), "CONNECT needs a target of the form host:port");
      return;
    }
    t.dest = std::move(*dest);
    t.tunnel = true;
  } else if (head_.targetForm != http::TargetForm::Absolute) {
    fail(makeError(ErrorCode::BadRequest),
         "this is a forward proxy: send CONNECT host:port or an absolute URI "
         "(GET http://host/path)");
    return;
  } else {
    std::string why;
    auto dest = absoluteTarget(head_, &why);
    if (!dest) {
      fail(makeError(ErrorCode::BadRequest), why);
      return;
    }
    t.dest = std::move(*dest);
  }
  bool v6 = t.dest.host.find(':') != std::string::npos;
  t.destText = fmt::format("{}{}{}:{}", v6 ? "[" : "", t.dest.host, v6 ? "]" : "", t.dest.port);
  backendKey_ = t.destText;
  const ForwardAcl& acl = context_.forward->acl;
  if (auto refused = acl.refuseEarly(t.dest.host, t.dest.port, t.tunnel)) {
    t.verdict = std::move(refused->reason);
    fail(makeError(ErrorCode::Denied), t.verdict);
    return;
  }
  if (auto ip = IpAddress::parse(t.dest.host)) {
    AclVerdict v = acl.check(t.dest.host, &*ip, t.dest.port, t.tunnel);
    t.verdict = std::move(v.reason);
    if (!v.allowed) {
      fail(makeError(ErrorCode::Denied), t.verdict);
      return;
    }
    sockaddr_storage address{};
    socklen_t length = 0;
    if (!literalAddress(t.dest, address, length)) {
      fail(makeError(ErrorCode::BadRequest), "unusable IP address");
      return;
    }
    resolved(reinterpret_cast<const sockaddr*>(&address), length);
    return;
  }
  // A name: resolved off the worker. A slow name (or a resolver stuck behind
  // one) must not hold the request forever: resolving gets the connect window.
  t.job = std::make_shared<ResolveJob>();
  t.job->host = t.dest.host;
  t.job->port = t.dest.port;
  t.job->waiter = &t;
  phase_ = Phase::Waiting;
  context_.service.resolver().resolve(t.job);
  Worker& worker = context_.service.worker();
  context_.owner.setResponseDeadline(worker.now() + context_.forward->connectTimeout);
}

void Exchange::onResolved() {
  ForwardTarget& t = *forward_;
  std::shared_ptr<ResolveJob> job = std::move(t.job);
  phase_ = Phase::Requesting;
  context_.owner.setResponseDeadline({});
  if (failure_) return;
  auto ip = job->ok() ? IpAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&job->address))
                      : std::nullopt;
  if (!ip) {
    fail(makeError(ErrorCode::ResolveFailed),
         fmt::format("cannot resolve {}: {}", t.dest.host,
                     job->ok() ? "unsupported address" : job->error));
  } else if (AclVerdict v = context_.forward->acl.check(t.dest.host, &*ip, t.dest.port, t.tunnel);
             !v.allowed) {
    t.verdict = std::move(v.reason);
    fail(makeError(ErrorCode::Denied), t.verdict);
  } else {
    t.verdict = std::move(v.reason);
    resolved(reinterpret_cast<const sockaddr*>(&job->address), job->length);
  }
  context_.owner.wakeExchange();
}

void Exchange::resolved(const sockaddr* address, socklen_t length) {
  ForwardTarget& t = *forward_;
  std::memcpy(&t.address.storage, address, length);
  t.address.length = length;
  std::array<char, kAddressTextSize> text;
  t.address.text = formatAddress(address, text);
  if (!t.tunnel) upstreamHead_ = originRequestHead(head_, t.dest);
  connectTo(t.address, context_.forward->connectTimeout);
}

}  // namespace ringlb::l7
