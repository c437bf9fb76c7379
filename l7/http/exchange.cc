#include "l7/http/exchange.h"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/access_log.h"
#include "common/log.h"
#include "common/passive_reports.h"
#include "common/socket.h"
#include "common/stats.h"
#include "common/worker.h"
#include "l7/forward/forward_settings.h"
#include "l7/forward/forward_target.h"
#include "l7/http/connection_pool.h"
#include "l7/http/http_service.h"

namespace ringlb::l7 {

Exchange::Exchange(ExchangeContext& context, const http::MessageHead& head)
    : context_(context), head_(head) {
  timing_.start = context_.service.worker().now();
  keepAlive_ = head.keepAlive && !context_.draining;
  route();
}

Exchange::Exchange(ExchangeContext& context, const http::MessageHead& head, Error rejected)
    : context_(context), head_(head) {
  timing_.start = context_.service.worker().now();
  keepAlive_ = false;
  fail(rejected);
}

Exchange::~Exchange() {
  // Destroyed early (the client went away, an abort): nothing is kept.
  if (conn_ != nullptr) dropBackend(false);
  releaseLease();
  context_.owner.setResponseDeadline({});
}

// --------------------------------------------------------- the backend

void Exchange::startAttempt(Upstream* upstream) {
  Worker& worker = context_.service.worker();
  phase_ = Phase::Requesting;
  conn_ = upstream;
  backendBytesAtStart_ = conn_->bytesReceived();
  timing_.attempt = worker.now();
  if (forward_ && forward_->tunnel) {
    // CONNECT: the tunnel is open; the client's bytes after the head go first.
    context_.client.writeRaw("HTTP/1.1 200 Connection established\r\n\r\n");
    status_ = 200;
    phase_ = Phase::Responding;
    keepAlive_ = false;
    phase_ = Phase::Tunnel;
    return;
  }
  // Each side slows to the other's pace (a multiplexed upstream paces
  // through requestRoom() and its windows instead).
  context_.client.pair(conn_->pacedStream());
  if (Stream* stream = conn_->pacedStream()) stream->startReceiving();
  conn_->out().append(upstreamHead_);
  context_.owner.setResponseDeadline(worker.now() + context_.listener.responseTimeout);
}

void Exchange::onBackendEvent(Upstream& upstream, StreamEvent event) {
  if (&upstream != conn_ || failure_ || phase_ == Phase::Done) return;
  switch (event) {
    case StreamEvent::Connected:
      timing_.connect = std::chrono::duration_cast<std::chrono::microseconds>(
          context_.service.worker().now() - timing_.attempt);
      startAttempt(conn_);
      break;
    case StreamEvent::Error:
      if (phase_ == Phase::Waiting) {
        connectFailed(upstream.error());
      } else if (phase_ < Phase::Responding || !responseBody_.done()) {
        checkBackendEnd();
      }
      break;
    case StreamEvent::Drained:
      if (phase_ < Phase::Responding && phase_ != Phase::Waiting) {
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
  if (conn_->usesTls() && err == EPROTO) {
    // A backend that fails TLS is misconfigured or not who it should be.
    logWarn("listener {}: TLS to {} failed: {}", context_.listener.name, backendKey_,
            conn_->failureReason());
  } else {
    logDebug("listener {}: connect to {} failed: {}", context_.listener.name, backendKey_,
             std::strerror(err));
  }
  phase_ = Phase::Requesting;
  conn_->close();
  conn_ = nullptr;
  if (error.code == ErrorCode::NoSocket) {
    // This host is short of descriptors or memory: no backend is to blame,
    // and another would fail the same way.
    if (reportSocketShortageNow()) {
      logWarn(
          "listener {}: no socket for a backend connection: {}; requests get 503 until "
          "descriptors free up (raise LimitNOFILE, ulimit -n, fs.file-max)",
          context_.listener.name, std::strerror(err));
    }
    releaseLease();
    fail(error);
    return;
  }
  if (forward_) {
    // A name's next address, then no more: the client may try again.
    if (connectNextAddress()) return;
    fail(error, err == ETIMEDOUT ? fmt::format("connecting to {} timed out", forward_->destText)
                                 : fmt::format("cannot connect to {}: {}", forward_->destText,
                                               std::strerror(err)));
    return;
  }
  noteBackendFault(error);
  choice_.tried.add(choice_.lease.id());
  releaseLease();
  lastError_ = error;
  // Another primary first, then a backup (BackendSelector falls back to backups
  // once every serving primary is in choice_.tried).
  if (error.retryable && ++choice_.connectAttempts <= choice_.pool->retries) {
    pick();
    return;
  }
  fail(error);
}

void Exchange::backendFailed(Error error) {
  bool reused = conn_ != nullptr && conn_->reuses() > 0;
  bool nothingBack = conn_ == nullptr || conn_->bytesReceived() == backendBytesAtStart_;
  // A stale keep-alive connection is not the backend's fault; anything else is.
  if (!reused) noteBackendFault(error);
  // A reused connection that fails may also be its backend dying (SIGKILL):
  // the retry goes to another backend, unless this one is the only one serving.
  bool others =
      choice_.leaseSelector != nullptr && choice_.leaseSelector->backends().serving().size() > 1;
  if (choice_.lease && (!reused || others)) choice_.tried.add(choice_.lease.id());
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
    if (forward_) {
      connectTo(forward_->address, context_.forward->connectTimeout);
    } else {
      pick();
    }
    return;
  }
  fail(error);
}

void Exchange::fail(Error error, std::string detail) {
  if (failure_) return;
  if (cache_ && serveStaleOnError(error)) return;
  failure_ = error;
  failureDetail_ = std::move(detail);
  if (auto reason = error.rejectReason()) {
    context_.service.stats().rejected[static_cast<size_t>(*reason)].add();
  }
  if (conn_ != nullptr) dropBackend(false);
  releaseLease();
  context_.owner.setResponseDeadline({});
}

void Exchange::onResponseTimeout() {
  if (failure_ || phase_ == Phase::Done || phase_ >= Phase::Responding) return;
  if (cache_ && cache_->waiting) {
    cacheWaitOver();
    return;
  }
  if (forward_ && forward_->job) {
    fail(makeError(ErrorCode::ResolveTimeout),
         fmt::format("resolving {} timed out", forward_->dest.host));
    return;
  }
  if (phase_ == Phase::Waiting) return;  // the connect has its own timeout
  logDebug("listener {}: backend {} did not answer in time", context_.listener.name, backendKey_);
  backendFailed(makeError(ErrorCode::ResponseTimeout));
}

// -------------------------------------------------------------- the relay

void Exchange::step() {
  if (failure_ || phase_ == Phase::Done || phase_ == Phase::Tunnel) return;
  if (local_) {
    if (context_.client.responseSent()) phase_ = Phase::Done;
    return;
  }
  if (conn_ == nullptr || phase_ == Phase::Waiting) return;
  sendRequest();
  if (failure_) return;
  if (phase_ < Phase::Responding) parseResponseHead();
  if (failure_ || phase_ == Phase::Tunnel) return;
  if (phase_ >= Phase::Responding) {
    // The head (queued by onResponseHead) and the body bytes at hand leave
    // in one send.
    size_t room = context_.client.responseRoom();
    if (plain_) {
      pumpPayload(room);
      if (failure_) return;
    } else if (room > 0 &&
               responseBody_.pump(conn_->in(), context_.client.responseBody(), room) > 0) {
      conn_->refresh();
    }
    if (responseBody_.done() && (!plain_ || payloadEnded_)) signalComplete();
    context_.client.flushResponse();
  }
  checkBackendEnd();
  if (failure_ || conn_ == nullptr) return;
  // The response is relayed and sent. A request body still coming makes
  // the connection close after this answer (keepAlive() is false then).
  if (phase_ >= Phase::Responding && responseBody_.done() && context_.client.responseSent())
    phase_ = Phase::Done;
}

void Exchange::sendRequest() {
  Upstream& backend = *conn_;
  if (!requestBody_.done()) {
    ByteQueue& body = context_.client.requestBody();
    size_t before = body.size();
    size_t room = backend.requestRoom();
    if (room > 0) requestBody_.pump(body, backend.out(), room);
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
    if (body.size() != before) context_.client.requestTaken();
  }
  backend.flush();
}

http::Http1Parser& Exchange::responseParser() {
  if (responseParser_ == nullptr) {
    responseParser_ = &context_.owner.responseParser();
    responseParser_->reset();
    responseParser_->setRequestMethod(head_.method);
  }
  return *responseParser_;
}

void Exchange::parseResponseHead() {
  ByteQueue& in = conn_->in();
  if (in.empty()) return;  // the parser is asked for once a response byte came
  http::Http1Parser& parser = responseParser();
  while (!in.empty() && phase_ < Phase::Responding) {
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
      if (failure_ || phase_ == Phase::Tunnel) return;
    }
  }
}

void Exchange::onResponseHead() {
  const http::MessageHead& h = responseParser().head();
  if (h.status == 101) {
    if (forwardsUpgrade(head_) && context_.client.canTunnel()) {
      startTunnel();
    } else {
      backendFailed(makeError(ErrorCode::InvalidResponse));  // a switch nobody asked for
    }
    return;
  }
  bool client10 = head_.version == http::Version::Http10;
  if (h.isInterim()) {
    // 100 Continue goes to a client that asked for it; other 1xx to HTTP/1.1
    // and HTTP/2 clients. Then the final response follows.
    if (!client10 && (h.status != 100 || head_.expectContinue)) {
      context_.client.sendResponseHead(h, nullptr, {});
      context_.client.flushResponse();
    }
    responseParser().reset();
    responseParser().setRequestMethod(head_.method);
    return;
  }
  if (cache_ && cacheResponseHead(h)) return;
  Worker& worker = context_.service.worker();
  context_.owner.setResponseDeadline({});
  timing_.response =
      std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - timing_.attempt);
  phase_ = Phase::Responding;
  status_ = h.status;
  backendKeepAlive_ = h.keepAlive;
  // HTTP/1.0 has no chunked: its payload goes out bare, then the close ends
  // it. HTTP/2 frames the bare payload itself.
  bool bare = client10 || context_.client.payloadOnly();
  // A compressed body is payload into the encoder, re-chunked after it.
  const config::RouteConfig* route = choice_.route;
  bool compressing = route != nullptr && route->compress && !client10 && prepareCompression(h);
  bool capturing = cache_ && startCapture(h);
  bool dechunk = (bare || compressing || capturing) && h.framing == http::BodyFraming::Chunked;
  if (compressing || capturing) {
    // The body moves as payload (pumpPayload), re-chunked for HTTP/1.1.
    plain_.emplace(worker.bufferStore());
    chunkedOut_ = !bare && (compressing || h.framing == http::BodyFraming::Chunked);
  }
  responseBody_ = BodyRelay(h, dechunk, 0, parserLimits(context_.listener));
  if (context_.client.payloadOnly()) responseBody_.copyOut();
  if ((dechunk && bare) || h.framing == http::BodyFraming::UntilClose || !requestBody_.done()) {
    keepAlive_ = false;  // the close delimits, or answered before the body ended
  }
  ResponseHeadOptions options;
  options.close = !keepAlive_ || context_.draining;
  options.keepAlive = client10 && !options.close;
  options.dechunk = dechunk;
  if (forward_) options.via = kForwardVia;
  if (route != nullptr && (route->cors || route->compress || route->cache)) {
    sendEditedResponseHead(h, options);
    return;
  }
  context_.client.sendResponseHead(h, choice_.route, options);
}

void Exchange::startTunnel() {
  context_.owner.setResponseDeadline({});
  timing_.response = std::chrono::duration_cast<std::chrono::microseconds>(
      context_.service.worker().now() - timing_.attempt);
  status_ = 101;
  phase_ = Phase::Responding;
  keepAlive_ = false;
  ResponseHeadOptions options;
  options.upgrade = true;
  context_.client.sendResponseHead(responseParser().head(), choice_.route, options);
  context_.client.flushResponse();
  releaseLease();
  phase_ = Phase::Tunnel;  // the connection takes the backend and relays from here
}

void Exchange::checkBackendEnd() {
  Upstream& backend = *conn_;
  bool ended = backend.eof() || backend.error() != 0;
  if (!ended || !backend.in().empty()) return;
  if (phase_ < Phase::Responding) {
    // Closed or reset before a complete head: retried when nothing came back.
    backendFailed(makeError(ErrorCode::BackendClosed));
    return;
  }
  if (responseBody_.done()) return;
  if (responseBody_.untilClose() && backend.error() == 0) {
    responseBody_.closeSeen();  // a close-delimited body ends here
    if (plain_) {
      pumpPayload(0);  // the encoder's last bytes
      if (failure_) return;
    }
    signalComplete();
    context_.client.flushResponse();
    return;
  }
  logDebug("listener {}: backend {} cut the response short", context_.listener.name, backendKey_);
  fail(makeError(ErrorCode::BackendTruncated));  // no clean end: the client sees the cut
}

void Exchange::answerLocally(uint16_t status, std::span<const http::HeaderView> given,
                             std::string_view body, bool cors) {
  local_ = true;
  phase_ = Phase::Responding;
  status_ = status;
  // A request body that was not read makes the connection close after it.
  if (!requestBody_.done()) keepAlive_ = false;
  std::string length = std::to_string(body.size());
  std::vector<http::HeaderView> fields(given.begin(), given.end());
  if (!body.empty()) fields.push_back({"Content-Type", "text/plain; charset=utf-8"});
  if (status != 204 && status != 304) fields.push_back({"Content-Length", length});
  // A browser reads a 401 or 429 only with the CORS fields.
  if (cors && choice_.route != nullptr && choice_.route->cors) corsFields(fields);
  http::MessageHead response;
  response.status = status;
  response.reason = http::reasonPhrase(status);
  response.headers = fields;
  // HEAD gets the head alone (its Content-Length says what GET would get).
  bool head = head_.method == http::Method::Head;
  response.framing = head ? http::BodyFraming::None : http::BodyFraming::ContentLength;
  response.contentLength = body.size();
  ResponseHeadOptions options;
  options.close = !keepAlive_ || context_.draining;
  options.keepAlive = head_.version == http::Version::Http10 && !options.close;
  if (forwardMode()) options.via = kForwardVia;
  context_.client.sendResponseHead(response, nullptr, options);
  if (!head) context_.client.responseBody().append(body);
  signalComplete();
  context_.client.flushResponse();
}

// The client side hears once that the body is all there (with its trailers).
void Exchange::signalComplete() {
  if (completeSignalled_) return;
  completeSignalled_ = true;
  if (cache_ && !local_) endCapture();
  if (!responseBody_.trailers().empty()) context_.client.responseTrailers(responseBody_.trailers());
  context_.client.responseComplete();
}

// ----------------------------------------------------------------- the end

bool Exchange::requestFlushed() const {
  if (failure_ || conn_ == nullptr) return true;
  if (phase_ == Phase::Waiting) return false;  // sent once connected
  return context_.client.requestBody().empty() && conn_->sendIdle();
}

BackendConnection* Exchange::takeConnection() {
  BackendConnection* conn = conn_->connection();
  conn_ = nullptr;
  context_.client.pair(nullptr);
  return conn;
}

void Exchange::dropBackend(bool reusable) {
  context_.client.pair(nullptr);
  if (reusable) {
    conn_->release();
  } else {
    conn_->close();
  }
  conn_ = nullptr;
}

void Exchange::finish(uint16_t statusSent, uint64_t bytesSent, std::optional<uint64_t> bytesIn,
                      AccessEnd end) {
  if (finished_) return;
  finished_ = true;
  if (conn_ != nullptr) {
    Upstream& backend = *conn_;
    bool reusable = phase_ == Phase::Done && backendKeepAlive_ && requestBody_.done() &&
                    backend.sendIdle() && backend.in().empty() && !backend.eof() &&
                    backend.error() == 0;
    if (statusSent < 500 && choice_.pool != nullptr) {
      context_.service.worker().shared().passiveReports.success(choice_.pool->name, backendKey_);
    }
    dropBackend(reusable);
  }
  releaseLease();
  Worker& worker = context_.service.worker();
  if (cache_) {
    // A background refresh that failed (an error status, no connection):
    // the key passes for a while, so a failing backend is not asked again
    // by every stale request.
    if (context_.refresh != nullptr && cache_->fill) cache_->fill.end(false);
    countCache(statusSent);
  }
  if (context_.refresh == nullptr) {  // a background refresh is no client's request
    context_.service.stats().countRequest(statusSent);
    context_.service.stats().requestDuration.observe(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - timing_.start)
            .count()));
  }
  if (forwardMode()) {
    logForward(statusSent, bytesSent, bytesIn, end);
  } else {
    logAccess(statusSent, bytesSent);
  }
}

}  // namespace ringlb::l7
