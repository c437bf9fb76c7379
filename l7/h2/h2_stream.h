// H2Stream: one HTTP/2 stream of a client connection: one request and its
// exchange, with the stream's side of flow control.
//
//   Headers ──END_HEADERS──▶ Exchanging ──response END_STREAM sent──▶ Done
//      │ too large / malformed: an error page     │ failure: error page, or
//      │                                          │ RST_STREAM once the
//      ▼                                          ▼ response had started
//   (every end) closed by nghttp2 ──▶ finished, logged, freed (deferDelete)
//
// Request: DATA payload goes into requestBody() (chunk-framed when the
// client gave no content-length), and is given back to the client's window
// (WINDOW_UPDATE) only once it moved on towards the backend, so a slow
// backend stalls this stream's upload and nothing else. Response: the
// exchange moves payload into responseBody() while responseRoom() (a small
// queue); nghttp2 sends it as DATA as the client's window allows, without
// copying. A client that stops reading one stream stalls only that stream.
//
// Timers: the response timeout (the exchange's), and an idle timeout: a
// stream that moves no byte either way for the listener's idle_timeout
// while no backend answer is awaited is reset (CANCEL).
//
// Worker thread only. The session owns it (by id) until it closes, then
// hands it to Worker::deferDelete.
#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/byte_queue.h"
#include "common/deletable.h"
#include "common/http1/http1_parser.h"
#include "common/timer_wheel.h"
#include "l7/h2/h2_request.h"
#include "l7/http/downstream.h"
#include "l7/http/exchange.h"

namespace ringlb::l7 {

class H2Session;

class H2Stream final : public Deletable,
                       public ExchangeOwner,
                       public Downstream,
                       public TimerHandler {
 public:
  H2Stream(H2Session& session, int32_t id);
  ~H2Stream() override;

  int32_t id() const { return id_; }
  H2RequestHead& request() { return request_; }

  // --- from the session (nghttp2 callbacks)
  // The request head ended; `endStream`: no body follows.
  void onHeadersEnd(bool endStream);
  void onData(const uint8_t* data, size_t length);
  void onRequestEnd();
  // A field of the request's trailers (HEADERS after DATA): passed on in the
  // last chunk when the body goes upstream chunked, else dropped.
  void onRequestTrailer(std::string_view name, std::string_view value);
  // A response frame went out: `bytes` on the wire, `endStream` its last.
  void onFrameSent(size_t bytes, bool endStream);
  // nghttp2 closed the stream (`code`: the RST_STREAM code, or 0).
  void onClosed(uint32_t code);
  // The connection ends: the exchange is finished (logged as `why`).
  void abandon(AccessEnd why);
  bool closed() const { return closed_; }
  // The response parser goes back to the session once the stream closed.
  std::unique_ptr<http::Http1Parser> takeParser() { return std::move(responseParser_); }
  // nghttp2's data source: up to `length` bytes of responseBody() (sent by
  // the session's send_data callback); NGHTTP2_ERR_DEFERRED when none yet.
  ssize_t readResponse(size_t length, uint32_t* flags);
  // Does what can be done now (the session calls it after every event).
  void step();

  // --- ExchangeOwner
  void onBackendEvent(Upstream& upstream, StreamEvent event) override;
  void setResponseDeadline(std::chrono::steady_clock::time_point at) override;
  void wakeExchange() override;
  http::Http1Parser& responseParser() override;

  // --- Downstream
  ByteQueue& requestBody() override { return requestBody_; }
  void requestTaken() override;
  void sendResponseHead(const http::MessageHead& response, const config::RouteConfig* route,
                        const ResponseHeadOptions& options) override;
  ByteQueue& responseBody() override { return responseBody_; }
  void flushResponse() override;
  size_t responseRoom() const override;
  bool responseSent() const override { return endSent_; }
  void responseTrailers(std::string_view fields) override;
  void responseComplete() override;
  bool payloadOnly() const override { return true; }
  bool canTunnel() const override { return false; }
  void writeRaw(std::string_view) override {}
  void pair(Stream* backend) override;

  void onTimer(Timer& timer) override;

 private:
  void startExchange(std::optional<Error> rejected);
  void sendErrorPage(uint16_t status);
  void submitResponse(const nghttp2_nv* nv, size_t count, bool body);
  void finishExchange(uint16_t status, AccessEnd why = AccessEnd::None);
  void giveBackWindow();
  bool submitTrailers();
  void reset(uint32_t code);
  void armTimer();
  void touch();

  H2Session& session_;
  int32_t id_;
  H2RequestHead request_;
  ByteQueue requestBody_;
  ByteQueue responseBody_;
  std::unique_ptr<http::Http1Parser> responseParser_;  // lent by the session once a response comes
  std::optional<ExchangeContext> context_;
  std::optional<Exchange> exchange_;
  Stream* backend_ = nullptr;  // paired: its unsent bytes count against our window
  Timer timer_{*this};
  std::chrono::steady_clock::time_point responseDeadline_{};
  std::chrono::steady_clock::time_point lastActivity_{};
  std::string requestTrailers_;   // "name: value\r\n" lines for the last chunk
  std::string responseTrailers_;  // lower-cased "name: value\r\n" lines, sent as HEADERS
  uint64_t unconsumed_ = 0;       // request payload not yet given back to the window
  uint64_t bytesSent_ = 0;        // frames of this stream on the wire (the access log)
  bool requestEnded_ = false;
  bool headSent_ = false;  // a final response head was submitted
  bool complete_ = false;  // responseBody() holds the rest of the body
  bool deferred_ = false;  // nghttp2 waits for data (resume once some comes)
  bool endSent_ = false;   // the frame with END_STREAM went out
  bool pageSent_ = false;
  bool closed_ = false;
  bool finished_ = false;
};

}  // namespace ringlb::l7
