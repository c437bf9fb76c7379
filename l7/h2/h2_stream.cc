#include "l7/h2/h2_stream.h"

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include <algorithm>
#include <vector>

#include "common/ascii.h"
#include "common/stats.h"
#include "common/worker.h"
#include "l7/h2/h2_limits.h"
#include "l7/h2/h2_session.h"
#include "l7/http/error_pages.h"
#include "l7/http/http_service.h"

namespace ringlb::l7 {
H2Stream::H2Stream(H2Session& session, int32_t id)
    : session_(session),
      id_(id),
      request_(session.info().listener.maxHeaderSize, session.info().listener.maxHeaderFields),
      requestBody_(session.service().worker().bufferStore()),
      responseBody_(session.service().worker().bufferStore()) {
  session_.stats().http2.streamsActive.add();
  lastActivity_ = session_.service().worker().now();
  armTimer();
}

H2Stream::~H2Stream() = default;

// ------------------------------------------------------------- the request

void H2Stream::onHeadersEnd(bool endStream) {
  requestEnded_ = endStream;
  touch();
  if (request_.tooLarge()) {
    startExchange(makeError(ErrorCode::HeadTooLarge));
  } else if (!request_.finish(endStream)) {
    startExchange(request_.tooLarge() ? makeError(ErrorCode::HeadTooLarge)
                                      : makeError(ErrorCode::BadRequest));
  } else {
    startExchange(std::nullopt);
  }
}

void H2Stream::startExchange(std::optional<Error> rejected) {
  const H2ConnectionInfo& info = session_.info();
  context_.emplace(ExchangeContext{session_.service(), *this, info.config, info.listener, *this,
                                   info.clientIp, info.clientAddr, info.tls});
  context_->clientIdentity = info.clientIdentity;
  context_->protocol = "HTTP/2";
  context_->draining = session_.draining();
  context_->headBytes = request_.size();
  if (rejected) {
    exchange_.emplace(*context_, request_.head(), *rejected);
  } else {
    exchange_.emplace(*context_, request_.head());
  }
}

void H2Stream::onData(const uint8_t* data, size_t length) {
  touch();
  if (!exchange_ || finished_ || exchange_->failed() || requestEnded_) {
    // Nobody will read it (refused, answered already): the window reopens now.
    nghttp2_session_consume(session_.nghttp2(), id_, length);
    return;
  }
  std::string_view bytes(reinterpret_cast<const char*>(data), length);
  if (request_.chunked()) {
    char size[24];
    auto* end = fmt::format_to(size, "{:x}\r\n", length);
    requestBody_.append({size, static_cast<size_t>(end - size)});
    requestBody_.append(bytes);
    requestBody_.append("\r\n");
  } else {
    requestBody_.append(bytes);
  }
  unconsumed_ += length;
}

void H2Stream::onRequestEnd() {
  if (requestEnded_) return;
  requestEnded_ = true;
  if (!exchange_ || finished_ || !request_.chunked()) return;
  requestBody_.append("0\r\n");
  requestBody_.append(requestTrailers_);
  requestBody_.append("\r\n");
}

void H2Stream::onRequestTrailer(std::string_view name, std::string_view value) {
  // Fields HTTP/1.1 does not allow in trailers (RFC 9110 section 6.5.1)
  // stay behind; the whole section is bounded like a head.
  if (isForbiddenTrailer(name)) return;
  if (requestTrailers_.size() + name.size() + value.size() + 4 > request_.maxSize()) return;
  requestTrailers_.append(name).append(": ").append(value).append("\r\n");
}

void H2Stream::requestTaken() { giveBackWindow(); }

// The client may send more once what it sent is on its way to the backend.
void H2Stream::giveBackWindow() {
  if (unconsumed_ == 0) return;
  size_t held = requestBody_.size() + (backend_ != nullptr ? backend_->out().size() : 0);
  if (held >= H2Limits::kRequestQueue) return;
  nghttp2_session_consume(session_.nghttp2(), id_, unconsumed_);
  unconsumed_ = 0;
}

void H2Stream::pair(Stream* backend) {
  // No client socket to pace the backend by: the backend's own queue is its
  // limit (the exchange takes from it only while responseRoom()).
  if (backend_ != nullptr && backend_ != backend) backend_->limitBy(nullptr);
  backend_ = backend;
  if (backend_ != nullptr) backend_->limitBy(nullptr);
}

// ------------------------------------------------------------ the response

void H2Stream::sendResponseHead(const http::MessageHead& response, const config::RouteConfig* route,
                                const ResponseHeadOptions&) {
  if (response.status == 101) return;  // never asked for over HTTP/2
  H2Session::ResponseFields& out = session_.responseFields();
  out.clear();
  char status[4];
  fmt::format_to(status, "{:03}", response.status % 1000);
  clientResponseFields(response, route, out.fields);
  for (const auto& f : out.fields) {
    for (char c : f.name) out.names.push_back(asciiLower(c));
  }
  out.build({status, 3});
  touch();
  if (response.isInterim()) {
    nghttp2_submit_headers(session_.nghttp2(), NGHTTP2_FLAG_NONE, id_, nullptr, out.nv.data(),
                           out.nv.size(), nullptr);
    return;
  }
  headSent_ = true;
  // An empty body ends the stream with the HEADERS (gRPC's trailers-only
  // answer must: its grpc-status is in them).
  bool body =
      response.framing != http::BodyFraming::None &&
      !(response.framing == http::BodyFraming::ContentLength && response.contentLength == 0);
  if (!body) complete_ = true;
  submitResponse(out.nv.data(), out.nv.size(), body);
}

ssize_t H2Stream::readResponse(size_t length, uint32_t* flags) {
  if (responseBody_.empty() && !complete_) {
    deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  size_t n = std::min(length, responseBody_.size());
  if (n > 0) *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (complete_ && n == responseBody_.size()) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!responseTrailers_.empty()) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      if (!submitTrailers()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // a reset
    }
  }
  return static_cast<ssize_t>(n);
}

void H2Stream::flushResponse() {
  if (deferred_ && (!responseBody_.empty() || complete_)) {
    deferred_ = false;
    session_.resumeData(id_);
  }
}

size_t H2Stream::responseRoom() const {
  size_t queued = responseBody_.size();
  return queued < H2Limits::kResponseQueue ? H2Limits::kResponseQueue - queued : 0;
}

void H2Stream::responseTrailers(std::string_view fields) {
  // Raw field lines from the chunked decoder (which checked their syntax).
  responseTrailers_.append(h2TrailerLines(fields));
}

// The trailers as a HEADERS frame that ends the stream (called from the
// data source once the body is out); false if nghttp2 refused them.
bool H2Stream::submitTrailers() {
  std::vector<nghttp2_nv> nv = h2TrailerFields(responseTrailers_);
  return nghttp2_submit_trailer(session_.nghttp2(), id_, nv.data(), nv.size()) == 0;
}

void H2Stream::responseComplete() {
  complete_ = true;
  flushResponse();
}

void H2Stream::sendErrorPage(uint16_t status) {
  pageSent_ = true;
  headSent_ = true;
  std::string_view body = errorBody(status);
  std::string code = std::to_string(status);
  std::string bodyLength = std::to_string(body.size());
  std::array<nghttp2_nv, 3> nv{h2Field(":status", code),
                               h2Field("content-type", "text/plain; charset=utf-8"),
                               h2Field("content-length", bodyLength)};
  responseBody_.clear();
  responseBody_.append(body);
  complete_ = true;
  submitResponse(nv.data(), nv.size(), true);
}

// The final head; with `body`, DATA follows from responseBody() (readResponse).
void H2Stream::submitResponse(const nghttp2_nv* nv, size_t count, bool body) {
  nghttp2_data_provider provider{};
  provider.read_callback = [](nghttp2_session*, int32_t, uint8_t*, size_t length, uint32_t* flags,
                              nghttp2_data_source* source, void*) -> ssize_t {
    return static_cast<H2Stream*>(source->ptr)->readResponse(length, flags);
  };
  provider.source.ptr = this;
  nghttp2_submit_response(session_.nghttp2(), id_, nv, count, body ? &provider : nullptr);
}

void H2Stream::onFrameSent(size_t bytes, bool endStream) {
  bytesSent_ += bytes;
  touch();
  if (endStream) endSent_ = true;
}

// ------------------------------------------------------------------ steps

void H2Stream::step() {
  if (!exchange_ || finished_) return;
  Exchange& x = *exchange_;
  x.step();
  if (x.upgraded()) {  // cannot happen: canTunnel() is false
    reset(NGHTTP2_INTERNAL_ERROR);
    finishExchange(0);
    return;
  }
  if (const auto& failure = x.failed()) {
    if (x.responseStarted() || failure->status() == 0) {
      // Part of the response went out: the reset shows the cut.
      reset(NGHTTP2_INTERNAL_ERROR);
      finishExchange(x.responseStarted() ? x.status() : 0);
      return;
    }
    if (!pageSent_) {
      sendErrorPage(failure->status());
      // A body still coming is not wanted: RST_STREAM NO_ERROR after the
      // answer (RFC 9113 section 8.1).
    }
    if (endSent_) {
      finishExchange(failure->status());
      if (!requestEnded_) reset(NGHTTP2_NO_ERROR);
    }
    return;
  }
  giveBackWindow();
  if (x.done()) {
    finishExchange(x.status());
    if (!requestEnded_) reset(NGHTTP2_NO_ERROR);
  }
}

void H2Stream::finishExchange(uint16_t status, AccessEnd why) {
  if (finished_ || !exchange_) return;
  finished_ = true;
  exchange_->finish(status, bytesSent_, std::nullopt, why);
  exchange_.reset();
  requestBody_.clear();
  if (unconsumed_ != 0) {
    nghttp2_session_consume(session_.nghttp2(), id_, unconsumed_);
    unconsumed_ = 0;
  }
}

void H2Stream::reset(uint32_t code) {
  if (!closed_) session_.resetStream(id_, code);  // never answer a reset with one
}

void H2Stream::onClosed(uint32_t) {
  if (closed_) return;
  closed_ = true;
  if (exchange_ && !finished_ && endSent_) {
    // Closed as the last frame went out (nghttp2 closes the stream in the
    // same send): the exchange ends normally, its backend connection reused.
    step();
  }
  // Closed before its answer was complete (a client reset): logged as cut.
  if (exchange_ && !finished_) finishExchange(headSent_ ? exchange_->status() : 0);
  session_.service().worker().timers().cancel(timer_);
  session_.stats().http2.streamsActive.sub();
}

void H2Stream::abandon(AccessEnd why) {
  if (exchange_ && !finished_) finishExchange(headSent_ ? exchange_->status() : 0, why);
  session_.service().worker().timers().cancel(timer_);
  if (!closed_) {
    closed_ = true;
    session_.stats().http2.streamsActive.sub();
  }
}

// ---------------------------------------------------------- owner, timers

void H2Stream::onBackendEvent(Upstream& upstream, StreamEvent event) {
  H2Session::Entry entry(session_);
  if (exchange_ && !finished_) exchange_->onBackendEvent(upstream, event);
}

void H2Stream::wakeExchange() { session_.wake(); }

http::Http1Parser& H2Stream::responseParser() {
  if (!responseParser_) responseParser_ = session_.lendParser();
  return *responseParser_;
}

void H2Stream::setResponseDeadline(std::chrono::steady_clock::time_point at) {
  responseDeadline_ = at;
  armTimer();
}

void H2Stream::touch() { lastActivity_ = session_.service().worker().now(); }

void H2Stream::armTimer() {
  if (closed_) return;
  auto at = lastActivity_ + session_.info().listener.effectiveIdleTimeout();
  if (responseDeadline_ != std::chrono::steady_clock::time_point{}) {
    at = std::min(at, responseDeadline_);
  }
  session_.service().worker().timers().schedule(timer_, at);
}

void H2Stream::onTimer(Timer&) {
  H2Session::Entry entry(session_);
  if (closed_) return;
  Worker& worker = session_.service().worker();
  auto now = worker.now();
  if (responseDeadline_ != std::chrono::steady_clock::time_point{} && now >= responseDeadline_) {
    responseDeadline_ = {};
    if (exchange_ && !finished_) exchange_->onResponseTimeout();
    armTimer();
    return;
  }
  // Waiting for the backend's answer is the response timeout's business.
  bool awaitingBackend = exchange_ && !finished_ && !exchange_->responseStarted() &&
                         !exchange_->failed() && requestEnded_;
  if (!awaitingBackend && now - lastActivity_ >= session_.info().listener.effectiveIdleTimeout()) {
    if (exchange_ && !finished_) {
      finishExchange(headSent_ ? exchange_->status() : 0, AccessEnd::IdleTimeout);
    }
    reset(NGHTTP2_CANCEL);
    return;
  }
  armTimer();
}

}  // namespace ringlb::l7
