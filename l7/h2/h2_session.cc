#include "l7/h2/h2_session.h"

#include <algorithm>
#include <array>

#include "common/log.h"
#include "common/stats.h"
#include "common/worker.h"
#include "l7/h2/h2_stream.h"
#include "l7/http/http_service.h"

namespace ringlb::l7 {
namespace {

// One frame of slack over max_header_size for the raw header block: HPACK
// may carry a field list near the limit in a little more than its size.
constexpr uint64_t kHeaderBlockSlack = 16 * 1024;

// Response parsers kept for the next streams (each holds a head buffer of
// max_request_line + max_header_size bytes).
constexpr size_t kIdleParsers = 16;

// Skipped stream id ranges remembered (older ones are forgotten).
constexpr size_t kSkippedRanges = 16;

size_t codeSlot(uint32_t code) { return code < kHttp2Codes - 1 ? code : kHttp2Codes - 1; }

}  // namespace

std::vector<nghttp2_nv> h2TrailerFields(std::string_view lines) {
  std::vector<nghttp2_nv> nv;
  while (!lines.empty()) {
    size_t end = lines.find("\r\n");
    std::string_view line = lines.substr(0, end);
    lines.remove_prefix(end + 2);
    size_t colon = line.find(": ");
    nv.push_back(h2Field(line.substr(0, colon), line.substr(colon + 2)));
  }
  return nv;
}

// nghttp2's callbacks, each forwarding to the session (user_data).
struct H2Callbacks {
  static H2Session& of(void* user) { return *static_cast<H2Session*>(user); }

  static ssize_t send(nghttp2_session*, const uint8_t* data, size_t length, int, void* user) {
    H2Session& s = of(user);
    if (s.client_.out().size() >= H2Limits::kSendQueue) return NGHTTP2_ERR_WOULDBLOCK;
    s.client_.out().append({reinterpret_cast<const char*>(data), length});
    return static_cast<ssize_t>(length);
  }

  // DATA without a copy: the frame header, then the stream's queued payload.
  static int sendData(nghttp2_session*, nghttp2_frame* frame, const uint8_t* header, size_t length,
                      nghttp2_data_source*, void* user) {
    H2Session& s = of(user);
    if (s.client_.out().size() >= H2Limits::kSendQueue) return NGHTTP2_ERR_WOULDBLOCK;
    H2Stream* stream = s.stream(frame->hd.stream_id);
    if (stream == nullptr || stream->responseBody().size() < length) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;  // never: the read callback said so
    }
    s.client_.out().append({reinterpret_cast<const char*>(header), 9});
    stream->responseBody().moveTo(s.client_.out(), length);
    return 0;
  }

  static ssize_t readData(nghttp2_session*, int32_t id, uint8_t*, size_t length, uint32_t* flags,
                          nghttp2_data_source*, void* user) {
    H2Stream* stream = of(user).stream(id);
    if (stream == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    return stream->readResponse(length, flags);
  }

  static int beginFrame(nghttp2_session* session, const nghttp2_frame_hd* hd, void* user) {
    H2Session& s = of(user);
    if (hd->type == NGHTTP2_HEADERS) {
      s.headerBlockBytes_ = 0;
      // A new stream past SETTINGS_MAX_CONCURRENT_STREAMS: nghttp2 refuses
      // it (RST_STREAM REFUSED_STREAM before our SETTINGS were acknowledged,
      // GOAWAY PROTOCOL_ERROR after, RFC 9113 section 5.1.2); counted here.
      bool opens = nghttp2_session_find_stream(session, hd->stream_id) == nullptr &&
                   hd->stream_id > nghttp2_session_get_last_proc_stream_id(session);
      if (opens && s.streams_.size() >= H2Limits::kMaxConcurrentStreams) {
        s.stats().http2.limitHits[static_cast<size_t>(Http2Limit::ConcurrentStreams)].add();
      }
      // nghttp2 ignores HEADERS on a stream the client skipped; RFC 9113
      // section 5.1.1 makes it a connection error.
      for (auto [first, last] : s.skipped_) {
        if (hd->stream_id >= first && hd->stream_id <= last) {
          s.terminate(NGHTTP2_PROTOCOL_ERROR, std::nullopt);
          break;
        }
      }
      // Every new stream id counts, refused ones too: the ids between are skipped.
      int32_t id = hd->stream_id;
      if (id % 2 == 1 && id > s.lastStreamId_) {
        if (id > s.lastStreamId_ + 2) {
          if (s.skipped_.size() == kSkippedRanges) s.skipped_.erase(s.skipped_.begin());
          s.skipped_.emplace_back(s.lastStreamId_ + 2, id - 2);
        }
        s.lastStreamId_ = id;
      }
    }
    if (hd->type == NGHTTP2_HEADERS || hd->type == NGHTTP2_CONTINUATION) {
      s.headerBlockBytes_ += hd->length;
      if (s.headerBlockBytes_ > s.info_.listener.maxHeaderSize + kHeaderBlockSlack) {
        s.terminate(NGHTTP2_ENHANCE_YOUR_CALM, Http2Limit::HeaderBlock);
      }
    }
    return 0;
  }

  static int beginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
    H2Session& s = of(user);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    if (s.draining_ && frame->hd.stream_id > s.goawayLastId_) {
      // Past our GOAWAY (read before it went out): refused, never started,
      // so the client may safely retry it elsewhere.
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id,
                                NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    auto* stream = new H2Stream(s, frame->hd.stream_id);
    s.streams_.emplace(frame->hd.stream_id, stream);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, stream);
    return 0;
  }

  static int header(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                    size_t nameLength, const uint8_t* value, size_t valueLength, uint8_t,
                    void* user) {
    H2Session& s = of(user);
    if (s.terminating_) return 0;
    H2Stream* stream = s.stream(frame->hd.stream_id);
    if (stream == nullptr) return 0;
    std::string_view n(reinterpret_cast<const char*>(name), nameLength);
    std::string_view v(reinterpret_cast<const char*>(value), valueLength);
    if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      stream->request().add(n, v);
    } else if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) {
      stream->onRequestTrailer(n, v);
    }
    return 0;
  }

  static int frameReceived(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2Session& s = of(user);
    ListenerStats& stats = s.stats();
    H2Stream* stream = frame->hd.stream_id != 0 ? s.stream(frame->hd.stream_id) : nullptr;
    bool endStream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    auto now = s.service_.worker().now();
    switch (frame->hd.type) {
      case NGHTTP2_HEADERS:
        if (stream == nullptr || s.terminating_) break;
        if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
          stream->onHeadersEnd(endStream);
        } else if (endStream) {
          stream->onRequestEnd();
        }
        break;
      case NGHTTP2_DATA:
        if (frame->hd.length == 0 && !endStream && !s.control_.take(now)) {
          s.terminate(NGHTTP2_ENHANCE_YOUR_CALM, Http2Limit::ControlFlood);
        }
        if (stream != nullptr && endStream) stream->onRequestEnd();
        break;
      case NGHTTP2_RST_STREAM:
        stats.http2.resetsReceived[codeSlot(frame->rst_stream.error_code)].add();
        if (!s.resets_.take(now)) s.terminate(NGHTTP2_ENHANCE_YOUR_CALM, Http2Limit::RapidReset);
        break;
      case NGHTTP2_GOAWAY:
        stats.http2.goawaysReceived[codeSlot(frame->goaway.error_code)].add();
        break;
      case NGHTTP2_SETTINGS:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0) break;
        s.prefaceSeen_ = true;
        if (!s.control_.take(now)) s.terminate(NGHTTP2_ENHANCE_YOUR_CALM, Http2Limit::ControlFlood);
        break;
      case NGHTTP2_PING:
        if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0) break;
        if (!s.control_.take(now)) s.terminate(NGHTTP2_ENHANCE_YOUR_CALM, Http2Limit::ControlFlood);
        break;
      case NGHTTP2_PRIORITY:
        if (!s.control_.take(now)) s.terminate(NGHTTP2_ENHANCE_YOUR_CALM, Http2Limit::ControlFlood);
        break;
      default: break;
    }
    return 0;
  }

  static int dataChunk(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data,
                       size_t length, void* user) {
    H2Stream* stream = of(user).stream(id);
    if (stream == nullptr) {
      nghttp2_session_consume(session, id, length);  // nobody takes it: the window reopens
      return 0;
    }
    stream->onData(data, length);
    return 0;
  }

  static int frameSent(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2Session& s = of(user);
    ListenerStats& stats = s.stats();
    switch (frame->hd.type) {
      case NGHTTP2_GOAWAY: stats.http2.goawaysSent[codeSlot(frame->goaway.error_code)].add(); break;
      case NGHTTP2_RST_STREAM:
        stats.http2.resetsSent[codeSlot(frame->rst_stream.error_code)].add();
        break;
      case NGHTTP2_HEADERS:
      case NGHTTP2_DATA:
        if (H2Stream* stream = s.stream(frame->hd.stream_id)) {
          stream->onFrameSent(frame->hd.length + 9,
                              (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0);
        }
        break;
      default: break;
    }
    return 0;
  }

  static int streamClosed(nghttp2_session*, int32_t id, uint32_t code, void* user) {
    H2Session& s = of(user);
    if (H2Stream* stream = s.stream(id)) {
      stream->onClosed(code);
      s.retire(*stream);
    }
    return 0;
  }
};

H2Session::H2Session(HttpService& service, Stream& client, H2Owner& owner, H2ConnectionInfo info)
    : service_(service), client_(client), owner_(owner), info_(info) {}

H2Session::~H2Session() {
  for (auto& [id, stream] : streams_) {
    stream->abandon(AccessEnd::ClientClosed);
    delete stream;
  }
  streams_.clear();
  if (session_ != nullptr) nghttp2_session_del(session_);
}

ListenerStats& H2Session::stats() { return service_.stats(); }

H2Stream* H2Session::stream(int32_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : it->second;
}

bool H2Session::start() {
  nghttp2_session_callbacks* callbacks = nullptr;
  if (nghttp2_session_callbacks_new(&callbacks) != 0) return false;
  nghttp2_session_callbacks_set_send_callback(callbacks, H2Callbacks::send);
  nghttp2_session_callbacks_set_send_data_callback(callbacks, H2Callbacks::sendData);
  nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, H2Callbacks::beginFrame);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, H2Callbacks::beginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, H2Callbacks::header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, H2Callbacks::frameReceived);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, H2Callbacks::dataChunk);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, H2Callbacks::frameSent);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, H2Callbacks::streamClosed);
  nghttp2_option* options = nullptr;
  if (nghttp2_option_new(&options) != 0) {
    nghttp2_session_callbacks_del(callbacks);
    return false;
  }
  // Windows open as the backends take the bytes, not as they arrive.
  nghttp2_option_set_no_auto_window_update(options, 1);
  nghttp2_option_set_max_outbound_ack(options, H2Limits::kMaxOutboundAcks);
  int rv = nghttp2_session_server_new2(&session_, callbacks, this, options);
  nghttp2_option_del(options);
  nghttp2_session_callbacks_del(callbacks);
  if (rv != 0) return false;
  std::array<nghttp2_settings_entry, 3> settings{{
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, H2Limits::kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2Limits::kStreamWindow},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, info_.listener.maxHeaderSize},
  }};
  if (nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size()) != 0 ||
      nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                            H2Limits::kConnectionWindow) != 0) {
    return false;
  }
  Worker& worker = service_.worker();
  lastActivity_ = lastSend_ = worker.now();
  worker.timers().schedule(timer_, worker.now() + info_.listener.headerTimeout);
  Entry entry(*this);
  return true;
}

// ------------------------------------------------------------------ events

void H2Session::onClientEvent(StreamEvent) { Entry entry(*this); }

void H2Session::onTimer(Timer&) {
  Entry entry(*this);
  Worker& worker = service_.worker();
  if (!prefaceSeen_) {
    // Not an HTTP/2 client after all (or a slow one): closed without a word.
    stats().rejected[static_cast<size_t>(RejectReason::HeaderTimeout)].add();
    failed_ = true;
    return;
  }
  auto idle = info_.listener.effectiveIdleTimeout();
  if (!client_.sendIdle() && worker.now() - lastSend_ >= idle) {
    // The client has not taken a byte for idle_timeout: nothing queued for it
    // (a GOAWAY, resets) would ever leave. Closed.
    logDebug("listener {}: HTTP/2 client {} stopped reading: closed", info_.listener.name,
             info_.clientAddr);
    failed_ = true;
    return;
  }
  if (streams_.empty() && !idleClose_ && worker.now() - lastActivity_ >= idle) {
    idleClose_ = true;
    nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
  }
}

void H2Session::drain() {
  Entry entry(*this);
  if (draining_ || failed_) return;
  draining_ = true;
  // Streams the client opened so far are served; later ones are refused.
  goawayLastId_ = nghttp2_session_get_last_proc_stream_id(session_);
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, goawayLastId_, NGHTTP2_NO_ERROR, nullptr, 0);
}

void H2Session::abandon(AccessEnd why) {
  for (auto& [id, stream] : streams_) stream->abandon(why);
  service_.worker().timers().cancel(timer_);
}

void H2Session::wake() { Entry entry(*this); }

std::unique_ptr<http::Http1Parser> H2Session::lendParser() {
  if (parsers_.empty()) {
    return std::make_unique<http::Http1Parser>(http::MessageKind::Response,
                                               parserLimits(info_.listener));
  }
  auto parser = std::move(parsers_.back());
  parsers_.pop_back();
  parser->reset();
  return parser;
}

void H2Session::ResponseFields::build(std::string_view status) {
  nv.push_back(h2Field(":status", status));
  size_t at = 0;
  for (const auto& f : fields) {
    nv.push_back(h2Field(std::string_view(names).substr(at, f.name.size()), f.value));
    at += f.name.size();
  }
}

void H2Session::retire(H2Stream& stream) {
  streams_.erase(stream.id());
  // Its exchange has ended: the parser serves the next stream.
  if (auto parser = stream.takeParser(); parser && parsers_.size() < kIdleParsers) {
    parsers_.push_back(std::move(parser));
  }
  service_.worker().deferDelete(&stream);
  if (streams_.empty()) {
    // idle_timeout counts from the end of the last stream, not from the
    // last frame the client sent.
    lastActivity_ = service_.worker().now();
    service_.worker().timers().cancel(timer_);
  }
}

void H2Session::resumeData(int32_t id) { nghttp2_session_resume_data(session_, id); }

void H2Session::resetStream(int32_t id, uint32_t code) {
  nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, code);
}

void H2Session::terminate(uint32_t code, std::optional<Http2Limit> limit) {
  if (terminating_) return;
  terminating_ = true;
  if (limit) {
    stats().http2.limitHits[static_cast<size_t>(*limit)].add();
    logInfo("listener {}: HTTP/2 client {} went past the {} limit: GOAWAY {}", info_.listener.name,
            info_.clientAddr, http2LimitName(*limit), http2CodeName(code));
  } else {
    logDebug("listener {}: HTTP/2 client {}: GOAWAY {}", info_.listener.name, info_.clientAddr,
             http2CodeName(code));
  }
  nghttp2_session_terminate_session(session_, code);
}

// ------------------------------------------------------------------ steps

void H2Session::leave() {
  if (--depth_ != 0) return;
  ++depth_;  // what progress() calls back into stays inside this level
  progress();
  --depth_;
  if (reported_ || !over()) return;
  bool flushed = client_.sendIdle() || client_.error() != 0;
  if (!flushed && !failed_ && !client_.eof()) return;  // the GOAWAY goes out first
  reported_ = true;
  service_.worker().timers().cancel(timer_);
  AccessEnd why =
      client_.eof() || client_.error() != 0 ? AccessEnd::ClientClosed : AccessEnd::Closed;
  owner_.onH2Finished(!failed_ && !terminating_, why);
}

bool H2Session::over() const {
  if (failed_ || client_.error() != 0) return true;
  if (client_.eof() && client_.in().empty()) return true;
  return nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0;
}

void H2Session::progress() {
  if (session_ == nullptr) return;
  // Input and output alternate: frames read may queue answers, answers sent
  // may let more input in (reading waits while the send queue is full).
  for (int round = 0; round < 4 && !failed_; ++round) {
    size_t before = client_.in().size();
    receive();
    // Streams step after every event: their exchanges move what they can.
    stepping_.clear();
    for (auto& [id, stream] : streams_) stepping_.push_back(stream);
    for (size_t i = 0; i < stepping_.size(); ++i) {
      if (!stepping_[i]->closed()) stepping_[i]->step();
    }
    send();
    if (client_.in().size() == before || client_.in().empty()) break;
  }
  // The send-stall clock runs only while something waits to be sent, and
  // restarts whenever a byte left.
  if (client_.sendIdle() || client_.bytesSent() != sentBefore_) {
    lastSend_ = service_.worker().now();
    sentBefore_ = client_.bytesSent();
  }
  armTimer();
}

void H2Session::receive() {
  ByteQueue& in = client_.in();
  if (failed_ || terminating_) {
    in.clear();  // after a GOAWAY for an error nothing more is read
    client_.refresh();
    return;
  }
  while (!in.empty() && client_.out().size() < H2Limits::kSendQueue) {
    std::string_view chunk = in.front();
    ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(chunk.data()),
                                         chunk.size());
    if (n < 0) {
      if (n == NGHTTP2_ERR_FLOODED) {
        stats().http2.limitHits[static_cast<size_t>(Http2Limit::ControlFlood)].add();
      }
      logDebug("listener {}: HTTP/2 from {}: {}", info_.listener.name, info_.clientAddr,
               nghttp2_strerror(static_cast<int>(n)));
      failed_ = true;
      in.clear();
      break;
    }
    in.consume(static_cast<size_t>(n));
    if (terminating_) {
      in.clear();
      break;
    }
  }
  client_.refresh();
}

void H2Session::send() {
  if (failed_) return;
  int rv = nghttp2_session_send(session_);
  if (rv != 0) {
    logDebug("listener {}: HTTP/2 to {}: {}", info_.listener.name, info_.clientAddr,
             nghttp2_strerror(rv));
    failed_ = true;
  }
  client_.flush();
}

void H2Session::armTimer() {
  if (!prefaceSeen_ || failed_ || reported_) return;  // the preface's header_timeout runs
  Worker& worker = service_.worker();
  auto idle = info_.listener.effectiveIdleTimeout();
  std::optional<std::chrono::steady_clock::time_point> at;
  if (streams_.empty() && !idleClose_) at = lastActivity_ + idle;
  if (!client_.sendIdle()) at = std::min(at.value_or(lastSend_ + idle), lastSend_ + idle);
  if (!at) {
    worker.timers().cancel(timer_);
    return;
  }
  // Never in the past: a deadline that passed fires on the next tick, once.
  worker.timers().schedule(timer_, std::max(*at, worker.now() + std::chrono::milliseconds(1)));
}

}  // namespace ringlb::l7
