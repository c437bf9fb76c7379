// H2UpstreamPool, H2ClientSession and H2UpstreamStream: HTTP/2 connections
// to a backend, driven on the test's thread. A real worker runs a
// ConnectionPool and an H2UpstreamPool; the backend is a loopback listener
// the test accepts itself and answers with an nghttp2 server session (bytes
// pumped by hand between it and its non-blocking sockets on every turn). The
// exchange's side is played by a BackendUser that writes HTTP/1.1 request
// bytes into out() and reads the HTTP/1.1 response bytes from in().
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/address.h"
#include "l7/h2/h2_upstream_pool.h"
#include "l7/h2/h2_upstream_stream.h"
#include "l7/http/connection_pool.h"
#include "tests/fakes/worker_fixture.h"

namespace ringlb::l7::h2_upstream_test {
namespace {

using testing::BackendPeer;
using testing::Peer;
using testing::WorkerFixture;

using Fields = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kConfig =
    "[pools.p]\nbackends = [\"127.0.0.1:9\"]\n"
    "[listeners.front]\nbind = \"127.0.0.1:1\"\nmode = \"http\"\npool = \"p\"\n";

constexpr size_t kStreamWindow = H2UpstreamLimits::kStreamWindow;

// Writes what the socket takes now (never blocks: the proxy runs on this thread).
void sendSome(int fd, std::string& pending) {
  while (!pending.empty()) {
    ssize_t n = ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) return;
    pending.erase(0, static_cast<size_t>(n));
  }
}

// Bytes that are not all alike, so that a reordered or shifted body shows.
std::string pattern(size_t size, unsigned seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + seed + i / 977) % 251);
  return s;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string valueOf(const Fields& fields, std::string_view name) {
  for (const auto& [n, v] : fields) {
    if (n == name) return v;
  }
  return "<absent>";
}

int countOf(const Fields& fields, std::string_view name) {
  int n = 0;
  for (const auto& f : fields) n += f.first == name ? 1 : 0;
  return n;
}

std::string describe(const Fields& fields) {
  std::string s;
  for (const auto& [n, v] : fields) s += n + ": " + v + "\n";
  return s;
}

// The bytes a queue holds, without taking them.
std::string contents(const ByteQueue& q) {
  std::vector<iovec> iov(q.buffers() + 1);
  size_t n = q.gather(iov.data(), iov.size());
  std::string s;
  s.reserve(q.size());
  for (size_t i = 0; i < n; ++i)
    s.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
  return s;
}

// An HTTP/1.1 response as in() holds it.
struct Response {
  std::string statusLine;
  Fields fields;  // names as written
  std::string body;
  Fields trailers;
  bool chunked = false;
  bool complete = false;  // the body ended by its framing
  bool malformed = false;
};

Response parseResponse(std::string_view text) {
  Response r;
  size_t headEnd = text.find("\r\n\r\n");
  if (headEnd == std::string_view::npos) return r;
  std::string_view head = text.substr(0, headEnd + 2);
  std::string_view rest = text.substr(headEnd + 4);
  size_t eol = head.find("\r\n");
  r.statusLine = head.substr(0, eol);
  head.remove_prefix(eol + 2);
  auto splitField = [&](std::string_view line, Fields& into) {
    size_t colon = line.find(": ");
    if (colon == std::string_view::npos) {
      r.malformed = true;
      return;
    }
    into.emplace_back(line.substr(0, colon), line.substr(colon + 2));
  };
  while (!head.empty()) {
    eol = head.find("\r\n");
    splitField(head.substr(0, eol), r.fields);
    head.remove_prefix(eol + 2);
  }
  if (valueOf(r.fields, "transfer-encoding") == "chunked") {
    r.chunked = true;
    for (;;) {
      eol = rest.find("\r\n");
      if (eol == std::string_view::npos) return r;
      size_t size = std::stoul(std::string(rest.substr(0, eol)), nullptr, 16);
      rest.remove_prefix(eol + 2);
      if (size == 0) break;
      if (rest.size() < size + 2) return r;
      if (rest.substr(size, 2) != "\r\n") {
        r.malformed = true;
        return r;
      }
      r.body.append(rest.substr(0, size));
      rest.remove_prefix(size + 2);
    }
    for (;;) {
      eol = rest.find("\r\n");
      if (eol == std::string_view::npos) return r;
      if (eol == 0) {
        r.complete = true;
        r.malformed = r.malformed || rest.size() != 2;  // nothing after the last chunk
        return r;
      }
      splitField(rest.substr(0, eol), r.trailers);
      rest.remove_prefix(eol + 2);
    }
  }
  std::string length = valueOf(r.fields, "content-length");
  size_t n = length == "<absent>" ? 0 : std::stoul(length);
  r.body = rest.substr(0, std::min(n, rest.size()));
  r.complete = rest.size() >= n;
  r.malformed = rest.size() > n;
  return r;
}

// The backend: every connection the proxy made to it, each an nghttp2
// server session; what each stream received, and what the test answers.
class FakeH2Backend {
 public:
  struct Stream {
    Fields head;
    Fields trailers;
    std::string data;
    bool headDone = false;
    bool ended = false;  // the request's END_STREAM came
    bool closed = false;
    uint32_t closeCode = 0;
    int64_t rstCode = -1;  // the RST_STREAM the proxy sent, if any
    bool answered = false;
    // The response body being sent.
    std::string body;
    size_t sent = 0;
    bool bodyEnd = false;
    Fields responseTrailers;
    bool deferred = false;
  };

  class Conn {
   public:
    Conn(Peer peer, const std::vector<nghttp2_settings_entry>& settings, bool sendSettings)
        : peer_(std::move(peer)) {
      nghttp2_session_callbacks* cb = nullptr;
      nghttp2_session_callbacks_new(&cb);
      nghttp2_session_callbacks_set_on_begin_headers_callback(cb, onBeginHeaders);
      nghttp2_session_callbacks_set_on_header_callback(cb, onHeader);
      nghttp2_session_callbacks_set_on_frame_recv_callback(cb, onFrame);
      nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, onData);
      nghttp2_session_callbacks_set_on_stream_close_callback(cb, onClose);
      nghttp2_option* opt = nullptr;
      nghttp2_option_new(&opt);
      // Every field as it came (the tests check them), none refused.
      nghttp2_option_set_no_http_messaging(opt, 1);
      nghttp2_session_server_new2(&session_, cb, this, opt);
      nghttp2_option_del(opt);
      nghttp2_session_callbacks_del(cb);
      if (sendSettings) {
        sendSettingsNow(settings);
      } else {
        paused_ = true;  // not even its SETTINGS ACK may go first
      }
    }
    ~Conn() { nghttp2_session_del(session_); }
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    void pump() {
      if (!open_ || paused_) return;
      std::string got;
      open_ = peer_.read(got);
      if (!got.empty() && recvError_ == 0) {
        ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(got.data()),
                                             got.size());
        if (n < 0) recvError_ = static_cast<int>(n);
      }
      frames();
      sendSome(peer_.fd(), out_);
    }

    // The response head; `body` follows as DATA (more() adds to it until
    // `end`), then `trailers` as trailing HEADERS. No body, `end` and no
    // trailers: HEADERS with END_STREAM.
    void respond(int32_t id, Fields head, std::string body = "", bool end = true,
                 Fields trailers = {}) {
      Stream& s = streams[id];
      s.answered = true;
      s.body = std::move(body);
      s.bodyEnd = end;
      s.responseTrailers = std::move(trailers);
      std::vector<nghttp2_nv> nv = toNv(head);
      nghttp2_data_provider provider{};
      provider.source.ptr = &s;
      provider.read_callback = readBody;
      bool headersOnly = s.body.empty() && end && s.responseTrailers.empty();
      nghttp2_submit_response(session_, id, nv.data(), nv.size(),
                              headersOnly ? nullptr : &provider);
      frames();
    }
    void more(int32_t id, std::string_view bytes, bool end) {
      Stream& s = streams[id];
      s.body.append(bytes);
      s.bodyEnd = end;
      if (s.deferred) {
        s.deferred = false;
        nghttp2_session_resume_data(session_, id);
      }
      frames();
    }
    void reset(int32_t id, uint32_t code) {
      streams[id].answered = true;
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, code);
      frames();
    }
    // The SETTINGS that start the connection (held until now: nothing was read).
    void sendSettingsNow(const std::vector<nghttp2_settings_entry>& settings) {
      paused_ = false;
      nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
      frames();
    }
    // GOAWAY: streams past `lastId` were never processed.
    void goaway(int32_t lastId) {
      nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, lastId, NGHTTP2_NO_ERROR, nullptr, 0);
      frames();
    }
    // A 1xx response before the final one.
    void interim(int32_t id, Fields head) {
      std::vector<nghttp2_nv> nv = toNv(head);
      nghttp2_submit_headers(session_, NGHTTP2_FLAG_NONE, id, nullptr, nv.data(), nv.size(),
                             nullptr);
      frames();
    }
    // The stream window the proxy left this response (what may still go).
    int32_t sendWindow(int32_t id) const {
      return nghttp2_session_get_stream_remote_window_size(session_, id);
    }
    int32_t connectionSendWindow() const {
      return nghttp2_session_get_remote_window_size(session_);
    }
    bool open() const { return open_; }
    int recvError() const { return recvError_; }

    std::map<int32_t, Stream> streams;  // stable: nghttp2 holds pointers
    std::vector<int32_t> order;         // stream ids as their HEADERS came
    int64_t goawayCode = -1;

   private:
    static Conn& of(void* user) { return *static_cast<Conn*>(user); }
    static std::vector<nghttp2_nv> toNv(Fields& fields) {
      std::vector<nghttp2_nv> nv;
      for (auto& [n, v] : fields) {
        nv.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                      n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
      }
      return nv;
    }
    void frames() {
      const uint8_t* data = nullptr;
      for (ssize_t n;
           out_.size() < (1u << 20) && (n = nghttp2_session_mem_send(session_, &data)) > 0;) {
        out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
      }
    }
    static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
      Conn& c = of(user);
      if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        c.streams[frame->hd.stream_id];
        c.order.push_back(frame->hd.stream_id);
      }
      return 0;
    }
    static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                        size_t nameLength, const uint8_t* value, size_t valueLength, uint8_t,
                        void* user) {
      Stream& s = of(user).streams[frame->hd.stream_id];
      (s.headDone ? s.trailers : s.head)
          .emplace_back(std::string(reinterpret_cast<const char*>(name), nameLength),
                        std::string(reinterpret_cast<const char*>(value), valueLength));
      return 0;
    }
    static int onFrame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
      Conn& c = of(user);
      if (frame->hd.type == NGHTTP2_GOAWAY) c.goawayCode = frame->goaway.error_code;
      if (frame->hd.stream_id == 0) return 0;
      auto it = c.streams.find(frame->hd.stream_id);
      if (it == c.streams.end()) return 0;
      Stream& s = it->second;
      if (frame->hd.type == NGHTTP2_HEADERS) s.headDone = true;
      if (frame->hd.type == NGHTTP2_RST_STREAM) s.rstCode = frame->rst_stream.error_code;
      if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
          (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
        s.ended = true;
      }
      return 0;
    }
    static int onData(nghttp2_session*, uint8_t, int32_t id, const uint8_t* data, size_t length,
                      void* user) {
      of(user).streams[id].data.append(reinterpret_cast<const char*>(data), length);
      return 0;
    }
    static int onClose(nghttp2_session*, int32_t id, uint32_t code, void* user) {
      auto& streams = of(user).streams;
      auto it = streams.find(id);
      if (it == streams.end()) return 0;
      it->second.closed = true;
      it->second.closeCode = code;
      return 0;
    }
    static ssize_t readBody(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                            uint32_t* flags, nghttp2_data_source* source, void*) {
      auto* s = static_cast<Stream*>(source->ptr);
      size_t n = std::min(length, s->body.size() - s->sent);
      std::memcpy(buf, s->body.data() + s->sent, n);
      s->sent += n;
      if (s->sent < s->body.size()) return static_cast<ssize_t>(n);
      if (!s->bodyEnd) {
        if (n > 0) return static_cast<ssize_t>(n);
        s->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
      }
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!s->responseTrailers.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        std::vector<nghttp2_nv> nv = toNv(s->responseTrailers);
        nghttp2_submit_trailer(session, id, nv.data(), nv.size());
      }
      return static_cast<ssize_t>(n);
    }

    Peer peer_;
    nghttp2_session* session_ = nullptr;
    std::string out_;
    bool open_ = true;
    bool paused_ = false;
    int recvError_ = 0;
  };

  // Accepts new connections, and moves bytes both ways on each.
  void poll() {
    for (Peer p = listener_.accept(); p.valid(); p = listener_.accept()) {
      conns.push_back(std::make_unique<Conn>(std::move(p), settings(conns.size()), !holdSettings));
    }
    for (auto& c : conns) {
      c->pump();
      if (!onRequest) continue;
      for (auto& [id, s] : c->streams) {
        if (s.ended && !s.answered && !s.closed) onRequest(*c, id, s);
      }
    }
  }
  std::string address() const { return listener_.address(); }
  // The stream whose request :path is `path`, and its connection.
  std::pair<Conn*, int32_t> find(std::string_view path) {
    for (auto& c : conns) {
      for (auto& [id, s] : c->streams) {
        if (valueOf(s.head, ":path") == path) return {c.get(), id};
      }
    }
    return {nullptr, 0};
  }
  Stream* stream(std::string_view path) {
    auto [c, id] = find(path);
    return c != nullptr ? &c->streams[id] : nullptr;
  }
  // A request on `path` came whole (its END_STREAM).
  bool requested(std::string_view path) {
    Stream* s = stream(path);
    return s != nullptr && s->ended;
  }

  // The SETTINGS the n-th connection (from 0) sends first.
  std::function<std::vector<nghttp2_settings_entry>(size_t)> settings = [](size_t) {
    return std::vector<nghttp2_settings_entry>{};
  };
  // New connections neither read nor send until sendSettingsNow().
  bool holdSettings = false;
  // Called for each request that ended and was not answered yet.
  std::function<void(Conn&, int32_t, Stream&)> onRequest;
  std::vector<std::unique_ptr<Conn>> conns;

 private:
  BackendPeer listener_;
};

// The exchange's side of one stream.
struct User : BackendUser {
  ~User() override { release(); }
  // The stream to use: the request goes once it may (at once if ready()).
  void start(H2UpstreamStream* s) {
    stream = s;
    if (s->ready()) write();
  }
  void write() {
    if (written || request.empty()) return;
    written = true;
    stream->out().append(request);
    stream->flush();
  }
  void onBackendEvent(Upstream& upstream, StreamEvent e) override {
    EXPECT_EQ(&upstream, stream);
    events.push_back(e);
    if (e == StreamEvent::Connected) write();
    if (e == StreamEvent::Received && consume) take();
    if (onEvent) onEvent(e);
  }
  // Takes everything in() holds (and lets the window reopen).
  void take() {
    taken += contents(stream->in());
    stream->in().clear();
    stream->refresh();
  }
  std::string held() const { return contents(stream->in()); }
  // What the user took and what in() holds, as one response.
  Response response() const { return parseResponse(taken + held()); }
  void release() {
    if (stream != nullptr && !released) {
      released = true;
      stream->release();
    }
  }
  int count(StreamEvent e) const {
    return static_cast<int>(std::count(events.begin(), events.end(), e));
  }
  bool saw(StreamEvent e) const { return count(e) > 0; }

  H2UpstreamStream* stream = nullptr;
  std::string request;  // HTTP/1.1 bytes, written once the stream may send
  bool written = false;
  bool consume = false;  // takes in() on every Received
  std::string taken;
  std::vector<StreamEvent> events;
  std::function<void(StreamEvent)> onEvent;
  bool released = false;
};

std::string get(const std::string& path, const std::string& host = "app.test") {
  return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n";
}

struct Fixture {
  explicit Fixture(ConnectionPoolOptions options = {})
      : fx(kConfig), connections(fx.worker(), options), h2(fx.worker(), connections) {
    std::string error;
    spec.address = *config::parseNumericAddress(backend.address(), &error);
    spec.timeout = std::chrono::seconds(2);
  }
  ~Fixture() {
    // The users released their streams (they are declared after this).
    h2.stop();
    connections.stop();
    fx.runUntil([&] {
      backend.poll();
      return connections.live() == 0;
    });
    for (int i = 0; i < 5; ++i) fx.worker().turn(std::chrono::milliseconds(1));
  }
  // A stream for `user` on a session with room, or on a new one.
  H2UpstreamStream* open(User& user) {
    H2UpstreamStream* s = h2.take(backend.address(), user);
    if (s == nullptr) s = h2.connect(backend.address(), spec, user);
    user.start(s);
    return s;
  }
  // Runs the worker, pumping the backend, until `done()` (bounded by `limit`).
  template <typename Pred>
  bool pumpUntil(Pred done, std::chrono::milliseconds limit = std::chrono::milliseconds(3000)) {
    return fx.runUntil(
        [&] {
          backend.poll();
          return done();
        },
        limit);
  }
  // A bounded number of turns (for checking that something does not happen).
  void turns(int n) {
    int i = 0;
    fx.runUntil([&] {
      backend.poll();
      return ++i >= n;
    });
  }

  FakeH2Backend backend;
  WorkerFixture fx;
  ConnectionPool connections;
  H2UpstreamPool h2;
  H2ConnectSpec spec;
};

// ------------------------------------------------------------------ 1

TEST(H2Upstream, AGetBecomesHeadersAndA200WithLengthComesBackAsHttp11) {
  Fixture f;
  User user;
  user.request =
      "GET /items?id=7 HTTP/1.1\r\nHost: app.test:8080\r\nConnection: keep-alive, x-hop\r\n"
      "Keep-Alive: timeout=5\r\nX-Hop: 1\r\nTE: gzip\r\nUpgrade: websocket\r\n"
      "X-Request-Id: abc\r\nAccept: */*\r\n\r\n";
  H2UpstreamStream* s = f.open(user);
  EXPECT_FALSE(s->ready()) << "no connection yet";
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/items?id=7"); }))
      << "the request reaches the backend";
  EXPECT_EQ(user.count(StreamEvent::Connected), 1) << "Connected once the backend's SETTINGS came";
  ASSERT_EQ(f.backend.conns.size(), 1u);
  auto [conn, id] = f.backend.find("/items?id=7");
  const FakeH2Backend::Stream& got = conn->streams[id];
  const Fields& h = got.head;
  ASSERT_GE(h.size(), 4u) << describe(h);
  EXPECT_EQ(h[0].first, ":method");
  EXPECT_EQ(valueOf(h, ":method"), "GET");
  EXPECT_EQ(valueOf(h, ":scheme"), "http");
  EXPECT_EQ(valueOf(h, ":authority"), "app.test:8080") << "from Host";
  EXPECT_EQ(valueOf(h, ":path"), "/items?id=7");
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(h[i].first[0], ':') << "pseudo-fields first";
  EXPECT_EQ(valueOf(h, "te"), "trailers");
  EXPECT_EQ(countOf(h, "te"), 1) << describe(h);
  EXPECT_EQ(valueOf(h, "x-request-id"), "abc") << "names lower-cased: " << describe(h);
  EXPECT_EQ(valueOf(h, "accept"), "*/*");
  for (const char* hop :
       {"host", "connection", "keep-alive", "x-hop", "upgrade", "transfer-encoding"}) {
    EXPECT_EQ(countOf(h, hop), 0) << hop << " is not sent: " << describe(h);
  }
  for (const auto& field : h) EXPECT_EQ(field.first, lower(field.first)) << "lower-case names";
  EXPECT_TRUE(got.ended) << "a GET ends with its HEADERS";
  EXPECT_TRUE(got.data.empty());

  conn->respond(id, {{":status", "200"}, {"content-type", "text/plain"}, {"content-length", "4"}},
                "BODY");
  ASSERT_TRUE(f.pumpUntil([&] { return user.response().complete && conn->streams[id].closed; }));
  std::string text = user.held();
  EXPECT_EQ(text.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << text;
  EXPECT_TRUE(text.ends_with("\r\ncontent-length: 4\r\n\r\nBODY")) << text;
  Response r = user.response();
  EXPECT_FALSE(r.malformed) << text;
  EXPECT_EQ(r.statusLine, "HTTP/1.1 200 OK");
  EXPECT_EQ(valueOf(r.fields, "content-type"), "text/plain");
  EXPECT_EQ(countOf(r.fields, "content-length"), 1) << text;
  EXPECT_EQ(countOf(r.fields, "transfer-encoding"), 0) << text;
  EXPECT_EQ(r.body, "BODY");
  EXPECT_TRUE(user.saw(StreamEvent::Received));
  EXPECT_FALSE(user.saw(StreamEvent::Error));
  EXPECT_EQ(s->error(), 0);
  EXPECT_FALSE(s->eof());
  EXPECT_EQ(s->bytesReceived(), text.size()) << "the HTTP/1.1 bytes it produced";
  EXPECT_EQ(s->reuses(), 0u);
  EXPECT_EQ(s->pacedStream(), nullptr);
  EXPECT_EQ(s->connection(), nullptr);
  EXPECT_EQ(conn->streams[id].closeCode, 0u);
}

// ------------------------------------------------------------------ 2

TEST(H2Upstream, AChunkedPostArrivesDechunkedAndItsTrailersAsTrailingHeaders) {
  Fixture f;
  User user;
  user.request =
      "POST /upload HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n"
      "Content-Type: text/plain\r\n\r\n5\r\nhello\r\n";
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] {
    FakeH2Backend::Stream* s = f.backend.stream("/upload");
    return s != nullptr && s->data == "hello";
  })) << "the first chunk goes before the body ends";
  FakeH2Backend::Stream* got = f.backend.stream("/upload");
  EXPECT_FALSE(got->ended);
  EXPECT_EQ(valueOf(got->head, ":method"), "POST");
  EXPECT_EQ(valueOf(got->head, "content-type"), "text/plain");
  EXPECT_EQ(countOf(got->head, "transfer-encoding"), 0) << describe(got->head);
  EXPECT_EQ(countOf(got->head, "content-length"), 0) << describe(got->head);

  user.stream->out().append("7\r\n, world\r\n");
  user.stream->flush();
  ASSERT_TRUE(f.pumpUntil([&] { return got->data == "hello, world"; }));
  user.stream->out().append("0\r\nX-Checksum: abc\r\nX-Count: 2\r\n\r\n");
  user.stream->flush();
  ASSERT_TRUE(f.pumpUntil([&] { return got->ended; })) << "the request ends";
  EXPECT_EQ(got->data, "hello, world") << "de-chunked: no chunk framing";
  EXPECT_EQ(valueOf(got->trailers, "x-checksum"), "abc") << describe(got->trailers);
  EXPECT_EQ(valueOf(got->trailers, "x-count"), "2") << describe(got->trailers);
  EXPECT_EQ(got->trailers.size(), 2u) << describe(got->trailers);

  auto [conn, id] = f.backend.find("/upload");
  conn->respond(id, {{":status", "201"}, {"content-length", "2"}}, "ok");
  ASSERT_TRUE(f.pumpUntil([&] { return user.response().complete; }));
  // reasonPhrase() knows no 201: an empty reason (RFC 9112 allows it).
  EXPECT_EQ(user.response().statusLine.rfind("HTTP/1.1 201 ", 0), 0u);
  EXPECT_EQ(user.response().body, "ok");
  EXPECT_TRUE(user.stream->sendIdle());
}

TEST(H2Upstream, AChunkedPostWithoutTrailersEndsWithItsLastData) {
  Fixture f;
  User user;
  user.request =
      "POST /plain HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n\r\n";
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/plain"); }));
  FakeH2Backend::Stream* got = f.backend.stream("/plain");
  EXPECT_EQ(got->data, "abc");
  EXPECT_TRUE(got->trailers.empty()) << describe(got->trailers);
}

// ------------------------------------------------------------------ 3

TEST(H2Upstream, AResponseWithoutLengthAndWithTrailersBecomesChunkedWithThemInTheLastChunk) {
  Fixture f;
  User user;
  user.request =
      "POST /pkg.Service/Call HTTP/1.1\r\nHost: app.test\r\nContent-Type: application/grpc\r\n"
      "Content-Length: 5\r\n\r\nabcde";
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/pkg.Service/Call"); }));
  auto [conn, id] = f.backend.find("/pkg.Service/Call");
  conn->respond(id, {{":status", "200"}, {"content-type", "application/grpc"}}, "hello", true,
                {{"grpc-status", "0"}, {"grpc-message", "fine"}});
  ASSERT_TRUE(f.pumpUntil([&] { return user.response().complete; })) << user.held();
  std::string text = user.held();
  Response r = user.response();
  EXPECT_FALSE(r.malformed) << text;
  EXPECT_EQ(r.statusLine, "HTTP/1.1 200 OK");
  EXPECT_TRUE(r.chunked) << text;
  EXPECT_EQ(countOf(r.fields, "content-length"), 0) << text;
  EXPECT_EQ(valueOf(r.fields, "content-type"), "application/grpc");
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(valueOf(r.trailers, "grpc-status"), "0") << text;
  EXPECT_EQ(valueOf(r.trailers, "grpc-message"), "fine") << text;
  EXPECT_EQ(countOf(r.fields, "grpc-status"), 0) << "not in the head: " << text;
  EXPECT_TRUE(text.ends_with("0\r\ngrpc-status: 0\r\ngrpc-message: fine\r\n\r\n")) << text;
}

TEST(H2Upstream, AResponseAnnouncingTrailersGivesUpItsLengthForChunks) {
  Fixture f;
  User user;
  user.request = get("/announced");
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/announced"); }));
  auto [conn, id] = f.backend.find("/announced");
  conn->respond(id, {{":status", "200"}, {"content-length", "3"}, {"trailer", "x-digest"}}, "abc",
                true, {{"x-digest", "d1"}});
  ASSERT_TRUE(f.pumpUntil([&] { return user.response().complete; })) << user.held();
  Response r = user.response();
  EXPECT_FALSE(r.malformed) << user.held();
  EXPECT_TRUE(r.chunked) << user.held();
  EXPECT_EQ(countOf(r.fields, "content-length"), 0) << user.held();
  EXPECT_EQ(r.body, "abc");
  EXPECT_EQ(valueOf(r.trailers, "x-digest"), "d1") << user.held();
}

TEST(H2Upstream, AResponseWithLengthAndNoTrailersKeepsItsLengthOverSeveralDataFrames) {
  Fixture f;
  User user;
  user.request = get("/big");
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/big"); }));
  auto [conn, id] = f.backend.find("/big");
  std::string body = pattern(100000, 3);  // several DATA frames, within the window
  conn->respond(id, {{":status", "200"}, {"content-length", std::to_string(body.size())}}, body);
  ASSERT_TRUE(f.pumpUntil([&] { return user.response().complete; }));
  Response r = user.response();
  EXPECT_FALSE(r.malformed);
  EXPECT_FALSE(r.chunked);
  EXPECT_TRUE(r.body == body) << "the body as is, intact";
}

// ------------------------------------------------------------------ 4

TEST(H2Upstream, ATrailersOnlyResponseBecomesContentLengthZero) {
  Fixture f;
  User user;
  user.request = get("/pkg.Service/Fail");
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/pkg.Service/Fail"); }));
  auto [conn, id] = f.backend.find("/pkg.Service/Fail");
  conn->respond(id, {{":status", "200"},
                     {"content-type", "application/grpc"},
                     {"grpc-status", "12"},
                     {"grpc-message", "unimplemented"}});
  ASSERT_TRUE(f.pumpUntil([&] { return conn->streams[id].closed && user.response().complete; }));
  std::string text = user.held();
  Response r = user.response();
  EXPECT_FALSE(r.malformed) << text;
  EXPECT_EQ(r.statusLine, "HTTP/1.1 200 OK");
  EXPECT_EQ(valueOf(r.fields, "content-length"), "0") << text;
  EXPECT_EQ(countOf(r.fields, "transfer-encoding"), 0) << text;
  EXPECT_EQ(valueOf(r.fields, "grpc-status"), "12") << "in the head: " << text;
  EXPECT_EQ(valueOf(r.fields, "grpc-message"), "unimplemented");
  EXPECT_TRUE(text.ends_with("content-length: 0\r\n\r\n")) << text;
  EXPECT_FALSE(user.saw(StreamEvent::Error));
  EXPECT_EQ(user.stream->error(), 0);
}

// ------------------------------------------------------------------ 5

TEST(H2Upstream, AResetFromTheBackendIsAnErrorAndRefusedStreamIsEconnrefused) {
  Fixture f;
  User reset, refused, next;
  reset.request = get("/reset");
  refused.request = get("/refused");
  f.open(reset);
  f.open(refused);
  ASSERT_TRUE(f.pumpUntil(
      [&] { return f.backend.requested("/reset") && f.backend.requested("/refused"); }));
  auto [conn, resetId] = f.backend.find("/reset");
  int32_t refusedId = f.backend.find("/refused").second;
  conn->reset(resetId, NGHTTP2_INTERNAL_ERROR);
  conn->reset(refusedId, NGHTTP2_REFUSED_STREAM);
  ASSERT_TRUE(f.pumpUntil(
      [&] { return reset.saw(StreamEvent::Error) && refused.saw(StreamEvent::Error); }));
  EXPECT_NE(reset.stream->error(), 0);
  EXPECT_EQ(reset.stream->error(), ECONNRESET);
  EXPECT_EQ(refused.stream->error(), ECONNREFUSED) << "never processed: safe to retry";
  EXPECT_EQ(reset.count(StreamEvent::Error), 1);
  EXPECT_EQ(refused.count(StreamEvent::Error), 1);
  reset.stream->close();
  refused.stream->close();
  reset.released = refused.released = true;

  // The connection carries the next stream.
  next.request = get("/next");
  H2UpstreamStream* s = f.open(next);
  EXPECT_TRUE(s->ready()) << "on the connected session";
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/next"); }));
  auto [nextConn, nextId] = f.backend.find("/next");
  EXPECT_EQ(nextConn, conn) << "the same connection";
  nextConn->respond(nextId, {{":status", "200"}, {"content-length", "2"}}, "ok");
  ASSERT_TRUE(f.pumpUntil([&] { return next.response().complete; }));
  EXPECT_EQ(next.response().body, "ok");
  EXPECT_EQ(f.backend.conns.size(), 1u);
  // A stream's failure is always its backend's (passive health checks).
  EXPECT_EQ(s->reuses(), 0u) << "the third stream of its connection";
}

TEST(H2Upstream, AResetAfterTheResponseHeadIsAnErrorToo) {
  Fixture f;
  User user;
  user.request = get("/half");
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/half"); }));
  auto [conn, id] = f.backend.find("/half");
  conn->respond(id, {{":status", "200"}, {"content-length", "10"}}, "12345", false);
  ASSERT_TRUE(f.pumpUntil([&] { return user.held().ends_with("12345"); }));
  conn->reset(id, NGHTTP2_INTERNAL_ERROR);
  ASSERT_TRUE(f.pumpUntil([&] { return user.saw(StreamEvent::Error); }));
  EXPECT_EQ(user.stream->error(), ECONNRESET);
  EXPECT_FALSE(user.stream->eof());
}

// ------------------------------------------------------------------ 6

TEST(H2Upstream, StreamsPastTheBackendsMaxConcurrentStreamsMoveToASecondConnection) {
  Fixture f;
  // The first connection allows 2 streams, the next ones the default.
  f.backend.settings = [](size_t n) {
    if (n == 0)
      return std::vector<nghttp2_settings_entry>{{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 2}};
    return std::vector<nghttp2_settings_entry>{};
  };
  f.backend.onRequest = [](FakeH2Backend::Conn& c, int32_t id, FakeH2Backend::Stream& s) {
    std::string path = valueOf(s.head, ":path");
    c.respond(id, {{":status", "200"}, {"content-length", std::to_string(path.size())}}, path);
  };
  std::vector<User> users(5);
  for (size_t i = 0; i < users.size(); ++i) {
    users[i].request = get("/s" + std::to_string(i));
    H2UpstreamStream* s = f.open(users[i]);
    EXPECT_FALSE(s->ready());
  }
  EXPECT_EQ(f.connections.live(), 1u) << "all five wait on one connection for its SETTINGS";
  ASSERT_TRUE(f.pumpUntil([&] {
    return std::all_of(users.begin(), users.end(),
                       [](const User& u) { return u.response().complete; });
  })) << "every stream is answered";
  ASSERT_EQ(f.backend.conns.size(), 2u) << "one more connection";
  EXPECT_EQ(f.backend.conns[0]->order.size(), 2u) << "only 2 streams on the first connection";
  EXPECT_EQ(f.backend.conns[1]->order.size(), 3u) << "the rest on the second";
  for (size_t i = 0; i < users.size(); ++i) {
    EXPECT_EQ(users[i].count(StreamEvent::Connected), 1) << i;
    EXPECT_EQ(users[i].response().body, "/s" + std::to_string(i)) << i;
    EXPECT_FALSE(users[i].saw(StreamEvent::Error)) << i;
  }
  for (const auto& c : f.backend.conns) {
    for (const auto& [id, s] : c->streams) EXPECT_NE(s.closeCode, NGHTTP2_REFUSED_STREAM);
  }
}

TEST(H2Upstream, StreamsPastEveryConnectionsLimitSpreadOverAsManyAsNeeded) {
  Fixture f;
  f.backend.settings = [](size_t) {
    return std::vector<nghttp2_settings_entry>{{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 2}};
  };
  f.backend.onRequest = [](FakeH2Backend::Conn& c, int32_t id, FakeH2Backend::Stream& s) {
    std::string path = valueOf(s.head, ":path");
    c.respond(id, {{":status", "200"}, {"content-length", std::to_string(path.size())}}, path);
  };
  std::vector<User> users(5);
  for (size_t i = 0; i < users.size(); ++i) {
    users[i].request = get("/s" + std::to_string(i));
    f.open(users[i]);
  }
  ASSERT_TRUE(f.pumpUntil([&] {
    return std::all_of(users.begin(), users.end(),
                       [](const User& u) { return u.response().complete; });
  })) << "every stream is answered";
  ASSERT_EQ(f.backend.conns.size(), 3u);
  EXPECT_EQ(f.backend.conns[0]->order.size(), 2u);
  EXPECT_EQ(f.backend.conns[1]->order.size(), 2u);
  EXPECT_EQ(f.backend.conns[2]->order.size(), 1u);
  for (size_t i = 0; i < users.size(); ++i) {
    EXPECT_EQ(users[i].count(StreamEvent::Connected), 1) << i;
    EXPECT_EQ(users[i].response().body, "/s" + std::to_string(i)) << i;
  }
}

// ------------------------------------------------------------------ 7

TEST(H2Upstream, AnUnreadResponseHoldsAtMostTheStreamWindowAndTheRestComesOnceTaken) {
  Fixture f;
  User user;
  user.request = get("/huge");
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/huge"); }));
  auto [conn, id] = f.backend.find("/huge");
  const size_t kSize = 1024 * 1024;
  std::string body = pattern(kSize, 9);
  conn->respond(id, {{":status", "200"}, {"content-length", std::to_string(kSize)}}, body);
  std::string headText;
  auto bodyHeld = [&] {
    std::string held = user.held();
    size_t end = held.find("\r\n\r\n");
    if (end == std::string::npos) return size_t{0};
    headText = held.substr(0, end + 4);
    return held.size() - end - 4;
  };
  ASSERT_TRUE(f.pumpUntil([&] { return bodyHeld() >= kStreamWindow; }))
      << "the stream window fills: " << bodyHeld();
  f.turns(50);  // nothing more may come
  EXPECT_EQ(bodyHeld(), kStreamWindow) << "at most the stream window is held";
  EXPECT_EQ(user.stream->in().size(), headText.size() + kStreamWindow);
  EXPECT_EQ(conn->sendWindow(id), 0) << "the backend waits for a WINDOW_UPDATE";
  EXPECT_FALSE(conn->streams[id].closed);

  // Taking in() reopens the window, in pieces as the user reads.
  size_t most = 0;
  ASSERT_TRUE(f.pumpUntil([&] {
    most = std::max(most, user.stream->in().size());
    user.take();
    return parseResponse(user.taken).complete;
  })) << "the rest arrives as in() is taken: "
      << user.taken.size();
  EXPECT_LE(most, headText.size() + kStreamWindow) << "never more than the window";
  Response r = parseResponse(user.taken);
  EXPECT_FALSE(r.malformed);
  EXPECT_EQ(r.body.size(), kSize);
  EXPECT_TRUE(r.body == body) << "the body, intact";
  EXPECT_FALSE(user.saw(StreamEvent::Error));
}

TEST(H2Upstream, AChunkedUnreadResponseHoldsAtMostTheStreamWindowOfPayload) {
  Fixture f;
  User user;
  user.request = get("/huge-chunked");
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/huge-chunked"); }));
  auto [conn, id] = f.backend.find("/huge-chunked");
  const size_t kSize = 1024 * 1024;
  std::string body = pattern(kSize, 4);
  conn->respond(id, {{":status", "200"}}, body, true, {{"x-done", "1"}});
  ASSERT_TRUE(f.pumpUntil([&] { return conn->sendWindow(id) == 0; })) << "the stream window fills";
  f.turns(50);
  // Chunk framing: at most a size line and CRLF for every DATA frame
  // (16 KiB each) or read.
  size_t framing = 64 * 32;
  EXPECT_LE(user.stream->in().size(), 200 + kStreamWindow + framing);
  EXPECT_GE(user.stream->in().size(), kStreamWindow);
  ASSERT_TRUE(f.pumpUntil([&] {
    user.take();
    return parseResponse(user.taken).complete;
  }));
  Response r = parseResponse(user.taken);
  EXPECT_FALSE(r.malformed);
  EXPECT_TRUE(r.body == body) << "the body, intact (" << r.body.size() << " bytes)";
  EXPECT_EQ(valueOf(r.trailers, "x-done"), "1");
}

// The connection window (4 MiB) must come back for every byte a stream
// received, also for bytes the user takes after the stream closed (a whole
// response in one read: the common case; refresh() gives nothing back then)
// and for bytes a released stream never gave back; else the connection
// stalls after 4 MiB in total. Each test moves 6 MiB over one connection.
TEST(H2Upstream, TheConnectionWindowComesBackForResponsesTakenAfterTheirStreamClosed) {
  Fixture f;
  f.backend.onRequest = [](FakeH2Backend::Conn& c, int32_t id, FakeH2Backend::Stream&) {
    c.respond(id, {{":status", "200"}, {"content-length", std::to_string(kStreamWindow)}},
              pattern(kStreamWindow, static_cast<unsigned>(id)));
  };
  // 24 responses of a stream window each: 6 MiB, more than the connection window.
  for (int i = 0; i < 24; ++i) {
    User user;
    user.request = get("/r" + std::to_string(i));
    f.open(user);
    ASSERT_TRUE(f.pumpUntil([&] {
      auto [c, id] = f.backend.find("/r" + std::to_string(i));
      return c != nullptr && c->streams[id].closed && user.response().complete;
    })) << "response "
        << i << " arrives whole; held " << user.held().size()
        << " bytes, the backend's connection window "
        << f.backend.conns.back()->connectionSendWindow();
    user.take();  // after the stream closed
    EXPECT_EQ(parseResponse(user.taken).body.size(), kStreamWindow);
    user.release();
  }
  EXPECT_EQ(f.backend.conns.size(), 1u);
}

TEST(H2Upstream, TheConnectionWindowComesBackForWhatReleasedStreamsHeld) {
  Fixture f;
  const size_t kPart = 200 * 1024;
  f.backend.onRequest = [&](FakeH2Backend::Conn& c, int32_t id, FakeH2Backend::Stream&) {
    c.respond(id, {{":status", "200"}, {"content-length", "1000000"}}, pattern(kPart, 1), false);
  };
  // 24 cancelled downloads each leave 200 KiB unread: 4.7 MiB in total.
  for (int i = 0; i < 24; ++i) {
    User user;
    user.request = get("/c" + std::to_string(i));
    f.open(user);
    ASSERT_TRUE(f.pumpUntil([&] {
      std::string held = user.held();
      size_t end = held.find("\r\n\r\n");
      return end != std::string::npos && held.size() - end - 4 == kPart;
    })) << "download "
        << i << " gets its first part; held " << user.held().size()
        << " bytes, the backend's connection window "
        << f.backend.conns.back()->connectionSendWindow();
    user.release();  // unread: the client went away
  }
  EXPECT_EQ(f.backend.conns.size(), 1u);
}

// ------------------------------------------------------------------ 8

TEST(H2Upstream, ReleasingAStreamMidResponseResetsItWithCancelAndTheSessionGoesOn) {
  Fixture f;
  User first;
  first.request = get("/slow");
  f.open(first);
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/slow"); }));
  auto [conn, id] = f.backend.find("/slow");
  conn->respond(id, {{":status", "200"}, {"content-length", "100000"}}, std::string(1000, 'x'),
                false);
  ASSERT_TRUE(f.pumpUntil([&] { return first.held().ends_with(std::string(1000, 'x')); }));
  first.release();
  // The backend sends more before it reads the reset: the proxy drops it.
  conn->more(id, std::string(5000, 'y'), false);
  ASSERT_TRUE(f.pumpUntil([&] { return conn->streams[id].closed; }))
      << "the backend hears the stream end";
  EXPECT_EQ(conn->streams[id].rstCode, NGHTTP2_CANCEL);
  EXPECT_EQ(conn->streams[id].closeCode, NGHTTP2_CANCEL);

  User second;
  second.request = get("/after");
  H2UpstreamStream* s = f.open(second);
  EXPECT_TRUE(s->ready()) << "the session stays up";
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/after"); }));
  auto [nextConn, nextId] = f.backend.find("/after");
  EXPECT_EQ(nextConn, conn) << "on the same connection";
  nextConn->respond(nextId, {{":status", "200"}, {"content-length", "4"}}, "done");
  ASSERT_TRUE(f.pumpUntil([&] { return second.response().complete; }));
  EXPECT_EQ(second.response().body, "done");
  EXPECT_FALSE(second.saw(StreamEvent::Error));
  EXPECT_EQ(f.backend.conns.size(), 1u);
  EXPECT_TRUE(conn->open());
  EXPECT_EQ(conn->goawayCode, -1) << "no GOAWAY";
  EXPECT_EQ(conn->recvError(), 0);
}

// ------------------------------------------------------------------ more

TEST(H2Upstream, ALargeUploadPacedByRequestRoomArrivesWhole) {
  Fixture f;
  const size_t kSize = 3 * 1024 * 1024 + 123;
  std::string upload = pattern(kSize, 5);
  size_t written = 0;
  size_t mostRoom = 0;
  User user;
  user.request =
      "PUT /blob HTTP/1.1\r\nHost: app.test\r\nContent-Length: " + std::to_string(kSize) +
      "\r\n\r\n";
  auto more = [&] {
    if (!user.written || written == kSize) return;
    size_t room = user.stream->requestRoom();
    mostRoom = std::max(mostRoom, room);
    size_t n = std::min(room, kSize - written);
    if (n == 0) return;
    user.stream->out().append(std::string_view(upload).substr(written, n));
    written += n;
    user.stream->flush();
  };
  user.onEvent = [&](StreamEvent e) {
    if (e == StreamEvent::Connected || e == StreamEvent::Drained) more();
  };
  f.open(user);
  ASSERT_TRUE(f.pumpUntil(
      [&] {
        FakeH2Backend::Stream* s = f.backend.stream("/blob");
        return s != nullptr && s->ended;
      },
      std::chrono::milliseconds(10000)))
      << "written " << written;
  FakeH2Backend::Stream* got = f.backend.stream("/blob");
  EXPECT_EQ(valueOf(got->head, "content-length"), std::to_string(kSize));
  EXPECT_EQ(got->data.size(), kSize);
  EXPECT_TRUE(got->data == upload) << "the upload, intact";
  EXPECT_LE(mostRoom, H2UpstreamLimits::kRequestQueue);
  EXPECT_TRUE(user.stream->sendIdle());
}

TEST(H2Upstream, ABackendThatClosesTheConnectionEndsItsStreamsAndTheNextGetsANewOne) {
  Fixture f;
  User user;
  user.request = get("/doomed");
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/doomed"); }));
  f.backend.conns[0] = nullptr;  // closes the socket
  f.backend.conns.clear();
  ASSERT_TRUE(f.pumpUntil([&] { return user.saw(StreamEvent::Error); }));
  EXPECT_TRUE(user.stream->error() != 0 || user.stream->eof())
      << "an error, or a clean end before the response";
  User next;
  next.request = get("/fresh");
  f.backend.onRequest = [](FakeH2Backend::Conn& c, int32_t id, FakeH2Backend::Stream&) {
    c.respond(id, {{":status", "204"}});
  };
  H2UpstreamStream* s = f.open(next);
  EXPECT_FALSE(s->ready()) << "a new connection";
  ASSERT_TRUE(f.pumpUntil([&] { return next.response().complete; })) << next.held();
  EXPECT_EQ(next.response().statusLine, "HTTP/1.1 204 No Content");
  EXPECT_EQ(countOf(next.response().fields, "content-length"), 0) << next.held();
  EXPECT_EQ(countOf(next.response().fields, "transfer-encoding"), 0) << next.held();
}

TEST(H2Upstream, AGoawayRefusesTheStreamsPastItsLastIdAndTheNextStreamGetsANewConnection) {
  Fixture f;
  User kept, refused, next;
  kept.request = get("/kept");
  refused.request = get("/refused");
  f.open(kept);
  f.open(refused);
  ASSERT_TRUE(
      f.pumpUntil([&] { return f.backend.requested("/kept") && f.backend.requested("/refused"); }));
  auto [conn, keptId] = f.backend.find("/kept");
  ASSERT_LT(keptId, f.backend.find("/refused").second);
  conn->goaway(keptId);
  ASSERT_TRUE(f.pumpUntil([&] { return refused.saw(StreamEvent::Error); }));
  EXPECT_EQ(refused.stream->error(), ECONNREFUSED) << "never processed: safe to retry";
  refused.release();
  EXPECT_FALSE(kept.saw(StreamEvent::Error));

  // No new stream on a connection that said GOAWAY.
  next.request = get("/next");
  next.consume = true;
  H2UpstreamStream* s = f.open(next);
  EXPECT_FALSE(s->ready()) << "a new connection";
  conn->respond(keptId, {{":status", "200"}, {"content-length", "4"}}, "kept");
  ASSERT_TRUE(f.pumpUntil([&] { return kept.response().complete; }));
  EXPECT_EQ(kept.response().body, "kept") << "the stream within the GOAWAY completes";
  kept.release();
  ASSERT_TRUE(f.pumpUntil([&] { return !conn->open(); }))
      << "the connection closes once its last stream ended";
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/next"); }));
  auto [nextConn, nextId] = f.backend.find("/next");
  EXPECT_NE(nextConn, conn);
  EXPECT_EQ(f.backend.conns.size(), 2u);
  nextConn->respond(nextId, {{":status", "200"}, {"content-length", "1"}}, "n");
  ASSERT_TRUE(f.pumpUntil([&] { return parseResponse(next.taken).complete; }));
  EXPECT_EQ(parseResponse(next.taken).body, "n");
}

TEST(H2Upstream, AnInterimResponseComesBeforeTheFinalOne) {
  Fixture f;
  User user;
  user.request = get("/hints");
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/hints"); }));
  auto [conn, id] = f.backend.find("/hints");
  conn->interim(id, {{":status", "103"}, {"link", "</style.css>; rel=preload"}});
  conn->respond(id, {{":status", "200"}, {"content-length", "2"}}, "hi");
  ASSERT_TRUE(f.pumpUntil([&] { return conn->streams[id].closed; }));
  f.turns(3);
  EXPECT_EQ(user.held(),
            "HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n"
            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi");
}

TEST(H2Upstream, AHeadResponseKeepsItsLengthWithoutABody) {
  Fixture f;
  User user;
  user.request = "HEAD /file HTTP/1.1\r\nHost: app.test\r\n\r\n";
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/file"); }));
  auto [conn, id] = f.backend.find("/file");
  EXPECT_EQ(valueOf(conn->streams[id].head, ":method"), "HEAD");
  conn->respond(id, {{":status", "200"}, {"content-length", "1234"}});
  ASSERT_TRUE(f.pumpUntil([&] { return conn->streams[id].closed; }));
  f.turns(3);
  EXPECT_EQ(user.held(), "HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n");
}

TEST(H2Upstream, AnIdleConnectionClosesAfterThePoolsIdleTimeout) {
  Fixture f({4, std::chrono::milliseconds(300)});
  User user;
  user.request = get("/once");
  f.backend.onRequest = [](FakeH2Backend::Conn& c, int32_t id, FakeH2Backend::Stream&) {
    c.respond(id, {{":status", "200"}, {"content-length", "1"}}, "x");
  };
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] { return user.response().complete; }));
  user.release();
  auto idleSince = f.fx.worker().now();  // the clock the idle deadline counts from
  ASSERT_TRUE(f.pumpUntil([&] { return !f.backend.conns[0]->open(); }))
      << "the connection closes once idle long enough";
  EXPECT_GE(std::chrono::steady_clock::now() - idleSince, std::chrono::milliseconds(250));
  ASSERT_TRUE(f.pumpUntil([&] { return f.connections.live() == 0; }));
}

TEST(H2Upstream, ARefusedConnectIsAnErrorForEveryWaitingStream) {
  Fixture f;
  sockaddr_in closed{};
  ::close(testing::boundLoopback(closed));
  std::string address = "127.0.0.1:" + std::to_string(ntohs(closed.sin_port));
  std::string error;
  H2ConnectSpec spec;
  spec.address = *config::parseNumericAddress(address, &error);
  spec.timeout = std::chrono::seconds(1);
  User a, b;
  a.request = b.request = get("/x");
  a.start(f.h2.connect(address, spec, a));
  H2UpstreamStream* second = f.h2.take(address, b);
  ASSERT_NE(second, nullptr) << "the connecting session has room";
  b.start(second);
  ASSERT_TRUE(f.pumpUntil([&] { return a.saw(StreamEvent::Error) && b.saw(StreamEvent::Error); }));
  EXPECT_EQ(a.stream->error(), ECONNREFUSED);
  EXPECT_EQ(b.stream->error(), ECONNREFUSED);
  EXPECT_FALSE(a.stream->failureReason().empty());
  EXPECT_FALSE(a.saw(StreamEvent::Connected));
  a.release();
  b.release();
  User c;
  EXPECT_EQ(f.h2.take(address, c), nullptr) << "the failed session is gone";
}

// A backend may say SETTINGS_MAX_CONCURRENT_STREAMS 0 for a while (RFC 9113
// section 6.5.2): the stream waits or fails, but is not passed from one new
// connection to the next without end.
TEST(H2Upstream, ABackendAllowingNoStreamsDoesNotMakeEndlessConnections) {
  Fixture f;
  f.backend.settings = [](size_t) {
    return std::vector<nghttp2_settings_entry>{{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 0}};
  };
  User user;
  user.request = get("/none");
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] { return !f.backend.conns.empty(); }));
  f.turns(100);
  EXPECT_LE(f.backend.conns.size(), 2u)
      << "connections made for one stream (it heard " << user.events.size() << " events)";
  EXPECT_LE(f.connections.live(), 2u) << "connections open for one stream";
}

TEST(H2Upstream, StreamsWaitForTheBackendsSettingsBeforeTheirRequestsGo) {
  Fixture f;
  f.backend.holdSettings = true;
  User a, b;
  a.request = get("/a");
  b.request = get("/b");
  f.open(a);
  f.open(b);
  ASSERT_TRUE(f.pumpUntil([&] { return !f.backend.conns.empty(); }));
  f.turns(30);
  EXPECT_FALSE(a.saw(StreamEvent::Connected)) << "no SETTINGS from the backend yet";
  EXPECT_FALSE(b.saw(StreamEvent::Connected));
  EXPECT_FALSE(a.stream->ready());
  EXPECT_FALSE(a.saw(StreamEvent::Error));
  f.backend.conns[0]->sendSettingsNow({});
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/a") && f.backend.requested("/b"); }))
      << "both requests go at once; the backend got " << f.backend.conns[0]->streams.size()
      << " on " << f.backend.conns.size()
      << " connection(s); Connected: " << a.count(StreamEvent::Connected) << " and "
      << b.count(StreamEvent::Connected);
  EXPECT_EQ(a.count(StreamEvent::Connected), 1);
  EXPECT_EQ(b.count(StreamEvent::Connected), 1);
  EXPECT_TRUE(a.stream->ready());
  EXPECT_EQ(f.backend.conns.size(), 1u) << "both on one connection (no limit announced)";
}

TEST(H2Upstream, ARequestWithoutHostGetsTheBackendAddressAsAuthority) {
  Fixture f;
  User user;
  user.request = "GET /old HTTP/1.0\r\nUser-Agent: t\r\n\r\n";
  f.open(user);
  ASSERT_TRUE(f.pumpUntil([&] { return f.backend.requested("/old"); }));
  FakeH2Backend::Stream* got = f.backend.stream("/old");
  EXPECT_EQ(valueOf(got->head, ":authority"), f.backend.address());
  EXPECT_EQ(valueOf(got->head, "user-agent"), "t");
}

}  // namespace
}  // namespace ringlb::l7::h2_upstream_test
