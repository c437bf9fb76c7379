#include "l7/h2/h2_client_session.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

#include "common/ascii.h"
#include "common/log.h"
#include "common/worker.h"
#include "l7/h2/h2_request.h"
#include "l7/h2/h2_session.h"
#include "l7/h2/h2_upstream_pool.h"

namespace ringlb::l7 {
namespace {

// Bytes queued towards the backend before nghttp2 is told to wait.
constexpr size_t kSendQueue = 256 * 1024;

// Streams per connection when the backend allows more (or before its
// SETTINGS came): beyond it another connection spreads the load.
constexpr uint32_t kMaxStreamsPerConnection = 100;

// The request head as the exchange wrote it (with the fields it added).
http::ParserLimits requestHeadLimits() {
  http::ParserLimits limits;
  limits.maxRequestLine = 64 * 1024;
  limits.maxHeaderBytes = 256 * 1024;
  limits.maxHeaderCount = 1000;
  return limits;
}

}  // namespace

// nghttp2's callbacks, each forwarding to the session (user_data).
struct H2ClientCallbacks {
  static H2ClientSession& of(void* user) { return *static_cast<H2ClientSession*>(user); }

  static ssize_t send(nghttp2_session*, const uint8_t* data, size_t length, int, void* user) {
    ByteQueue& out = of(user).conn_->out();
    if (out.size() >= kSendQueue) return NGHTTP2_ERR_WOULDBLOCK;
    out.append({reinterpret_cast<const char*>(data), length});
    return static_cast<ssize_t>(length);
  }

  // DATA without a copy: the frame header, then the stream's queued payload.
  static int sendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* header, size_t length,
                      nghttp2_data_source*, void* user) {
    H2ClientSession& s = of(user);
    ByteQueue& out = s.conn_->out();
    if (out.size() >= kSendQueue) return NGHTTP2_ERR_WOULDBLOCK;
    H2UpstreamStream* stream = s.stream(frame->hd.stream_id);
    // Released since the frame was prepared (a WOULDBLOCK in between): only
    // this stream is reset, not the connection.
    if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (stream->payload().size() < length) return NGHTTP2_ERR_CALLBACK_FAILURE;  // never
    out.append({reinterpret_cast<const char*>(header), 9});
    stream->payload().moveTo(out, length);
    stream->noteDrained();
    s.touch(*stream);
    return 0;
  }

  static ssize_t readData(nghttp2_session* session, int32_t id, uint8_t*, size_t length,
                          uint32_t* flags, nghttp2_data_source*, void* user) {
    H2ClientSession& s = of(user);
    H2UpstreamStream* stream = s.stream(id);
    if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // let go: reset
    ssize_t n = stream->readRequest(length, flags);
    if (n >= 0 && (*flags & NGHTTP2_DATA_FLAG_NO_END_STREAM) != 0) {
      if (!s.submitTrailers(session, id, stream->requestTrailers())) {
        *flags &= ~NGHTTP2_DATA_FLAG_NO_END_STREAM;  // none left after filtering
      }
    }
    return n;
  }

  static int header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                    size_t nameLength, const uint8_t* value, size_t valueLength, uint8_t,
                    void* user) {
    H2UpstreamStream* stream = of(user).stream(frame->hd.stream_id);
    if (stream == nullptr || frame->hd.type != NGHTTP2_HEADERS) return 0;
    stream->onResponseField({reinterpret_cast<const char*>(name), nameLength},
                            {reinterpret_cast<const char*>(value), valueLength});
    return 0;
  }

  static int frameReceived(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2ClientSession& s = of(user);
    bool endStream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      s.goaway_ = true;  // streams past its last id are closed REFUSED_STREAM by nghttp2
      return 0;
    }
    if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
      s.settingsPending_ = true;  // acted on once nghttp2 returned
      return 0;
    }
    H2UpstreamStream* stream = frame->hd.stream_id != 0 ? s.stream(frame->hd.stream_id) : nullptr;
    if (stream == nullptr) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS) {
      stream->onHeadersEnd(endStream);
      s.touch(*stream);
    } else if (frame->hd.type == NGHTTP2_DATA && endStream) {
      stream->onEndStream();
      s.touch(*stream);
    }
    return 0;
  }

  static int dataChunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data,
                       size_t length, void* user) {
    H2ClientSession& s = of(user);
    // The connection's window reopens at once: streams that are not read
    // must not stall the others (each is bounded by its own window).
    nghttp2_session_consume_connection(session, length);
    H2UpstreamStream* stream = s.stream(id);
    if (stream == nullptr) {
      nghttp2_session_consume_stream(session, id, length);  // nobody takes it
      return 0;
    }
    stream->onData(data, length);
    s.touch(*stream);
    return 0;
  }

  static int streamClosed(nghttp2_session*, int32_t id, uint32_t code, void* user) {
    H2ClientSession& s = of(user);
    if (H2UpstreamStream* stream = s.stream(id)) {
      stream->onClosed(code);
      s.touch(*stream);
    }
    return 0;
  }
};

H2ClientSession::H2ClientSession(H2UpstreamPool& pool, BackendConnection& conn, std::string key)
    : pool_(pool),
      conn_(&conn),
      key_(std::move(key)),
      requestParser_(http::MessageKind::Request, requestHeadLimits()) {
  nghttp2_session_callbacks* cb = nullptr;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_send_callback(cb, H2ClientCallbacks::send);
  nghttp2_session_callbacks_set_send_data_callback(cb, H2ClientCallbacks::sendData);
  nghttp2_session_callbacks_set_on_header_callback(cb, H2ClientCallbacks::header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, H2ClientCallbacks::frameReceived);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, H2ClientCallbacks::dataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, H2ClientCallbacks::streamClosed);
  nghttp2_option* option = nullptr;
  nghttp2_option_new(&option);
  // Windows reopen as the exchanges take the payload (consume()).
  nghttp2_option_set_no_auto_window_update(option, 1);
  // One stream until the backend's SETTINGS say how many (RFC 9113 section
  // 6.5.2): the others wait in nghttp2 rather than be refused.
  nghttp2_option_set_peer_max_concurrent_streams(option, 1);
  nghttp2_session_client_new2(&session_, cb, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(cb);
}

H2ClientSession::~H2ClientSession() {
  for (H2UpstreamStream* s : streams_) s->orphan();
  if (session_ != nullptr) nghttp2_session_del(session_);
  if (conn_ != nullptr) conn_->close();
}

const BufferStore& H2ClientSession::buffers() const { return pool_.worker().bufferStore(); }

void H2ClientSession::connect(const H2ConnectSpec& spec) {
  authority_ = spec.address.text;
  tls_ = spec.tlsWanted;
  std::unique_ptr<tls::TlsStream> tls;
  if (spec.tlsWanted && spec.makeTls) tls = spec.makeTls();
  if (spec.tlsWanted && !tls) {
    conn_->failToConnect(*this, EPROTO);  // the pool's TLS never loaded (logged)
    return;
  }
  connectTimeout_ = spec.timeout;
  conn_->connect(spec.address, spec.timeout, *this, std::move(tls));
}

H2UpstreamStream* H2ClientSession::open(BackendUser& user) {
  if (!hasRoom()) return nullptr;
  auto* stream = new H2UpstreamStream(*this, user, pool_.worker());
  adopt(*stream);
  if (connected()) stream->markStarted();  // the exchange writes its request now
  return stream;
}

void H2ClientSession::adopt(H2UpstreamStream& stream) {
  ++opened_;
  stream.rebind(*this);
  streams_.push_back(&stream);
  // No longer idle; before the SETTINGS came the timer is their wait, which
  // new streams must not extend.
  if (ready_) pool_.worker().io().timers.cancel(timer_);
}

// Streams the session may carry: the backend's SETTINGS_MAX_CONCURRENT_STREAMS
// (at most kMaxStreamsPerConnection); before its SETTINGS came, that many
// are attached, and those past its limit move on once they come.
uint32_t H2ClientSession::streamLimit() const {
  if (!ready_) return kMaxStreamsPerConnection;
  return std::min(kMaxStreamsPerConnection, nghttp2_session_get_remote_settings(
                                                session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS));
}

bool H2ClientSession::hasRoom() const {
  if (goaway_ || stopped_) return false;
  if (state_ != State::Connecting && state_ != State::Open) return false;
  return streams_.size() < streamLimit();
}

std::string H2ClientSession::failureReason() {
  if (!failure_.empty()) return failure_;
  return conn_ != nullptr ? conn_->failureReason() : std::string("connection closed");
}

void H2ClientSession::stop() {
  stopped_ = true;
  maybeClose();
}

// -------------------------------------------------------- connection events

void H2ClientSession::onBackendEvent(Upstream&, StreamEvent event) {
  if (state_ == State::Over) return;
  switch (event) {
    case StreamEvent::Connected: start(); break;
    case StreamEvent::Received: receive(); break;
    case StreamEvent::Drained: break;
    case StreamEvent::Eof: end(0); return;
    case StreamEvent::Error:
      if (state_ == State::Connecting) failure_ = conn_->failureReason();
      end(conn_->error() != 0 ? conn_->error() : ECONNRESET);
      return;
    default: break;
  }
  send();
  deliver();
  maybeClose();
}

void H2ClientSession::start() {
  // HTTP/2 over TLS only when the backend agreed to it (RFC 9113 section 3.2).
  tls::TlsStream* tls = conn_->stream().tls();
  if (tls != nullptr && tls->alpn() != "h2") {
    failure_ = tls->alpn().empty() ? std::string("the backend did not agree to ALPN h2")
                                   : fmt::format("the backend chose ALPN {}, not h2", tls->alpn());
    end(EPROTO);
    return;
  }
  state_ = State::Open;  // the streams wait for the backend's SETTINGS (becomeReady)
  conn_->stream().startReceiving();
  // A backend that accepts but never speaks (hung) fails like a connect.
  IoContext& io = pool_.worker().io();
  io.timers.schedule(timer_, io.now + connectTimeout_);
  std::array<nghttp2_settings_entry, 3> settings{{
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2UpstreamLimits::kStreamWindow},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 256 * 1024},
  }};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                        H2UpstreamLimits::kConnectionWindow);
}

// The backend's SETTINGS came: the streams within its limit may send; the
// others go to another session (the pool opens one if none has room), so
// that none waits for a stream of this one to end.
void H2ClientSession::becomeReady() {
  ready_ = true;
  pool_.worker().io().timers.cancel(timer_);  // the SETTINGS wait is over
  size_t limit = streamLimit();
  if (limit == 0) {
    // No stream allowed at all (RFC 9113 section 6.5.2 permits it): the
    // backend is not taking requests; its streams fail like a refused
    // connect, and the exchanges try elsewhere.
    for (H2UpstreamStream* s : streams_) {
      s->fail(ECONNREFUSED);
      touch(*s);
    }
    goaway_ = true;  // no new streams here
    return;
  }
  std::vector<H2UpstreamStream*> excess;
  if (streams_.size() > limit) {
    excess.assign(streams_.begin() + static_cast<std::ptrdiff_t>(limit), streams_.end());
    streams_.resize(limit);
  }
  startWaiting();
  for (H2UpstreamStream* s : excess) {
    // Each move places at least one stream (a limit of 0 fails them above),
    // so streams spread over as many connections as the backend's limit needs.
    H2ClientSession* home = pool_.rehome(*s, *this);
    if (home == nullptr) {
      streams_.push_back(s);  // waits here for a free stream (startWaiting)
    } else if (home->connected()) {
      s->noteConnected();
      touch(*s);  // delivered with this session's events
    }
  }
}

// Streams within the limit that have not heard Connected yet hear it now.
void H2ClientSession::startWaiting() {
  size_t limit = std::min<size_t>(streamLimit(), streams_.size());
  for (size_t i = 0; i < limit; ++i) {
    if (streams_[i]->noteConnected()) touch(*streams_[i]);
  }
}

void H2ClientSession::receive() {
  ByteQueue& in = conn_->in();
  inNghttp2_ = true;
  bool bad = false;
  while (!in.empty()) {
    std::string_view chunk = in.front();
    ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(chunk.data()),
                                         chunk.size());
    if (n < 0) {
      logDebug("h2 backend {}: {}", authority_, nghttp2_strerror(static_cast<int>(n)));
      bad = true;
      break;
    }
    in.consume(static_cast<size_t>(n));
  }
  inNghttp2_ = false;
  if (bad) {
    in.clear();
    failure_ = "HTTP/2 protocol error";
  }
  conn_->refresh();
  if (!bad && settingsPending_) {
    settingsPending_ = false;
    if (ready_) {
      startWaiting();  // a raised limit lets waiting streams go
    } else {
      becomeReady();
    }
  }
  if (bad) {
    nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
    send();
    end(EPROTO);
  }
}

void H2ClientSession::send() {
  if (inNghttp2_ || conn_ == nullptr || (state_ != State::Open && state_ != State::Closing)) return;
  inNghttp2_ = true;
  int rv = nghttp2_session_send(session_);
  inNghttp2_ = false;
  conn_->flush();
  if (rv != 0) {
    logDebug("h2 backend {}: {}", authority_, nghttp2_strerror(rv));
    failure_ = "HTTP/2 send failed";
    state_ = State::Closing;  // end() from the next event: streams may be mid-call
    conn_->stream().failSoon(EPROTO);
  }
}

void H2ClientSession::touch(H2UpstreamStream& stream) {
  if (std::find(touched_.begin(), touched_.end(), &stream) == touched_.end()) {
    touched_.push_back(&stream);
  }
}

// Events to the exchanges, now that nghttp2 returned: one may write, release
// or reset its stream from its handler.
void H2ClientSession::deliver() {
  while (!touched_.empty()) {
    std::vector<H2UpstreamStream*> batch;
    batch.swap(touched_);
    for (H2UpstreamStream* s : batch) {
      StreamEvent event;
      while (s->user() != nullptr && s->takeEvent(event)) s->user()->onBackendEvent(*s, event);
    }
  }
}

void H2ClientSession::end(int err) {
  if (state_ == State::Over) return;
  state_ = State::Over;
  pool_.worker().io().timers.cancel(timer_);
  for (H2UpstreamStream* s : streams_) {
    s->onSessionEnd(err);
    touch(*s);
  }
  deliver();
  for (H2UpstreamStream* s : streams_) s->orphan();
  streams_.clear();
  if (conn_ != nullptr) conn_->close();
  conn_ = nullptr;
  pool_.retire(*this);
}

void H2ClientSession::maybeClose() {
  if (state_ != State::Open || !streams_.empty()) return;
  bool done = !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_);
  if (stopped_ || goaway_ || done) {
    end(0);
    return;
  }
  if (!timer_.armed()) {
    IoContext& io = pool_.worker().io();
    io.timers.schedule(timer_, io.now + pool_.idleTimeout());
  }
}

void H2ClientSession::onTimer(Timer&) {
  if (state_ == State::Open && !ready_) {
    failure_ = "no SETTINGS from the backend within connect_timeout";
    end(ETIMEDOUT);
    return;
  }
  if (streams_.empty()) end(0);  // idle for the pool's idle timeout
}

// ---------------------------------------------------------------- streams

H2UpstreamStream* H2ClientSession::stream(int32_t id) {
  return static_cast<H2UpstreamStream*>(nghttp2_session_get_stream_user_data(session_, id));
}

void H2ClientSession::submit(H2UpstreamStream& stream) {
  requestParser_.reset();
  ByteQueue& out = stream.out();
  http::ParseResult r;
  while (!out.empty() && r.status == http::ParseStatus::NeedMore) {
    r = requestParser_.feed(out.front());
    if (r.status == http::ParseStatus::Error) break;
    out.consume(r.consumed);
  }
  if (r.status != http::ParseStatus::HeadComplete) {
    stream.fail(EPROTO);  // never: the exchange writes whole, valid heads
    touch(stream);
    return;
  }
  const http::MessageHead& head = requestParser_.head();
  std::vector<nghttp2_nv> nv = requestFields(head);
  bool body = head.framing != http::BodyFraming::None &&
              !(head.framing == http::BodyFraming::ContentLength && head.contentLength == 0);
  nghttp2_data_provider provider{};
  provider.read_callback = H2ClientCallbacks::readData;
  int32_t id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(),
                                      body ? &provider : nullptr, &stream);
  if (id < 0) {
    goaway_ = true;             // out of stream ids (or broken): no new streams here
    stream.fail(ECONNREFUSED);  // seen by the exchange's next checks, retried
    touch(stream);
    return;
  }
  stream.submitted(id, head, requestHeadLimits());
  // Stream ids run out after 2^30 requests: new streams go to a new connection.
  if (nghttp2_session_get_next_stream_id(session_) > (1u << 31) - 1024) goaway_ = true;
}

// The HTTP/1.1 head as HTTP/2 fields (RFC 9113 section 8.2.2 and 8.3.1):
// pseudo-fields first, names lower-cased, connection-specific fields
// dropped; `te: trailers` says the proxy relays trailers (gRPC needs it).
std::vector<nghttp2_nv> H2ClientSession::requestFields(const http::MessageHead& head) {
  fields_.clear();
  size_t total = 16;
  for (const auto& f : head.headers) total += f.name.size();
  fields_.reserve(total + 1);  // no reallocation: the nv point into it
  std::string_view path = head.target;
  if (head.targetForm == http::TargetForm::Absolute) path = head.path.empty() ? "/" : head.path;
  std::vector<nghttp2_nv> nv;
  nv.reserve(head.headers.size() + 5);
  nv.push_back(h2Field(":method", head.methodName));
  nv.push_back(h2Field(":scheme", tls_ ? "https" : "http"));
  nv.push_back(h2Field(":authority", head.host.empty() ? authority_ : head.host));
  nv.push_back(h2Field(":path", path));
  for (const auto& f : head.headers) {
    if (head.isHopByHop(f.name) || equalsIgnoreCase(f.name, "host")) continue;
    size_t at = fields_.size();
    for (char c : f.name) fields_.push_back(asciiLower(c));
    nv.push_back(h2Field(std::string_view(fields_).substr(at, f.name.size()), f.value));
  }
  nv.push_back(h2Field("te", "trailers"));
  return nv;
}

// A chunked request's trailers as trailing HEADERS; false: none to send.
bool H2ClientSession::submitTrailers(nghttp2_session* session, int32_t id, std::string_view raw) {
  std::string lines = h2TrailerLines(raw);
  if (lines.empty()) return false;
  std::vector<nghttp2_nv> nv = h2TrailerFields(lines);  // nghttp2 copies them
  return nghttp2_submit_trailer(session, id, nv.data(), nv.size()) == 0;
}

void H2ClientSession::resumeData(int32_t id) { nghttp2_session_resume_data(session_, id); }

void H2ClientSession::consume(int32_t id, size_t n) {
  if (state_ != State::Open) return;
  nghttp2_session_consume_stream(session_, id, n);
  send();  // the WINDOW_UPDATE
}

void H2ClientSession::detach(H2UpstreamStream& stream) {
  std::erase(streams_, &stream);
  std::erase(touched_, &stream);
  int32_t id = stream.id();
  if (id > 0 && state_ != State::Over) {
    nghttp2_session_set_stream_user_data(session_, id, nullptr);
    // What it received and nobody will take (harmless once it is closed).
    if (stream.unacknowledged() > 0) {
      nghttp2_session_consume_stream(session_, id, stream.unacknowledged());
    }
    if (!stream.closed()) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    }
    send();
  }
  pool_.worker().deferDelete(&stream);
  if (connected()) startWaiting();  // a stream waiting past the limit may go now
  // No stream is left to hear about it: closing now is safe.
  if (!inNghttp2_) maybeClose();
}

}  // namespace ringlb::l7
