// HttpSession, request side: parse the head, route it, prepare the
// upstream head and the body framing; end an exchange and get ready for the
// next (keep-alive, pipelining).
#include "common/log.h"
#include "common/passive_reports.h"
#include "common/worker.h"
#include "l7/error_pages.h"
#include "l7/headers.h"
#include "l7/http_service.h"
#include "l7/http_session.h"
#include "l7/router.h"
#include "l7/upstream_pool.h"

namespace ringlb::l7 {

void HttpSession::parseRequestHead() {
  while (!req_.in.empty()) {
    std::string_view bytes = frontBytes(req_.in);
    http::ParseResult r = reqParser_.feed(bytes);
    if (r.status == http::ParseStatus::Error) {
      logDebug("listener {}: bad request from {}: {}", service_.name(), clientIp_,
               http::errorName(r.error));
      fail(makeError(requestErrorCode(r.error)));
      return;
    }
    consume(req_.in, r.consumed);
    reqHeadBytes_ += r.consumed;
    if (r.status == http::ParseStatus::HeadComplete) {
      startRequest();
      return;
    }
  }
}

void HttpSession::startRequest() {
  Worker& worker = service_.worker();
  const http::MessageHead& h = reqParser_.head();
  requestStart_ = worker.now();
  exchangeOpen_ = true;
  state_ = State::Proxying;
  worker.timers().schedule(clientTimer_, worker.now() + idleTimeout_);
  client10_ = h.version == http::Version::Http10;
  clientKeepAlive_ = h.keepAlive && !draining_;
  idempotent_ = isIdempotent(h.method);
  expectContinue_ = h.expectContinue;
  wantsUpgrade_ = h.wantsUpgrade();
  setRequestFraming(h);
  if (h.method == http::Method::Connect) {
    fail(makeError(ErrorCode::MethodNotAllowed));
    return;
  }
  RouteMatch match = Router(*listener_).match({h.authority, h.path, h.methodName, h.headers});
  if (!match.found()) {
    fail(makeError(ErrorCode::NoRoute));
    return;
  }
  const uint64_t limit = listener_->maxBodySize;
  if (limit != 0 && h.framing == http::BodyFraming::ContentLength && h.contentLength > limit) {
    fail(makeError(ErrorCode::BodyTooLarge));  // before any byte reaches a backend
    return;
  }
  route_ = match.route;
  pool_ = config_->findPool(*match.pool);
  poolState_ = worker.pool(*match.pool);
  if (pool_ == nullptr || poolState_ == nullptr) {
    fail(makeError(ErrorCode::NoBackendUp));
    return;
  }
  keyHash_ = hashKeyOf(h);
  buildUpstreamHead(h);
  respParser_.reset();
  respParser_.setRequestMethod(h.method);
  needUpstream_ = true;
}

void HttpSession::setRequestFraming(const http::MessageHead& h) {
  req_.bodyStarted = false;
  req_.dropFraming = false;
  req_.bodyLimit = listener_->maxBodySize;
  req_.overLimit = false;
  switch (h.framing) {
    case http::BodyFraming::ContentLength:
      req_.framing = Framing::Length;
      req_.length = http::LengthBody(h.contentLength);
      req_.bodyDone = h.contentLength == 0;
      break;
    case http::BodyFraming::Chunked:
      req_.framing = Framing::Chunked;
      req_.chunked.reset();
      req_.bodyDone = false;
      break;
    default:
      req_.framing = Framing::None;
      req_.bodyDone = true;
      break;
  }
}

void HttpSession::buildUpstreamHead(const http::MessageHead& h) {
  std::string requestId;
  if (const http::HeaderView* given = h.find("x-request-id")) {
    requestId_.assign(given->value);
  } else {
    requestId = formatRequestId(service_.nextRandom(), service_.nextRandom());
    requestId_ = requestId;
  }
  ForwardInfo info{clientIp_, tls_ != nullptr ? "https" : "http", requestId, listener_->bind.text};
  upstreamHead_.clear();
  writeUpstreamRequestHead(h, route_, info, upstreamHead_);
}

std::optional<uint64_t> HttpSession::hashKeyOf(const http::MessageHead& h) {
  if (pool_->balance != config::BalanceAlgorithm::Hash) return std::nullopt;
  hashFields_.clear();
  for (const auto& f : h.headers) hashFields_.push_back({f.name, f.value});
  upstream::RequestKeyView view{clientIp_, h.target, hashFields_};
  auto key = upstream::extractHashKey(pool_->hashKey, view);
  if (!key) return std::nullopt;
  return upstream::hashBytes(*key);
}

void HttpSession::finishExchange() {
  Worker& worker = service_.worker();
  bool reusable = conn_ != nullptr && respKeepAlive_ && req_.bodyDone && req_.flushed() &&
                  resp_.in.empty() && !upEof_ && upError_ == 0;
  if (conn_ != nullptr && status_ < 500) reportPassiveSuccess(pool_->name, backendKey_);
  if (reusable) {
    service_.upstreams().release(*conn_);
    conn_ = nullptr;
  } else {
    dropUpstream();
  }
  releaseLease();
  worker.timers().cancel(upstreamTimer_);
  stats_.countRequest(status_);
  stats_.requestDuration.observe(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - requestStart_).count()));
  logRequest();
  if (closeAfter_ || !clientKeepAlive_ || !req_.bodyDone || draining_) {
    // With nothing unread from the client, close at once (as NGINX does): a
    // lingering close (shutdown, then wait for the client's FIN) only guards a
    // response against the reset that closing with unread bytes sends, and
    // costs a syscall and a wake-up per connection. TLS lingers: close_notify.
    if (!closeAfter_ && req_.bodyDone && req_.in.empty() && tls_ == nullptr) {
      close();
      return;
    }
    startLingering();
    return;
  }
  resetExchange();
  startReadingHead();
}

void HttpSession::resetExchange() {
  reqParser_.reset();
  route_ = nullptr;
  pool_ = nullptr;
  backendKey_.clear();
  tried_.clear();
  keyHash_.reset();
  status_ = 0;
  error_.reset();
  connectAttempts_ = 0;
  respBytes_ = 0;
  reqHeadBytes_ = 0;
  respSentBytes_ = 0;
  req_.bodyBytes = 0;
  requestId_.clear();
  connectTime_.reset();
  responseTime_.reset();
  headStarted_ = false;
  needUpstream_ = false;
  retried_ = false;
  forceFresh_ = false;
  respHeadDone_ = false;
  respKeepAlive_ = false;
  closeAfter_ = false;
  req_.framing = Framing::None;
  req_.bodyDone = true;
  resp_.framing = Framing::None;
  resp_.bodyDone = true;
  resp_.dropFraming = false;
}

void HttpSession::startReadingHead() {
  Worker& worker = service_.worker();
  state_ = State::ReadingHead;
  headStarted_ = !req_.in.empty();  // a pipelined request already started
  auto limit = headStarted_ ? listener_->headerTimeout : idleTimeout_;
  worker.timers().schedule(clientTimer_, worker.now() + limit);
}

}  // namespace ringlb::l7
