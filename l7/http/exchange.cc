#include "l7/http/exchange.h"

#include <fmt/format.h>

#include <cerrno>

#include "common/access_log.h"
#include "common/log.h"
#include "common/passive_reports.h"
#include "common/stats.h"
#include "common/worker.h"
#include "l7/error_pages.h"
#include "l7/headers.h"
#include "l7/http/connection_pool.h"
#include "l7/http/http_service.h"
#include "l7/router.h"

namespace ringlb::l7 {

Exchange::Exchange(ExchangeContext& context, const http::MessageHead& head)
    : context_(context), head_(head) {
  start_ = context_.service.worker().now();
  keepAlive_ = head.keepAlive && !context_.draining;
  route();
}

Exchange::Exchange(ExchangeContext& context, const http::MessageHead& head, Error rejected)
    : context_(context), head_(head) {
  start_ = context_.service.worker().now();
  keepAlive_ = false;
  fail(rejected);
}

Exchange::~Exchange() {
  // Destroyed early (the client went away, an abort): nothing is kept.
  if (conn_ != nullptr) dropBackend(false);
  releaseLease();
  context_.owner.setResponseDeadline({});
}

// --------------------------------------------------------------- routing

void Exchange::route() {
  if (head_.method == http::Method::Connect) {
    fail(makeError(ErrorCode::MethodNotAllowed));  // a reverse proxy has no CONNECT
    return;
  }
  RouteMatch match = Router(context_.listener)
                         .match({head_.authority, head_.path, head_.methodName, head_.headers});
  if (!match.found()) {
    fail(makeError(ErrorCode::NoRoute));
    return;
  }
  const uint64_t limit = context_.listener.maxBodySize;
  if (limit != 0 && head_.framing == http::BodyFraming::ContentLength &&
      head_.contentLength > limit) {
    fail(makeError(ErrorCode::BodyTooLarge));  // before any byte reaches a backend
    return;
  }
  route_ = match.route;
  pool_ = context_.config.findPool(*match.pool);
  poolState_ = context_.service.worker().pool(*match.pool);
  if (pool_ == nullptr || poolState_ == nullptr) {
    fail(makeError(ErrorCode::NoBackendUp));
    return;
  }
  requestBody_ = BodyRelay(head_, false, limit, parserLimits(context_.listener));
  keyHash_ = hashKey();
  // The upstream head: the client's X-Request-Id, or a new one.
  std::string generated;
  if (const http::HeaderView* given = head_.find("x-request-id")) {
    requestId_.assign(given->value);
  } else {
    HttpService& s = context_.service;
    generated = formatRequestId(s.nextRandom(), s.nextRandom());
    requestId_ = generated;
  }
  ForwardInfo info{context_.clientIp, context_.tls ? "https" : "http", generated,
                   context_.listener.bind.text};
  writeUpstreamRequestHead(head_, route_, info, upstreamHead_);
  context_.responseParser.reset();
  context_.responseParser.setRequestMethod(head_.method);
  pick();
}

std::optional<uint64_t> Exchange::hashKey() {
  if (pool_->balance != config::BalanceAlgorithm::Hash) return std::nullopt;
  std::vector<upstream::HeaderField> fields;
  fields.reserve(head_.headers.size());
  for (const auto& f : head_.headers) fields.push_back({f.name, f.value});
  upstream::RequestKeyView view{context_.clientIp, head_.target, fields};
  auto key = upstream::extractHashKey(pool_->hashKey, view);
  if (!key) return std::nullopt;
  return upstream::hashBytes(*key);
}

// ------------------------------------------------------- picking a backend

void Exchange::pick() {
  Worker& worker = context_.service.worker();
  auto picked = poolState_->acquire(worker.now(), keyHash_, &tried_);
  if (!picked.ok()) {
    // AllTried: every backend failed this request; its last failure answers.
    bool noneUp = picked.failure == upstream::PickFailure::NoBackendUp;
    fail(noneUp ? makeError(ErrorCode::NoBackendUp)
                : lastError_.value_or(makeError(ErrorCode::ConnectFailed)));
    return;
  }
  lease_ = std::move(picked.lease);
  leasePool_ = poolState_;
  backendKey_.assign(lease_.backend().address);
  backendStats_ = &context_.service.backendStats(pool_->name, backendKey_);
  backendStats_->requests.add();
  backendStats_->active.add();
  attemptStart_ = worker.now();
  waiting_ = true;
  ConnectionPool& pool = context_.service.connections();
  // After a dead keep-alive connection, the once-more goes on a fresh one.
  BackendConnection* idle = retried_ ? nullptr : pool.take(backendKey_, context_.owner);
  if (idle != nullptr) {
    startAttempt(idle);
    return;
  }
  conn_ = pool.open(backendKey_);
  conn_->connect(lease_.backend().resolved, pool_->connectTimeout, context_.owner);
}

void Exchange::startAttempt(BackendConnection* conn) {
  Worker& worker = context_.service.worker();
  waiting_ = false;
  conn_ = conn;
  backendBytesAtStart_ = conn_->stream().bytesReceived();
  conn_->stream().limitBy(nullptr);
  context_.client.limitBy(&conn_->stream());  // a slow backend slows the client's upload
  conn_->stream().limitBy(&context_.client);  // a slow client slows the backend's response
  conn_->stream().startReceiving();
  conn_->stream().out().append(upstreamHead_);
  attemptStart_ = worker.now();
  context_.owner.setResponseDeadline(worker.now() + context_.listener.responseTimeout);
}

void Exchange::onBackendEvent(BackendConnection& conn, StreamEvent event) {
  if (&conn != conn_ || failure_ || done_) return;
  switch (event) {
    case StreamEvent::Connected:
      connectTime_ = std::chrono::duration_cast<std::chrono::microseconds>(
          context_.service.worker().now() - attemptStart_);
      startAttempt(conn_);
      break;
    case StreamEvent::Error:
      if (waiting_) {
        connectFailed(conn.stream().error());
      } else if (!responseHeadDone_ || !responseBody_.done()) {
        checkBackendEnd();
      }
      break;
    case StreamEvent::Drained:
      if (!responseHeadDone_ && !waiting_) {
        // The backend is taking the request: the response timeout counts
        // from its last progress.
        Worker& worker = context_.service.worker();
        context_.owner.setResponseDeadline(worker.now() + context_.listener.responseTimeout);
      }
      break;
    default: break;
  }
}

void Exchange::connectFailed(int err) {
  Error error = connectError(err);
  logDebug("listener {}: connect to {} failed: {}", context_.listener.name, backendKey_,
           std::strerror(err));
  waiting_ = false;
  conn_->close();
  conn_ = nullptr;
  noteBackendFault(error);
  tried_.add(lease_.id());
  releaseLease();
  lastError_ = error;
  // Another primary first, then a backup (PoolState falls back to backups
  // once every serving primary is in tried_).
  if (error.retryable && ++connectAttempts_ <= pool_->retries) {
    pick();
    return;
  }
  fail(error);
}

void Exchange::noteBackendFault(const Error& error) {
  if (backendStats_ != nullptr) backendStats_->connectFailures.add();
  reportPassiveFailure(pool_->name, backendKey_, error.name());
}

// A backend that failed after the connect (closed, reset, timed out, broke
// the protocol): retried once when nothing was lost, else the error answers.
void Exchange::backendFailed(Error error) {
  bool reused = conn_ != nullptr && conn_->reuses() > 0;
  bool nothingBack = conn_ == nullptr || conn_->stream().bytesReceived() == backendBytesAtStart_;
  // A stale keep-alive connection is not the backend's fault; anything else is.
  if (!reused) noteBackendFault(error);
  // A reused connection that fails may also be its backend dying (SIGKILL):
  // the retry goes to another backend, unless this one is the only one serving.
  bool others = leasePool_ != nullptr && leasePool_->backends().serving().size() > 1;
  if (lease_ && (!reused || others)) tried_.add(lease_.id());
  dropBackend(false);
  releaseLease();
  context_.owner.setResponseDeadline({});
  bool idempotent = isIdempotent(head_.method);
  bool canRetry =
      error.retryable && !retried_ && idempotent && !requestBody_.started() && nothingBack;
  if (canRetry) {
    // A reused keep-alive connection the backend had closed, or a backend
    // that failed before answering: once more, on a fresh connection.
    retried_ = true;
    lastError_ = error;
    pick();
    return;
  }
  fail(error);
}

void Exchange::fail(Error error) {
  if (failure_) return;
  failure_ = error;
  if (auto reason = error.rejectReason()) {
    context_.service.stats().rejected[static_cast<size_t>(*reason)].add();
  }
  if (conn_ != nullptr) dropBackend(false);
  releaseLease();
  context_.owner.setResponseDeadline({});
}

void Exchange::onResponseTimeout() {
  if (failure_ || done_ || responseHeadDone_) return;
  if (waiting_) return;  // the connect has its own timeout
  logDebug("listener {}: backend {} did not answer in time", context_.listener.name, backendKey_);
  backendFailed(makeError(ErrorCode::ResponseTimeout));
}

// -------------------------------------------------------------- the relay

void Exchange::step() {
  if (failure_ || done_ || upgraded_) return;
  if (conn_ == nullptr || waiting_) return;
  sendRequest();
  if (failure_) return;
  if (!responseHeadDone_) parseResponseHead();
  if (failure_ || upgraded_) return;
  if (responseHeadDone_) {
    // The head (queued by onResponseHead) and the body bytes at hand leave
    // in one send.
    if (responseBody_.pump(conn_->stream().in(), context_.client.out()) > 0) {
      conn_->stream().refresh();
    }
    context_.client.flush();
  }
  checkBackendEnd();
  if (failure_ || conn_ == nullptr) return;
  // The response is relayed and sent. A request body still coming makes
  // the connection close after this answer (keepAlive() is false then).
  if (responseHeadDone_ && responseBody_.done() && context_.client.sendIdle()) done_ = true;
}

void Exchange::sendRequest() {
  Stream& backend = conn_->stream();
  if (!requestBody_.done()) {
    size_t before = context_.client.in().size();
    requestBody_.pump(context_.client.in(), backend.out());
    if (requestBody_.failed()) {
      fail(makeError(ErrorCode::BadRequest));
      return;
    }
    if (requestBody_.overLimit()) {
      // The upstream request is aborted (its connection closed mid-body);
      // the client gets 413 unless the response already started.
      fail(makeError(ErrorCode::BodyTooLarge));
      return;
    }
    if (context_.client.in().size() != before) context_.client.refresh();
  }
  backend.flush();
}

void Exchange::parseResponseHead() {
  ByteQueue& in = conn_->stream().in();
  http::Http1Parser& parser = context_.responseParser;
  while (!in.empty() && !responseHeadDone_) {
    http::ParseResult r = parser.feed(in.front());
    if (r.status == http::ParseStatus::Error) {
      logDebug("listener {}: bad response from {}: {}", context_.listener.name, backendKey_,
               http::errorName(r.error));
      backendFailed(makeError(ErrorCode::InvalidResponse));
      return;
    }
    in.consume(r.consumed);
    if (r.status == http::ParseStatus::HeadComplete) {
      onResponseHead();
      if (failure_ || upgraded_) return;
    }
  }
}

void Exchange::onResponseHead() {
  const http::MessageHead& h = context_.responseParser.head();
  if (h.status == 101) {
    if (head_.wantsUpgrade()) {
      startTunnel();
    } else {
      backendFailed(makeError(ErrorCode::InvalidResponse));  // a switch nobody asked for
    }
    return;
  }
  bool client10 = head_.version == http::Version::Http10;
  if (h.isInterim()) {
    // 100 Continue goes to a client that asked for it; other 1xx to HTTP/1.1
    // clients. Then the final response follows on the same connection.
    if (!client10 && (h.status != 100 || head_.expectContinue)) {
      std::string interim;
      writeClientResponseHead(h, nullptr, {}, interim);
      context_.client.write(interim);
    }
    context_.responseParser.reset();
    context_.responseParser.setRequestMethod(head_.method);
    return;
  }
  Worker& worker = context_.service.worker();
  context_.owner.setResponseDeadline({});
  responseTime_ =
      std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - attemptStart_);
  responseHeadDone_ = true;
  responseStarted_ = true;
  status_ = h.status;
  backendKeepAlive_ = h.keepAlive;
  // HTTP/1.0 has no chunked: its payload goes out bare, then the close ends it.
  bool dechunk = client10 && h.framing == http::BodyFraming::Chunked;
  responseBody_ = BodyRelay(h, dechunk, 0, parserLimits(context_.listener));
  if (dechunk || h.framing == http::BodyFraming::UntilClose || !requestBody_.done()) {
    keepAlive_ = false;  // the close delimits, or answered before the body ended
  }
  ResponseHeadOptions options;
  options.close = !keepAlive_ || context_.draining;
  options.keepAlive = client10 && !options.close;
  options.dechunk = dechunk;
  std::string clientHead;
  clientHead.reserve(512);
  writeClientResponseHead(h, route_, options, clientHead);
  context_.client.out().append(clientHead);
}

void Exchange::startTunnel() {
  context_.owner.setResponseDeadline({});
  responseTime_ = std::chrono::duration_cast<std::chrono::microseconds>(
      context_.service.worker().now() - attemptStart_);
  status_ = 101;
  responseHeadDone_ = true;
  responseStarted_ = true;
  keepAlive_ = false;
  std::string clientHead;
  ResponseHeadOptions options;
  options.upgrade = true;
  writeClientResponseHead(context_.responseParser.head(), route_, options, clientHead);
  context_.client.write(clientHead);
  releaseLease();
  upgraded_ = true;  // the connection takes the backend and relays from here
}

void Exchange::checkBackendEnd() {
  Stream& backend = conn_->stream();
  bool ended = backend.eof() || backend.error() != 0;
  if (!ended || !backend.in().empty()) return;
  if (!responseHeadDone_) {
    // Closed or reset before a complete head: retried when nothing came back.
    backendFailed(makeError(ErrorCode::BackendClosed));
    return;
  }
  if (responseBody_.done()) return;
  if (responseBody_.untilClose() && backend.error() == 0) {
    responseBody_.closeSeen();  // a close-delimited body ends here
    return;
  }
  logDebug("listener {}: backend {} cut the response short", context_.listener.name, backendKey_);
  fail(makeError(ErrorCode::BackendTruncated));  // no clean end: the client sees the cut
}

// ----------------------------------------------------------------- the end

BackendConnection* Exchange::takeConnection() {
  BackendConnection* conn = conn_;
  conn_ = nullptr;
  context_.client.limitBy(nullptr);
  return conn;
}

void Exchange::dropBackend(bool reusable) {
  context_.client.limitBy(nullptr);
  if (reusable) {
    conn_->release();
  } else {
    conn_->close();
  }
  conn_ = nullptr;
}

void Exchange::releaseLease() {
  if (!lease_) return;
  if (backendStats_ != nullptr) backendStats_->active.sub();
  leasePool_->release(lease_);
}

void Exchange::finish(uint16_t statusSent, uint64_t bytesSent) {
  if (finished_) return;
  finished_ = true;
  if (conn_ != nullptr) {
    Stream& backend = conn_->stream();
    bool reusable = done_ && backendKeepAlive_ && requestBody_.done() && backend.sendIdle() &&
                    backend.in().empty() && !backend.eof() && backend.error() == 0;
    if (statusSent < 500) reportPassiveSuccess(pool_->name, backendKey_);
    dropBackend(reusable);
  }
  releaseLease();
  Worker& worker = context_.service.worker();
  context_.service.stats().countRequest(statusSent);
  context_.service.stats().requestDuration.observe(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - start_).count()));
  logAccess(statusSent, bytesSent);
}

void Exchange::logAccess(uint16_t status, uint64_t bytesSent) {
  AccessLog& log = AccessLog::global();
  if (!log.enabled()) return;
  Worker& worker = context_.service.worker();
  char route[32] = "-";
  if (route_ != nullptr) {
    auto index = route_ - context_.listener.routes.data();
    *fmt::format_to_n(route, sizeof route - 1, "routes[{}]", index).out = '\0';
  }
  AccessRecord r;
  r.time = std::chrono::system_clock::now();
  r.client = context_.clientAddr;
  r.listener = context_.listener.name;
  r.route = route;
  r.pool = pool_ != nullptr ? std::string_view(pool_->name) : "-";
  r.backend = backendKey_.empty() ? std::string_view("-") : backendKey_;
  r.method = head_.methodName;
  r.path = head_.path.empty() ? head_.target : head_.path;
  r.status = status;
  r.bytesIn = context_.headBytes + requestBody_.taken();
  r.bytesOut = bytesSent;
  r.duration = std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - start_);
  r.upstreamConnect = connectTime_;
  r.upstreamResponse = responseTime_;
  r.requestId = requestId_.empty() ? std::string_view("-") : requestId_;
  if (failure_) r.error = failure_->name();
  log.append(worker.index(), r, context_.service.accessLine());
}

}  // namespace ringlb::l7
