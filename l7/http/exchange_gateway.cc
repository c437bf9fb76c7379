// Exchange, the API gateway's phases (docs/gateway.md): before a backend is
// picked, a CORS preflight is answered, the request authenticated and its
// rate limit taken; a refused request is answered here (204, 401, 429)
// and nothing goes upstream. On the way back, the CORS allow fields and
// compression edit the response head, and the encoder (if any) re-frames
// the body.
#include <fmt/format.h>

#include <array>
#include <ctime>

#include "common/ascii.h"
#include "common/log.h"
#include "common/stats.h"
#include "common/worker.h"
#include "l7/gateway/auth_throttle.h"
#include "l7/gateway/cors.h"
#include "l7/gateway/rate_limit_key.h"
#include "l7/http/exchange.h"
#include "l7/http/http_service.h"

namespace ringlb::l7 {
namespace {

int64_t monotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string statusBody(uint16_t status) {
  return fmt::format("{} {}\n", status, http::reasonPhrase(status));
}

}  // namespace

std::string Exchange::routeLabel() const {
  return fmt::format("routes[{}]", choice_.route - context_.listener.routes.data());
}

bool Exchange::admitRequest() {
  const config::RouteConfig& route = *choice_.route;
  if (route.cors && isPreflight(head_)) {
    CorsPreflightAnswer answer = preflightAnswer(*route.cors, head_);
    std::vector<http::HeaderView> fields;
    for (const auto& h : answer.headers) fields.push_back({h.name, h.value});
    answerLocally(answer.status, fields, {}, /*cors=*/false);
    return false;
  }
  if (route.auth && !authenticate(*route.auth)) return false;
  if (route.rateLimit) {
    std::string label = routeLabel();
    SharedRateLimit& limit = context_.service.rateLimit(route, label);
    std::string_view key = rateLimitKey(*route.rateLimit, context_.clientIp, head_.headers, label);
    RateLimitVerdict verdict = limit.take(key, monotonicNs());
    if (!verdict.allowed) {
      limitVerdict_ = "limited";
      context_.service.routeStats(label).rateLimited.add();
      std::string retry = std::to_string(verdict.retryAfterSeconds);
      std::array<http::HeaderView, 1> fields{{{"Retry-After", retry}}};
      answerLocally(429, fields, statusBody(429));
      return false;
    }
    limitVerdict_ = "ok";
  }
  return true;
}

// A route's `auth`, or on a forward listener the proxy login (users_file:
// Proxy-Authorization, 407 with Proxy-Authenticate). Both share the
// listener's failed-login throttle.
bool Exchange::authenticate(const config::AuthConfig& auth) {
  const bool proxy = forwardMode();
  SharedRateLimit& failures = context_.service.authFailureLimit();
  int64_t now = monotonicNs();
  RateLimitVerdict throttle = failures.peek(context_.clientIp, now);
  AuthOutcome outcome;
  if (!throttle.allowed) {
    outcome.failure = AuthFailure::Throttled;
    outcome.status = 429;
  } else {
    const config::AuthConfig& current = context_.service.currentAuth(auth);
    AuthVerifier& verifier = context_.service.authVerifier();
    outcome = proxy ? verifier.checkProxy(current, head_.headers)
                    : verifier.check(current, head_.headers, std::chrono::system_clock::now());
    if (outcome.ok()) {
      authSubject_ = std::move(outcome.subject);
      claimHeaders_ = std::move(outcome.addHeaders);
      return true;
    }
    if (countsAsFailedAttempt(outcome.failure)) failures.take(context_.clientIp, now);
  }
  RouteStats& stats =
      context_.service.routeStats(proxy ? std::string(kProxyAuthLabel) : routeLabel());
  stats.authFailures[static_cast<size_t>(outcome.failure)].add();
  authFailure_ = authFailureName(outcome.failure);
  std::vector<http::HeaderView> fields;
  std::string retry;
  if (!outcome.wwwAuthenticate.empty()) {
    fields.push_back({proxy ? "Proxy-Authenticate" : "WWW-Authenticate", outcome.wwwAuthenticate});
  }
  if (!throttle.allowed) {
    retry = std::to_string(throttle.retryAfterSeconds);
    fields.push_back({"Retry-After", retry});
  }
  answerLocally(outcome.status, fields, statusBody(outcome.status));
  return false;
}

// The CORS allow fields for an actual response (the backend's own
// Access-Control-* fields give way to them).
void Exchange::corsFields(std::vector<http::HeaderView>& fields) {
  corsEdits_ = actualResponseHeaders(*choice_.route->cors, head_);
  std::erase_if(fields, [](const http::HeaderView& h) {
    return h.name.size() > 15 && equalsIgnoreCase(h.name.substr(0, 15), "access-control-");
  });
  for (const auto& e : corsEdits_) fields.push_back({e.name, e.value});
}

bool Exchange::prepareCompression(const http::MessageHead& response) {
  compressDecision_ = decideCompression(*choice_.route->compress, head_, response);
  if (!compressDecision_->compress()) return false;
  EncoderOptions options;
  if (response.framing == http::BodyFraming::ContentLength) {
    options.sizeHint = response.contentLength;
  }
  encoder_ = makeEncoder(*compressDecision_->coding, options);
  if (encoder_ == nullptr) {
    compressDecision_.reset();  // a library that cannot set up: sent as it is, unedited
    return false;
  }
  return true;
}

void Exchange::sendEditedResponseHead(const http::MessageHead& response,
                                      ResponseHeadOptions options) {
  std::vector<http::HeaderView> fields(response.headers.begin(), response.headers.end());
  http::MessageHead edited = response;
  if (compressDecision_ && (compressDecision_->compress() || compressDecision_->vary)) {
    std::vector<http::HeaderView> compressed;
    applyCompressEdits(fields, *compressDecision_, compressed);
    fields.swap(compressed);
  }
  if (encoder_) {
    // The length is gone: HTTP/1.1 gets chunks (written here), HTTP/2 frames.
    // Ranges of the encoded body are not offered (as NGINX's gzip filter).
    std::erase_if(fields, [](const http::HeaderView& h) {
      return equalsIgnoreCase(h.name, "transfer-encoding") ||
             equalsIgnoreCase(h.name, "accept-ranges");
    });
    if (chunkedOut_) fields.push_back({"Transfer-Encoding", "chunked"});
    edited.framing = http::BodyFraming::Chunked;
    edited.contentLength = 0;
    options.dechunk = false;  // keep the Transfer-Encoding written above
  } else if (chunkedOut_) {
    options.dechunk = false;  // captured as payload, re-chunked by pumpPayload
  }
  if (cache_) {
    if (cache_->capture) captureFields(fields);
    if (!cache_->status.empty()) fields.push_back({"Cache-Status", cache_->status});
  }
  if (choice_.route->cors) corsFields(fields);
  edited.headers = fields;
  context_.client.sendResponseHead(edited, choice_.route, options);
}

// Payload from the backend into the encoder (if any), its output to the
// client (in chunks for HTTP/1.1) and to the cache's capture. What the
// backend sent so far is flushed whenever it pauses, so a stream of events is
// not held back for the window to fill.
void Exchange::pumpPayload(size_t room) {
  bool chunked = chunkedOut_;
  ByteQueue& to = context_.client.responseBody();
  auto put = [&](std::span<const uint8_t> bytes) {
    std::string_view piece(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (piece.empty()) return;
    if (cache_ && cache_->capture) captureBody(piece);
    if (chunked) to.append(fmt::format("{:x}\r\n", piece.size()));
    to.append(piece);
    if (chunked) to.append("\r\n");
  };
  auto write = [&](std::string_view piece) {
    if (encoder_) return encoder_->write(piece, put);
    put({reinterpret_cast<const uint8_t*>(piece.data()), piece.size()});
    return true;
  };
  // The encoder may keep what it gets and give nothing back, so no event
  // would come to move the rest: go on while the client side has room and
  // the backend's bytes are at hand.
  bool ok = true;
  size_t took = 0;
  while (ok && room > 0) {
    size_t n = responseBody_.pump(conn_->in(), *plain_, room);
    if (n == 0) break;
    took += n;
    while (ok && !plain_->empty()) {
      std::string_view piece = plain_->front();
      ok = write(piece);
      plain_->consume(piece.size());
    }
    room = context_.client.responseRoom();
  }
  if (took > 0) conn_->refresh();
  if (ok && responseBody_.done() && !payloadEnded_) {
    payloadEnded_ = true;
    if (encoder_) ok = encoder_->finish(put);
    if (ok && chunked) {
      to.append("0\r\n");
      to.append(responseBody_.trailers());
      to.append("\r\n");
    }
  } else if (ok && encoder_ && took > 0 && conn_->in().empty()) {
    ok = encoder_->flush(put);
  }
  if (!ok) {
    logWarn("listener {}: compressing the response of {} failed: {}", context_.listener.name,
            backendKey_, encoder_->error());
    context_.service.routeStats(routeLabel()).compressErrors.add();
    fail(makeError(ErrorCode::BackendTruncated));  // the client sees the body cut
  }
}

}  // namespace ringlb::l7
