// Exchange, routing for the forward proxy: a CONNECT target or an absolute
// URI, the proxy login (users_file), then deny/allow/connect_ports before
// and after the name is resolved (a name with any address in a denied range
// is refused), then a keep-alive connection to the origin or a new one (a
// refused connect goes on to the name's next address). CONNECT becomes a
// tunnel once connected ("200 Connection established").
#include <fmt/format.h>
#include <netdb.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
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
  // The login before the rules: who may not use the proxy learns nothing of them.
  if (context_.listener.proxyAuth && !authenticate(*context_.listener.proxyAuth)) return;
  const ForwardAcl& acl = context_.forward->acl;
  if (auto refused = acl.refuseEarly(t.dest.host, t.dest.port, t.tunnel)) {
    denyForward(std::move(*refused));
    return;
  }
  if (auto ip = IpAddress::parse(t.dest.host)) {
    AclVerdict v = acl.check(t.dest.host, &*ip, t.dest.port, t.tunnel);
    if (!v.allowed) {
      denyForward(std::move(v));
      return;
    }
    t.verdict = std::move(v.reason);
    forwardAllowed_ = true;
    sockaddr_storage address{};
    socklen_t length = 0;
    if (!literalAddress(t.dest, address, length)) {
      fail(makeError(ErrorCode::BadRequest), "unusable IP address");
      return;
    }
    resolved(reinterpret_cast<const sockaddr*>(&address), length);
    return;
  }
  // A name: resolved asynchronously on this worker (c-ares). A slow name
  // must not hold the request forever: resolving gets the connect window.
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
  if (!job->ok()) {
    fail(makeError(ErrorCode::ResolveFailed),
         fmt::format("cannot resolve {}: {}", t.dest.host, job->error));
    context_.owner.wakeExchange();
    return;
  }
  // Every address the name has is checked, not only the one tried first: a
  // name with any address in a denied range is refused (DNS rebinding).
  std::vector<config::SocketAddress> candidates;
  std::string verdict;
  for (const config::SocketAddress& a : job->addresses) {
    auto ip = IpAddress::fromSockaddr(a.sa());
    if (!ip) continue;
    AclVerdict v = context_.forward->acl.check(t.dest.host, &*ip, t.dest.port, t.tunnel);
    if (!v.allowed) {
      denyForward(std::move(v));
      context_.owner.wakeExchange();
      return;
    }
    if (verdict.empty()) verdict = std::move(v.reason);
    if (candidates.size() < kMaxForwardAddresses) candidates.push_back(a);
  }
  if (candidates.empty()) {
    fail(makeError(ErrorCode::ResolveFailed),
         fmt::format("cannot resolve {}: no usable address", t.dest.host));
  } else {
    t.verdict = std::move(verdict);
    forwardAllowed_ = true;
    forwardAddresses_ = std::move(candidates);
    forwardNext_ = 1;
    resolved(forwardAddresses_[0].sa(), forwardAddresses_[0].length);
  }
  context_.owner.wakeExchange();
}

bool Exchange::connectNextAddress() {
  if (forwardNext_ >= forwardAddresses_.size()) return false;
  const config::SocketAddress& next = forwardAddresses_[forwardNext_++];
  logDebug("listener {}: {}: trying its next address {}", context_.listener.name,
           forward_->destText, next.text);
  resolved(next.sa(), next.length);
  return true;
}

void Exchange::denyForward(AclVerdict verdict) {
  context_.service.forwardRuleStats(verdict.rule).denied.add();
  forward_->verdict = std::move(verdict.reason);
  fail(makeError(ErrorCode::Denied), forward_->verdict);
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
