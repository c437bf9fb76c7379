#include "l7/forward_session.h"

#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "common/error.h"
#include "common/log.h"
#include "common/socket.h"
#include "common/worker.h"
#include "l7/error_pages.h"
#include "l7/forward_service.h"

namespace ringlb::l7 {
namespace {

// A reply the client does not take within this is dropped with the connection.
constexpr auto kReplyTimeout = std::chrono::seconds(5);

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

AccessEnd endFor(RejectReason reason) {
  switch (reason) {
    case RejectReason::Denied: return AccessEnd::Denied;
    case RejectReason::HeaderTimeout: return AccessEnd::HeaderTimeout;
    default: return AccessEnd::BadRequest;
  }
}

}  // namespace

ForwardSession::ForwardSession(ForwardService& service, int clientFd)
    : service_(service), clientFd_(clientFd) {}

ForwardSession::~ForwardSession() = default;

void ForwardSession::start() {
  Worker& worker = service_.worker();
  worker.addSession(*this);
  registered_ = true;
  start_ = worker.now();
  if (AccessLog::global().enabled()) {  // now: after a reset the socket forgets its peer
    socklen_t len = sizeof client_;
    if (getpeername(clientFd_, reinterpret_cast<sockaddr*>(&client_), &len) != 0) client_ = {};
  }
  settings_ = service_.settings();
  parser_ = std::make_unique<http::Http1Parser>(http::MessageKind::Request, settings_->limits);
  headBuf_ = std::make_unique<char[]>(kHeadChunk);
  touch();
  worker.timers().schedule(headerTimer_, worker.now() + settings_->headerTimeout);
  armHeadRecv();
}

void ForwardSession::armHeadRecv() {
  service_.worker().ring().recv(headRecvOp_, clientFd_, headBuf_.get(), kHeadChunk);
}

void ForwardSession::onHeadRecv(Op& op) {
  if (state_ != State::ReadingHead) return;
  if (op.result <= 0) {  // gone before a whole head: nobody to answer
    if (headBytes_ > 0)
      service_.stats().rejected[static_cast<size_t>(RejectReason::BadRequest)].add();
    close(op.result == 0 ? AccessEnd::ClientClosed : accessEndForError(-op.result, true));
    return;
  }
  auto n = static_cast<size_t>(op.result);
  headBytes_ += n;
  bytesIn_ += n;
  service_.stats().bytesIn.add(n);
  std::string_view input(headBuf_.get(), n);
  http::ParseResult r = parser_->feed(input);
  if (r.status == http::ParseStatus::NeedMore) {
    armHeadRecv();
    return;
  }
  if (r.status == http::ParseStatus::Error) {
    reject(requestErrorCode(r.error),
           fmt::format("malformed request ({})", http::errorName(r.error)));
    return;
  }
  service_.worker().timers().cancel(headerTimer_);
  onHead(input.substr(r.consumed));
}

void ForwardSession::onHead(std::string_view rest) {
  const http::MessageHead& head = parser_->head();
  method_ = head.method;
  noteRequest(head);
  if (head.method == http::Method::Connect) {
    auto dest = parseAuthority(head.authority, 0);
    if (!dest) {
      reject(ErrorCode::BadRequest, "CONNECT needs a target of the form host:port");
      return;
    }
    tunnel_ = true;
    early_.assign(rest);
    startConnect(*dest, true);
    return;
  }
  if (head.targetForm != http::TargetForm::Absolute) {
    reject(ErrorCode::BadRequest,
           "this is a forward proxy: send CONNECT host:port or an absolute URI "
           "(GET http://host/path)");
    return;
  }
  std::string why;
  auto dest = absoluteTarget(head, &why);
  if (!dest) {
    reject(ErrorCode::BadRequest, why);
    return;
  }
  const uint64_t limit = settings_->maxBodySize;
  if (limit != 0 && head.framing == http::BodyFraming::ContentLength &&
      head.contentLength > limit) {
    bodyTooLarge();  // before anything reaches the origin
    return;
  }
  if (limit != 0 && head.framing == http::BodyFraming::Chunked) {
    requestBody_.emplace(head, settings_->limits);
  }
  early_ = originRequestHead(head, *dest);
  if (!withinBodyLimit(rest)) return;
  early_.append(rest);
  startConnect(*dest, false);
}

bool ForwardSession::withinBodyLimit(std::string_view bytes) {
  if (!requestBody_) return true;
  requestBody_->take(bytes);
  if (requestBody_->payloadBytes() <= settings_->maxBodySize) return true;
  bodyTooLarge();
  return false;
}

void ForwardSession::bodyTooLarge() {
  const Error error = makeError(ErrorCode::BodyTooLarge);
  if (responseHeadDone_) {
    close(AccessEnd::BodyTooLarge);  // the response started: only a reset is left
    return;
  }
  service_.stats().rejected[static_cast<size_t>(*error.rejectReason())].add();
  fail(error.code, AccessEnd::BodyTooLarge,
       fmt::format("the request body is larger than max_body_size ({} bytes)",
                   settings_->maxBodySize));
}

void ForwardSession::noteRequest(const http::MessageHead& head) {
  if (!AccessLog::global().enabled()) return;
  // Copies: the parser and its buffer go before the session ends.
  logMethod_.assign(head.methodName);
  logPath_.assign(head.path.empty() ? head.target : head.path);
}

void ForwardSession::startConnect(const Destination& dest, bool isConnect) {
  parser_.reset();  // its views are no longer needed; frees the head buffer
  headBuf_.reset();
  dest_ = dest;
  const ForwardAcl& acl = settings_->acl;
  if (auto refused = acl.refuseEarly(dest.host, dest.port, isConnect)) {
    aclVerdict_ = std::move(refused->reason);
    reject(ErrorCode::Denied, aclVerdict_);
    return;
  }
  if (IpAddress::parse(dest.host)) {
    AclVerdict v = acl.check(dest.host, nullptr, dest.port, isConnect);
    aclVerdict_ = std::move(v.reason);
    if (!v.allowed) {
      reject(ErrorCode::Denied, aclVerdict_);
      return;
    }
    sockaddr_storage addr{};
    socklen_t length = 0;
    if (!literalAddress(dest, addr, length)) {
      reject(ErrorCode::BadRequest, "unusable IP address");
      return;
    }
    onResolvedAddress(reinterpret_cast<const sockaddr*>(&addr), length);
    return;
  }
  state_ = State::Resolving;
  resolveJob_ = std::make_shared<ResolveJob>();
  resolveJob_->host = dest.host;
  resolveJob_->port = dest.port;
  resolveJob_->waiter = this;
  service_.resolver().resolve(resolveJob_);
  // A name that resolves slowly (or a resolver stuck behind one) must not hold
  // the connection forever: resolving gets its own connect_timeout window.
  Worker& worker = service_.worker();
  worker.timers().schedule(connectTimer_, worker.now() + settings_->connectTimeout);
}

void ForwardSession::onResolved(const ResolveJob& job) {
  resolveJob_.reset();
  if (state_ == State::Resolving) {
    auto ip = job.ok() ? IpAddress::fromSockaddr(reinterpret_cast<const sockaddr*>(&job.address))
                       : std::nullopt;
    if (!ip) {
      fail(ErrorCode::ResolveFailed, AccessEnd::ResolveFailed,
           fmt::format("cannot resolve {}: {}", dest_.host,
                       job.ok() ? "unsupported address" : job.error));
    } else {
      AclVerdict v = settings_->acl.check(dest_.host, &*ip, dest_.port, tunnel_);
      aclVerdict_ = std::move(v.reason);
      if (!v.allowed) {
        reject(ErrorCode::Denied, aclVerdict_);
      } else {
        onResolvedAddress(reinterpret_cast<const sockaddr*>(&job.address), job.length);
      }
    }
  }
  maybeFree();  // called from the mailbox, not from onCompletion()
}

void ForwardSession::onResolvedAddress(const sockaddr* addr, socklen_t length) {
  state_ = State::Connecting;
  std::memcpy(&upstreamAddress_, addr, length);
  upstreamLength_ = length;
  upstreamFd_ = openTcpSocket(addr->sa_family);
  if (upstreamFd_ < 0) {
    fail(ErrorCode::ConnectFailed, AccessEnd::ConnectFailed,
         fmt::format("cannot open a socket: {}", std::strerror(-upstreamFd_)));
    return;
  }
  Worker& worker = service_.worker();
  worker.ring().connect(connectOp_, upstreamFd_,
                        reinterpret_cast<const sockaddr*>(&upstreamAddress_), upstreamLength_);
  worker.timers().schedule(connectTimer_, worker.now() + settings_->connectTimeout);
}

void ForwardSession::onConnect(Op& op) {
  service_.worker().timers().cancel(connectTimer_);
  if (state_ != State::Connecting) return;
  if (op.result == -ECANCELED) {
    fail(ErrorCode::ConnectTimeout, AccessEnd::ConnectTimeout,
         fmt::format("connecting to {}:{} timed out", dest_.host, dest_.port));
  } else if (op.result < 0) {
    fail(connectError(-op.result).code, AccessEnd::ConnectFailed,
         fmt::format("cannot connect to {}:{}: {}", dest_.host, dest_.port,
                     std::strerror(-op.result)));
  } else {
    startProxying();
  }
}

void ForwardSession::startProxying() {
  Worker& worker = service_.worker();
  state_ = State::Proxying;
  setNoDelay(upstreamFd_);
  touch();
  up_.queue.setPrefix(std::move(early_));
  if (tunnel_) {
    down_.queue.setPrefix("HTTP/1.1 200 Connection established\r\n\r\n");
    service_.stats().countRequest(200);
    status_ = 200;
  } else {
    parser_ = std::make_unique<http::Http1Parser>(http::MessageKind::Response, settings_->limits);
    parser_->setRequestMethod(method_);
    worker.timers().schedule(responseTimer_, worker.now() + settings_->responseTimeout);
  }
  for (Direction* d : {&up_, &down_}) {
    if (d->pending()) sendQueued(*d);
    armRecv(*d);
  }
  worker.timers().schedule(idleTimer_, lastActivity_ + settings_->idleTimeout);
}

void ForwardSession::reject(ErrorCode code, std::string_view detail) {
  RejectReason reason = makeError(code).rejectReason().value_or(RejectReason::Other);
  service_.stats().rejected[static_cast<size_t>(reason)].add();
  fail(code, endFor(reason), detail);
}

void ForwardSession::fail(ErrorCode code, AccessEnd end, std::string_view detail) {
  const uint16_t status = makeError(code).status();
  service_.stats().countRequest(status);
  logDebug("listener {}: {} {}", service_.name(), status, detail);
  status_ = status;
  reply_ = proxyResponse(status, detail);
  close(end);
}

void ForwardSession::onCompletion(Op& op) {
  if (&op == &headRecvOp_) {
    onHeadRecv(op);
  } else if (&op == &replyOp_) {
    onReplySent(op);
  } else if (op.kind == OpKind::Connect) {
    onConnect(op);
  } else if (op.kind == OpKind::Recv) {
    onRecv(directionOf(op), op);
  } else if (op.kind == OpKind::Send) {
    onSend(directionOf(op), op);
  }  // cancels: their targets complete on their own ops
  maybeFree();
}

void ForwardSession::onTimer(Timer& timer) {
  Worker& worker = service_.worker();
  switch (timer.id()) {
    case kHeaderTimer:
      if (state_ == State::ReadingHead) {
        reject(ErrorCode::HeadTimeout, "the request head did not arrive in time");
      }
      break;
    case kConnectTimer:
      if (state_ == State::Resolving) {
        fail(ErrorCode::ResolveTimeout, AccessEnd::ResolveTimeout,
             fmt::format("resolving {} timed out", dest_.host));
      } else if (connectOp_.inFlight()) {
        worker.ring().cancelOp(cancelConnectOp_, connectOp_);
      }
      break;
    case kResponseTimer:
      if (state_ == State::Proxying && !responseHeadDone_) {
        fail(ErrorCode::ResponseTimeout, AccessEnd::ResponseTimeout,
             "the origin sent no response head within response_timeout");
      }
      break;
    case kIdleTimer:
      if (state_ != State::Proxying) break;
      if (worker.now() - lastActivity_ >= settings_->idleTimeout) {
        close(AccessEnd::IdleTimeout);
      } else {
        worker.timers().schedule(idleTimer_, lastActivity_ + settings_->idleTimeout);
      }
      break;
    case kRearmTimer:
      for (Direction* d : {&up_, &down_}) {
        if (d->needRearm) armRecv(*d);
      }
      break;
    case kReplyTimer:
      if (replyOp_.inFlight()) worker.ring().cancelOp(cancelReplyOp_, replyOp_);
      break;
    default: break;
  }
  maybeFree();
}

void ForwardSession::beginDrain() {
  draining_ = true;
  // A connection that has not started a request yet has nothing to finish.
  if (state_ == State::ReadingHead && headBytes_ == 0) {
    close(AccessEnd::Drained);  // no request: no access log line
    maybeFree();
  }
}

void ForwardSession::abort() {
  if (state_ == State::Closing) {
    // Only a reply can be left: give it up.
    replyDone_ = true;
    if (replyOp_.inFlight()) service_.worker().ring().cancelOp(cancelReplyOp_, replyOp_);
    return;
  }
  reply_.clear();
  close(AccessEnd::DrainAborted);
  maybeFree();
}

void ForwardSession::close(AccessEnd why) {
  if (state_ == State::Closing) return;
  state_ = State::Closing;
  end_ = why;
  Worker& worker = service_.worker();
  for (Timer* t : {&headerTimer_, &connectTimer_, &responseTimer_, &idleTimer_, &rearmTimer_}) {
    worker.timers().cancel(*t);
  }
  if (resolveJob_) {
    resolveJob_->waiter = nullptr;
    resolveJob_->cancelled.store(true, std::memory_order_relaxed);
    resolveJob_.reset();
  }
  // The fds are closed once every CQE (cancelled ops and the cancels) is back.
  if (clientFd_ >= 0) worker.ring().cancelFd(cancelClientOp_, clientFd_);
  if (upstreamFd_ >= 0) worker.ring().cancelFd(cancelUpstreamOp_, upstreamFd_);
}

void ForwardSession::maybeFree() {
  if (state_ != State::Closing || opsInFlight() != 0) return;
  Worker& worker = service_.worker();
  if (!reply_.empty() && !replyDone_) {
    if (!replyTimer_.armed()) worker.timers().schedule(replyTimer_, worker.now() + kReplyTimeout);
    sendReply();
    return;
  }
  worker.timers().cancel(replyTimer_);
  for (Direction* d : {&up_, &down_}) d->queue.clear(worker);
  logAccess();
  if (clientFd_ >= 0) worker.ring().closeDetached(clientFd_);
  if (upstreamFd_ >= 0) worker.ring().closeDetached(upstreamFd_);
  if (registered_) worker.removeSession(*this);
  service_.forwardSessionEnded();
  delete this;
}

void ForwardSession::sendReply() {
  service_.worker().ring().send(replyOp_, clientFd_, reply_.data() + replySent_,
                                reply_.size() - replySent_);
}

void ForwardSession::onReplySent(Op& op) {
  if (replyDone_) return;
  if (op.result <= 0) {
    replyDone_ = true;
    return;
  }
  service_.stats().bytesOut.add(static_cast<uint64_t>(op.result));
  bytesOut_ += static_cast<uint64_t>(op.result);
  replySent_ += static_cast<size_t>(op.result);
  if (replySent_ < reply_.size()) {
    sendReply();
    return;
  }
  replyDone_ = true;
  ::shutdown(clientFd_, SHUT_WR);
}

void ForwardSession::logAccess() {
  AccessLog& log = AccessLog::global();
  if (!log.enabled() || headBytes_ == 0) return;  // no request, no line
  Worker& worker = service_.worker();
  std::array<char, kAddressTextSize> clientText;
  std::array<char, kAddressTextSize> backendText;
  char destination[320];
  size_t destinationLength = 0;
  if (!dest_.host.empty()) {
    bool v6 = dest_.host.find(':') != std::string::npos;
    auto r = fmt::format_to_n(destination, sizeof destination, "{}{}{}:{}", v6 ? "[" : "",
                              dest_.host, v6 ? "]" : "", dest_.port);
    destinationLength = std::min(r.size, sizeof destination);
  }
  AccessRecord r;
  r.mode = AccessMode::Forward;
  r.time = std::chrono::system_clock::now();
  r.client = formatAddress(
      client_.ss_family != 0 ? reinterpret_cast<const sockaddr*>(&client_) : nullptr, clientText);
  r.listener = service_.name();
  r.method = logMethod_;
  r.destination = {destination, destinationLength};
  r.path = logPath_;
  r.backend = formatAddress(
      upstreamLength_ > 0 ? reinterpret_cast<const sockaddr*>(&upstreamAddress_) : nullptr,
      backendText);
  r.status = status_;
  r.bytesIn = bytesIn_;
  r.bytesOut = bytesOut_;
  r.duration = std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - start_);
  r.acl = aclVerdict_;
  r.end = end_;
  log.append(worker.index(), r, service_.accessLine());
}

}  // namespace ringlb::l7
