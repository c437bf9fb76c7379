// H2ClientSession: one HTTP/2 connection to a backend (h2c in plaintext,
// ALPN "h2" with tls), carrying the streams of many exchanges at once.
// nghttp2 does the frame layer over the BackendConnection's stream, which
// the session keeps attached to itself for its whole life (it never goes
// to the HTTP/1.1 idle list).
//
//   Connecting ──connected──▶ Open ──GOAWAY, stop, idle──▶ Closing
//        │ failed                  │ connection error or EOF
//        ▼                         ▼
//      Over: streams hear Error (or a clean end), the pool frees the session
//
// Room: at most the backend's SETTINGS_MAX_CONCURRENT_STREAMS streams (100
// until its SETTINGS say otherwise); the pool opens another session past it.
// An idle session (no stream) closes after the pool's idle timeout.
//
// Stream events reach their exchanges only after nghttp2 returned, so an
// exchange may send, release or reset from its event handler.
//
// Worker thread only. Owned by the H2UpstreamPool (freed through
// Worker::deferDelete once over); the BackendConnection belongs to the
// ConnectionPool and is closed by the session.
#pragma once

#include <nghttp2/nghttp2.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "common/deletable.h"
#include "common/http1/http1_parser.h"
#include "common/timer_wheel.h"
#include "common/tls/tls_stream.h"
#include "config/model.h"
#include "l7/h2/h2_upstream_pool.h"
#include "l7/h2/h2_upstream_stream.h"
#include "l7/http/backend_connection.h"

namespace ringlb::l7 {

class H2UpstreamPool;

class H2ClientSession final : public Deletable, public BackendUser, public TimerHandler {
 public:
  H2ClientSession(H2UpstreamPool& pool, BackendConnection& conn, std::string key);
  ~H2ClientSession() override;
  H2ClientSession(const H2ClientSession&) = delete;
  H2ClientSession& operator=(const H2ClientSession&) = delete;

  void connect(const H2ConnectSpec& spec);
  // A new stream for `user`, or null when the session has no room.
  H2UpstreamStream* open(BackendUser& user);
  // Takes a stream another session had no room for.
  void adopt(H2UpstreamStream& stream);
  bool hasRoom() const;
  // Connected and the backend's SETTINGS came: streams may send.
  bool connected() const { return state_ == State::Open && ready_; }
  bool over() const { return state_ == State::Over; }
  const std::string& key() const { return key_; }
  // The pool stops (listener draining): no new streams; close once idle.
  void stop();

  void onBackendEvent(Upstream& upstream, StreamEvent event) override;
  void onTimer(Timer& timer) override;

  // --- for streams
  const BufferStore& buffers() const;
  bool usesTls() const { return tls_; }
  std::string failureReason();
  // Parses the stream's request head from its out() and submits it.
  void submit(H2UpstreamStream& stream);
  void resumeData(int32_t id);
  // The exchange took `n` response payload bytes: the window reopens.
  void consume(int32_t id, size_t n);
  // The exchange let go of the stream (reset if still open).
  void detach(H2UpstreamStream& stream);
  // Sends what nghttp2 has queued (deferred while inside nghttp2).
  void send();

 private:
  friend struct H2ClientCallbacks;
  enum class State : uint8_t { Connecting, Open, Closing, Over };

  void start();
  void becomeReady();
  void startWaiting();
  uint32_t streamLimit() const;
  void receive();
  std::vector<nghttp2_nv> requestFields(const http::MessageHead& head);
  static bool submitTrailers(nghttp2_session* session, int32_t id, std::string_view raw);
  void deliver();
  void touch(H2UpstreamStream& stream);
  // The connection is done: every stream hears `err` (0: a clean end).
  void end(int err);
  void maybeClose();
  void armIdle();
  H2UpstreamStream* stream(int32_t id);

  H2UpstreamPool& pool_;
  BackendConnection* conn_;
  std::string key_;
  nghttp2_session* session_ = nullptr;
  http::Http1Parser requestParser_;
  std::vector<H2UpstreamStream*> streams_;  // attached to an exchange
  std::vector<H2UpstreamStream*> touched_;  // owed an event
  std::string fields_;                      // scratch: lower-cased names of one request
  Timer timer_{*this};                      // the SETTINGS wait, then the idle timeout
  std::string failure_;                     // why the connect failed
  std::string authority_;                   // the backend as configured (no Host: :authority)
  uint32_t opened_ = 0;                     // streams opened so far
  config::Duration connectTimeout_{};       // also the wait for the backend's SETTINGS
  State state_ = State::Connecting;
  bool tls_ = false;
  bool inNghttp2_ = false;
  bool stopped_ = false;
  bool goaway_ = false;           // the backend said GOAWAY: no new streams
  bool settingsPending_ = false;  // a SETTINGS was read, not acted on yet
  bool ready_ = false;            // the backend's first SETTINGS was acted on
};

}  // namespace ringlb::l7
