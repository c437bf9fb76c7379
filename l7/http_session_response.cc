// HttpSession, response side: parse the backend's head, relay interim
// responses, decide the body framing towards the client, switch to a tunnel
// after 101, and judge how the backend's stream ended.
#include "common/log.h"
#include "common/worker.h"
#include "l7/headers.h"
#include "l7/http_service.h"
#include "l7/http_session.h"

namespace ringlb::l7 {

void HttpSession::parseResponseHead() {
  while (!resp_.in.empty() && !respHeadDone_) {
    http::ParseResult r = respParser_.feed(frontBytes(resp_.in));
    if (r.status == http::ParseStatus::Error) {
      logDebug("listener {}: bad response from {}: {}", service_.name(), backendKey_,
               http::errorName(r.error));
      upstreamFailed(makeError(ErrorCode::InvalidResponse));
      return;
    }
    consume(resp_.in, r.consumed);
    if (r.status == http::ParseStatus::HeadComplete) {
      onResponseHead();
      if (state_ != State::Proxying) return;
    }
  }
}

void HttpSession::onResponseHead() {
  const http::MessageHead& h = respParser_.head();
  if (h.status == 101) {
    if (wantsUpgrade_) {
      startTunnel(h);
    } else {
      upstreamFailed(makeError(ErrorCode::InvalidResponse));  // a switch nobody asked for
    }
    return;
  }
  if (h.isInterim()) {
    // 100 Continue goes to a client that asked for it; other 1xx to HTTP/1.1
    // clients. Then the final response follows on the same connection.
    bool relay = !client10_ && (h.status != 100 || expectContinue_);
    if (relay) {
      std::string interim;
      writeClientResponseHead(h, nullptr, {}, interim);
      queueHead(resp_, interim);
    }
    respParser_.reset();
    respParser_.setRequestMethod(reqParser_.head().method);
    return;
  }
  Worker& worker = service_.worker();
  worker.timers().cancel(upstreamTimer_);
  responseTime_ =
      std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - upstreamStart_);
  respHeadDone_ = true;
  status_ = h.status;
  respKeepAlive_ = h.keepAlive;
  resp_.bodyStarted = false;
  resp_.dropFraming = false;
  switch (h.framing) {
    case http::BodyFraming::ContentLength:
      resp_.framing = Framing::Length;
      resp_.length = http::LengthBody(h.contentLength);
      resp_.bodyDone = h.contentLength == 0;
      break;
    case http::BodyFraming::Chunked:
      resp_.framing = Framing::Chunked;
      resp_.chunked.reset();
      resp_.bodyDone = false;
      resp_.dropFraming = client10_;  // HTTP/1.0 has no chunked: send payload, then close
      if (client10_) closeAfter_ = true;
      break;
    case http::BodyFraming::None:
      resp_.framing = Framing::None;
      resp_.bodyDone = true;
      break;
    default:  // until close (and CONNECT tunnels, which this mode refuses)
      resp_.framing = Framing::All;
      resp_.bodyDone = false;
      closeAfter_ = true;
      break;
  }
  if (!req_.bodyDone) closeAfter_ = true;  // answered before the body ended
  ResponseHeadOptions options;
  options.close = closeAfter_ || !clientKeepAlive_ || draining_;
  options.keepAlive = client10_ && !options.close;
  options.dechunk = resp_.dropFraming;
  std::string head;
  head.reserve(512);
  writeClientResponseHead(h, route_, options, head);
  queueHead(resp_, head);
}

void HttpSession::startTunnel(const http::MessageHead& h) {
  service_.worker().timers().cancel(upstreamTimer_);
  respHeadDone_ = true;
  status_ = 101;
  std::string head;
  ResponseHeadOptions options;
  options.upgrade = true;
  writeClientResponseHead(h, route_, options, head);
  queueHead(resp_, head);
  // From here every byte either way is tunnel data.
  req_.framing = Framing::All;
  req_.bodyDone = false;
  resp_.framing = Framing::All;
  resp_.bodyDone = false;
  responseTime_ = std::chrono::duration_cast<std::chrono::microseconds>(service_.worker().now() -
                                                                        upstreamStart_);
  logRequest();
  releaseLease();
  stats_.countRequest(101);
  state_ = State::Tunnel;
  service_.worker().timers().schedule(clientTimer_, service_.worker().now() + idleTimeout_);
}

void HttpSession::checkUpstreamEnd() {
  if (conn_ == nullptr || (!upEof_ && upError_ == 0) || !resp_.in.empty()) return;
  if (!respHeadDone_) {
    // Closed or reset before a complete head: retried when nothing came back.
    upstreamFailed(makeError(ErrorCode::BackendClosed));
    return;
  }
  if (resp_.bodyDone) return;
  if (resp_.framing == Framing::All && upError_ == 0) {
    resp_.bodyDone = true;  // a close-delimited body ends here
    return;
  }
  logDebug("listener {}: backend {} cut the response short", service_.name(), backendKey_);
  fail(makeError(ErrorCode::BackendTruncated));  // no clean end: the client sees the cut
}

}  // namespace ringlb::l7
