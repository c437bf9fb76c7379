// H2Session and its streams, driven on the test's thread: the client is a
// socketpair spoken to by an nghttp2 client session inside the test (bytes
// pumped by hand between it and the socket), backends are loopback peers the
// test answers by hand with HTTP/1.1 text. Each test is one behaviour of an
// h2c (prior knowledge) listener.
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <nghttp2/nghttp2.h>
#include <sys/ioctl.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "l7/http/http_connection.h"
#include "l7/http/http_service.h"
#include "tests/fakes/http_listener.h"

namespace ringlb::l7 {
namespace {

using testing::BackendPeer;
using testing::Peer;

using Listener = testing::HttpListener;

std::string h2Config(const std::string& backend, const std::string& extra = "") {
  return testing::httpListenerConfig(backend, "protocols = [\"h2c\", \"http/1.1\"]\n" + extra);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Writes what the socket takes now (never blocks: the proxy runs on this thread).
void sendSome(int fd, std::string& pending) {
  while (!pending.empty()) {
    ssize_t n = ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) return;
    pending.erase(0, static_cast<size_t>(n));
  }
}

// The backends' side: every connection the proxy made, what it sent, and
// what the test queued for it (written as the socket takes it).
struct Backends {
  struct Conn {
    Peer peer;
    std::string got;
    std::string out;
    bool open = true;
  };
  void poll() {
    for (Peer p = listener.accept(); p.valid(); p = listener.accept()) {
      conns.push_back(std::make_unique<Conn>());
      conns.back()->peer = std::move(p);
    }
    for (auto& c : conns) {
      if (!c->peer.valid()) continue;
      sendSome(c->peer.fd(), c->out);
      if (reading && c->open) c->open = c->peer.read(c->got);
    }
  }
  Conn* with(std::string_view text) {
    for (auto& c : conns) {
      if (c->got.find(text) != std::string::npos) return c.get();
    }
    return nullptr;
  }
  BackendPeer listener;
  std::vector<std::unique_ptr<Conn>> conns;
  bool reading = true;  // false: connections are accepted but never read
};

// An HTTP/2 client (nghttp2) over the socketpair.
class H2Client {
 public:
  struct StreamState {
    std::string status;
    std::string headers;  // "name: value\n" each
    std::string body;
    bool closed = false;
    uint32_t code = 0;  // RST_STREAM code it closed with
    bool hold = false;  // manual window: data is not given back to the stream window
    size_t held = 0;
  };
  struct Upload {
    std::string data;
    size_t offset = 0;
    std::vector<std::pair<std::string, std::string>> trailers;  // sent after the data
  };

  H2Client(Peer peer, std::vector<nghttp2_settings_entry> settings = {}, bool manualWindow = false)
      : peer_(std::move(peer)), manualWindow_(manualWindow) {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, onHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, onData);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, onFrame);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, onClose);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    if (manualWindow) nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_client_new2(&session_, cb, this, opt);
    nghttp2_option_del(opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  }
  ~H2Client() { nghttp2_session_del(session_); }

  // Submits a request; `body` (if any) is sent as DATA. Returns the stream id.
  int32_t request(const std::string& method, const std::string& path,
                  std::vector<std::pair<std::string, std::string>> extra = {},
                  const std::string* body = nullptr,
                  const std::string& authority = "example.test") {
    std::vector<std::pair<std::string, std::string>> fields = {
        {":method", method}, {":scheme", "http"}, {":path", path}, {":authority", authority}};
    fields.insert(fields.end(), extra.begin(), extra.end());
    std::vector<nghttp2_nv> nv;
    for (auto& [n, v] : fields) {
      nv.push_back({reinterpret_cast<uint8_t*>(n.data()), reinterpret_cast<uint8_t*>(v.data()),
                    n.size(), v.size(), NGHTTP2_NV_FLAG_NONE});
    }
    nghttp2_data_provider provider{};
    if (body != nullptr) {
      uploads_.push_back({*body, 0, std::move(nextTrailers)});
      nextTrailers.clear();
      provider.source.ptr = &uploads_.back();
      provider.read_callback = readUpload;
    }
    int32_t id = nghttp2_submit_request(session_, nullptr, nv.data(), nv.size(),
                                        body != nullptr ? &provider : nullptr, nullptr);
    streams[id];
    return id;
  }
  void reset(int32_t id, uint32_t code) {
    nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, code);
  }
  // nghttp2's pending frames into the outgoing buffer.
  void frames() {
    const uint8_t* data = nullptr;
    for (ssize_t n;
         out_.size() < (1u << 20) && (n = nghttp2_session_mem_send(session_, &data)) > 0;) {
      out_.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
  }
  // One exchange of bytes both ways; false once the proxy closed.
  bool pump() {
    frames();
    sendSome(peer_.fd(), out_);
    std::string got;
    if (open_) open_ = peer_.read(got);
    if (!got.empty() && recvError_ == 0) {
      ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(got.data()),
                                           got.size());
      if (n < 0) recvError_ = static_cast<int>(n);
    }
    frames();
    sendSome(peer_.fd(), out_);
    return open_;
  }
  // Manual window only: stream `id` gets its window back from now on.
  void release(int32_t id) {
    StreamState& s = streams[id];
    s.hold = false;
    nghttp2_session_consume_stream(session_, id, s.held);
    s.held = 0;
  }
  // Bytes the client's upload bodies gave nghttp2 (the window let them go).
  size_t uploaded() const {
    size_t n = 0;
    for (const auto& u : uploads_) n += u.offset;
    return n;
  }
  bool open() const { return open_; }
  int recvError() const { return recvError_; }

  std::map<int32_t, StreamState> streams;
  // Trailers for the next request() with a body.
  std::vector<std::pair<std::string, std::string>> nextTrailers;
  int64_t goawayCode = -1;      // the last GOAWAY received, -1: none
  bool serverSettings = false;  // the server's SETTINGS arrived

 private:
  static H2Client& of(void* user) { return *static_cast<H2Client*>(user); }
  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                      size_t nameLength, const uint8_t* value, size_t valueLength, uint8_t,
                      void* user) {
    StreamState& s = of(user).streams[frame->hd.stream_id];
    std::string n(reinterpret_cast<const char*>(name), nameLength);
    std::string v(reinterpret_cast<const char*>(value), valueLength);
    if (n == ":status") s.status = v;
    s.headers += n + ": " + v + "\n";
    return 0;
  }
  static int onData(nghttp2_session* session, uint8_t, int32_t id, const uint8_t* data,
                    size_t length, void* user) {
    H2Client& c = of(user);
    StreamState& s = c.streams[id];
    s.body.append(reinterpret_cast<const char*>(data), length);
    if (c.manualWindow_) {
      nghttp2_session_consume_connection(session, length);
      if (s.hold) {
        s.held += length;
      } else {
        nghttp2_session_consume_stream(session, id, length);
      }
    }
    return 0;
  }
  static int onFrame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2Client& c = of(user);
    if (frame->hd.type == NGHTTP2_GOAWAY) c.goawayCode = frame->goaway.error_code;
    if (frame->hd.type == NGHTTP2_SETTINGS && (frame->hd.flags & NGHTTP2_FLAG_ACK) == 0) {
      c.serverSettings = true;
    }
    return 0;
  }
  static int onClose(nghttp2_session*, int32_t id, uint32_t code, void* user) {
    StreamState& s = of(user).streams[id];
    s.closed = true;
    s.code = code;
    return 0;
  }
  static ssize_t readUpload(nghttp2_session* session, int32_t id, uint8_t* buf, size_t length,
                            uint32_t* flags, nghttp2_data_source* source, void*) {
    auto* u = static_cast<Upload*>(source->ptr);
    size_t n = std::min(length, u->data.size() - u->offset);
    std::memcpy(buf, u->data.data() + u->offset, n);
    u->offset += n;
    if (u->offset == u->data.size()) {
      *flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!u->trailers.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        std::vector<nghttp2_nv> nv;
        for (auto& [name, value] : u->trailers) {
          nv.push_back({reinterpret_cast<uint8_t*>(name.data()),
                        reinterpret_cast<uint8_t*>(value.data()), name.size(), value.size(),
                        NGHTTP2_NV_FLAG_NONE});
        }
        nghttp2_submit_trailer(session, id, nv.data(), nv.size());
      }
    }
    return static_cast<ssize_t>(n);
  }

  Peer peer_;
  nghttp2_session* session_ = nullptr;
  std::string out_;
  std::list<Upload> uploads_;  // stable addresses: nghttp2 holds pointers
  bool manualWindow_ = false;
  bool open_ = true;
  int recvError_ = 0;
};

// Bytes that are not all alike, so that a reordered or shifted body shows.
std::string pattern(size_t size, unsigned seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + seed + i / 977) % 251);
  return s;
}

// Decodes an HTTP/1.1 chunked body; `chunks` counts the non-empty ones.
// False if it is not well formed or does not end with the last chunk.
bool dechunk(std::string_view in, std::string& out, int& chunks) {
  chunks = 0;
  for (;;) {
    size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) return false;
    size_t size = std::stoul(std::string(in.substr(0, eol)), nullptr, 16);
    in.remove_prefix(eol + 2);
    if (size == 0) return in == "\r\n";
    if (in.size() < size + 2 || in.substr(size, 2) != "\r\n") return false;
    out.append(in.substr(0, size));
    ++chunks;
    in.remove_prefix(size + 2);
  }
}

// Runs the worker, pumping both sides, until `done()` (bounded by `limit`).
template <typename Pred>
bool pumpUntil(Listener& l, H2Client& c, Backends& b, Pred done,
               std::chrono::milliseconds limit = std::chrono::milliseconds(3000)) {
  return l.fx.runUntil(
      [&] {
        c.pump();
        b.poll();
        return done();
      },
      limit);
}

// The proxy's bytes in its kernel send queue (SIOCOUTQ) on the connection
// whose other end is `backendSide` (the proxy runs in this process: its
// socket is the one whose peer address is backendSide's own); -1 if none.
int kernelSendQueueOfPeer(const Peer& backendSide) {
  sockaddr_in self{};
  socklen_t length = sizeof self;
  getsockname(backendSide.fd(), reinterpret_cast<sockaddr*>(&self), &length);
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = std::atoi(entry.path().filename().c_str());
    sockaddr_in peer{};
    length = sizeof peer;
    if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &length) != 0) continue;
    if (peer.sin_family != AF_INET || peer.sin_port != self.sin_port) continue;
    int queued = 0;
    return ioctl(fd, SIOCOUTQ, &queued) == 0 ? queued : -1;
  }
  return -1;
}

constexpr std::string_view kEnd = "\r\n\r\n";

TEST(H2Session, TwoStreamsBecomeTwoHttp11RequestsEachAnsweredOnItsOwnStream) {
  Backends b;
  Listener l(h2Config(b.listener.address()));
  H2Client c(l.connect());
  int32_t one = c.request("GET", "/one");
  int32_t two = c.request("GET", "/two");
  ASSERT_TRUE(pumpUntil(l, c, b, [&] {
    auto* a = b.with("GET /one ");
    auto* z = b.with("GET /two ");
    return a && z && a->got.find(kEnd) != std::string::npos &&
           z->got.find(kEnd) != std::string::npos;
  })) << "both requests reach the backend";
  Backends::Conn* a = b.with("GET /one ");
  Backends::Conn* z = b.with("GET /two ");
  EXPECT_EQ(a->got.rfind("GET /one HTTP/1.1\r\n", 0), 0u) << a->got;
  EXPECT_EQ(z->got.rfind("GET /two HTTP/1.1\r\n", 0), 0u) << z->got;
  EXPECT_NE(lower(a->got).find("\r\nhost: example.test\r\n"), std::string::npos) << a->got;
  EXPECT_NE(lower(z->got).find("\r\nhost: example.test\r\n"), std::string::npos) << z->got;
  EXPECT_EQ(a->got.find(":authority"), std::string::npos) << a->got;
  // Answered in the opposite order: each answer still finds its stream.
  z->out = "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nX-Which: two\r\n\r\nbody-two";
  a->out = "HTTP/1.1 201 Created\r\nContent-Length: 8\r\nX-Which: one\r\n\r\nbody-one";
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return c.streams[one].closed && c.streams[two].closed; }));
  EXPECT_EQ(c.streams[one].status, "201");
  EXPECT_EQ(c.streams[one].body, "body-one");
  EXPECT_NE(c.streams[one].headers.find("x-which: one\n"), std::string::npos);
  EXPECT_EQ(c.streams[one].code, 0u);
  EXPECT_EQ(c.streams[two].status, "200");
  EXPECT_EQ(c.streams[two].body, "body-two");
  EXPECT_NE(c.streams[two].headers.find("x-which: two\n"), std::string::npos);
  EXPECT_EQ(c.streams[two].code, 0u);
  EXPECT_EQ(c.goawayCode, -1);
}

TEST(H2Session, APostWithoutContentLengthGoesChunkedAndOneWithContentLengthAsIs) {
  Backends b;
  Listener l(h2Config(b.listener.address()));
  H2Client c(l.connect());
  std::string big = pattern(40000, 1);  // more than one DATA frame (16384 a frame)
  int32_t chunked = c.request("POST", "/chunked", {}, &big);
  ASSERT_TRUE(pumpUntil(l, c, b, [&] {
    auto* k = b.with("POST /chunked ");
    return k && k->got.ends_with("\r\n0\r\n\r\n");
  })) << "the body with its last chunk reaches the backend";
  Backends::Conn* k = b.with("POST /chunked ");
  size_t headEnd = k->got.find(kEnd);
  ASSERT_NE(headEnd, std::string::npos);
  std::string head = lower(k->got.substr(0, headEnd + 2));
  EXPECT_NE(head.find("\r\ntransfer-encoding: chunked\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.find("content-length"), std::string::npos) << head;
  std::string body;
  int chunks = 0;
  EXPECT_TRUE(dechunk(std::string_view(k->got).substr(headEnd + 4), body, chunks));
  EXPECT_EQ(body.size(), big.size());
  EXPECT_TRUE(body == big) << "the payload, intact";
  EXPECT_GE(chunks, 2) << "one chunk a DATA frame";
  k->out = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nyes";
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return c.streams[chunked].closed; }));
  EXPECT_EQ(c.streams[chunked].status, "200");
  EXPECT_EQ(c.streams[chunked].body, "yes");

  std::string small = "hello world";
  int32_t sized = c.request("POST", "/sized", {{"content-length", "11"}}, &small);
  ASSERT_TRUE(pumpUntil(l, c, b, [&] {
    auto* s = b.with("POST /sized ");
    return s && s->got.ends_with("hello world");
  }));
  Backends::Conn* s = b.with("POST /sized ");
  std::string sent = s->got.substr(s->got.find("POST /sized "));
  size_t end = sent.find(kEnd);
  ASSERT_NE(end, std::string::npos);
  std::string sizedHead = lower(sent.substr(0, end + 2));
  EXPECT_NE(sizedHead.find("\r\ncontent-length: 11\r\n"), std::string::npos) << sizedHead;
  EXPECT_EQ(sizedHead.find("transfer-encoding"), std::string::npos) << sizedHead;
  EXPECT_EQ(sent.substr(end + 4), "hello world") << "the body as is, nothing after it";
  s->out = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return c.streams[sized].closed; }));
  EXPECT_EQ(c.streams[sized].status, "200");
  EXPECT_EQ(c.streams[sized].body, "ok");
}

TEST(H2Session, ChunkedResponseTrailersArriveAsTrailingHeaders) {
  Backends b;
  Listener l(h2Config(b.listener.address()));
  H2Client c(l.connect());
  int32_t id = c.request("POST", "/rpc", {{"te", "trailers"}});
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return b.with("POST /rpc ") != nullptr; }));
  b.with("POST /rpc ")->out =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/grpc\r\n"
      "Trailer: grpc-status\r\n\r\n5\r\nhello\r\n0\r\ngrpc-status: 0\r\n"
      "Grpc-Message: fine\r\nContent-Length: 99\r\n\r\n";
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return c.streams[id].closed; }));
  const auto& s = c.streams[id];
  EXPECT_EQ(s.code, 0u);
  EXPECT_EQ(s.body, "hello");
  size_t status = s.headers.find("content-type: application/grpc\n");
  size_t trailer = s.headers.find("grpc-status: 0\n");
  ASSERT_NE(status, std::string::npos) << s.headers;
  ASSERT_NE(trailer, std::string::npos) << s.headers;
  EXPECT_LT(status, trailer) << "the trailers come after the head";
  EXPECT_NE(s.headers.find("grpc-message: fine\n"), std::string::npos) << s.headers;
  EXPECT_EQ(s.headers.find("content-length"), std::string::npos)
      << "a framing field is not passed on as a trailer: " << s.headers;
  EXPECT_EQ(s.headers.find("trailer:"), std::string::npos) << s.headers;
}

TEST(H2Session, RequestTrailersGoUpstreamInTheLastChunk) {
  Backends b;
  Listener l(h2Config(b.listener.address()));
  H2Client c(l.connect());
  std::string body = "payload";
  c.nextTrailers = {{"x-checksum", "abc"}, {"x-count", "1"}};
  int32_t id = c.request("POST", "/up", {}, &body);
  ASSERT_TRUE(pumpUntil(l, c, b, [&] {
    auto* k = b.with("POST /up ");
    return k && k->got.find("\r\n0\r\n") != std::string::npos && k->got.ends_with("\r\n\r\n");
  })) << "the last chunk with the trailers reaches the backend";
  Backends::Conn* k = b.with("POST /up ");
  EXPECT_TRUE(k->got.ends_with("7\r\npayload\r\n0\r\nx-checksum: abc\r\nx-count: 1\r\n\r\n"))
      << k->got;
  k->out = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return c.streams[id].closed; }));
  EXPECT_EQ(c.streams[id].status, "200");
}

TEST(H2Session, AStreamStalledByItsWindowDoesNotStallAnother) {
  Backends b;
  Listener l(h2Config(b.listener.address()));
  H2Client c(l.connect(), {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 16384}}, true);
  int32_t big = c.request("GET", "/big");
  c.streams[big].hold = true;
  int32_t small = c.request("GET", "/small");
  ASSERT_TRUE(pumpUntil(l, c, b, [&] {
    auto* x = b.with("GET /big ");
    auto* y = b.with("GET /small ");
    return x && y && x->got.find(kEnd) != std::string::npos &&
           y->got.find(kEnd) != std::string::npos;
  }));
  const size_t kSize = 1024 * 1024;
  std::string payload = pattern(kSize, 7);
  b.with("GET /big ")->out =
      "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kSize) + "\r\n\r\n" + payload;
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return c.streams[big].body.size() >= 16384; }))
      << "the big stream's window fills";
  // Some more turns: nothing past the stream's window may come.
  int turns = 0;
  l.fx.runUntil([&] {
    c.pump();
    b.poll();
    return ++turns >= 50;
  });
  EXPECT_EQ(c.streams[big].body.size(), 16384u) << "the stream window is respected";
  EXPECT_FALSE(c.streams[big].closed);
  b.with("GET /small ")->out = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nsmall";
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return c.streams[small].closed; }))
      << "the small stream completes while the big one is stalled";
  EXPECT_EQ(c.streams[small].status, "200");
  EXPECT_EQ(c.streams[small].body, "small");
  EXPECT_EQ(c.streams[small].code, 0u);
  EXPECT_EQ(c.streams[big].body.size(), 16384u) << "still stalled";
  EXPECT_FALSE(c.streams[big].closed);

  c.release(big);
  ASSERT_TRUE(pumpUntil(
      l, c, b, [&] { return c.streams[big].closed; }, std::chrono::milliseconds(10000)))
      << "received " << c.streams[big].body.size();
  EXPECT_EQ(c.streams[big].status, "200");
  EXPECT_EQ(c.streams[big].code, 0u);
  EXPECT_EQ(c.streams[big].body.size(), kSize);
  EXPECT_TRUE(c.streams[big].body == payload) << "the body, intact";
  EXPECT_EQ(c.goawayCode, -1);
}

TEST(H2Session, AnUploadToABackendThatDoesNotReadIsHeldBackByTheWindow) {
  Backends b;
  b.reading = false;
  Listener l(h2Config(b.listener.address()));
  H2Client c(l.connect());
  // Larger than what the kernel can hold between the proxy and a backend
  // that does not read (the proxy's send buffer autotunes up to
  // net.ipv4.tcp_wmem's maximum, 4 MiB by default).
  const size_t kSize = 16 * 1024 * 1024;
  std::string upload = pattern(kSize, 3);
  int32_t id = c.request("POST", "/up", {{"content-length", std::to_string(kSize)}}, &upload);
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return !b.conns.empty(); }));
  // A bounded number of turns while the backend reads nothing.
  int turns = 0;
  size_t before = 0;
  l.fx.runUntil(
      [&] {
        c.pump();
        b.poll();
        if (turns == 150) before = c.uploaded();
        return ++turns >= 300;
      },
      std::chrono::milliseconds(5000));
  size_t sent = c.uploaded();
  ASSERT_EQ(b.conns.size(), 1u);
  int proxyQueued = kernelSendQueueOfPeer(b.conns[0]->peer);
  int backendQueued = 0;
  ioctl(b.conns[0]->peer.fd(), SIOCINQ, &backendQueued);
  ASSERT_GE(proxyQueued, 0) << "the proxy's socket to the backend";
  // What the client could send: the stream window (256 KiB), what the proxy
  // holds before it stops giving window back (64 KiB), what the kernel
  // took, and a frame of slack.
  size_t bound = 256 * 1024 + 64 * 1024 + static_cast<size_t>(proxyQueued) +
                 static_cast<size_t>(backendQueued) + 16 * 1024;
  EXPECT_GE(sent, 256u * 1024) << "the stream's first window went out";
  EXPECT_LE(sent, bound) << "window given back beyond what reached the kernel; kernel queues: "
                         << proxyQueued << " + " << backendQueued;
  EXPECT_LT(sent, kSize / 2) << "the proxy gave back window without the backend reading";
  EXPECT_EQ(c.uploaded(), before) << "the upload stopped growing";
  EXPECT_FALSE(c.streams[id].closed);

  b.reading = true;
  ASSERT_TRUE(pumpUntil(
      l, c, b,
      [&] {
        auto* u = b.with("POST /up ");
        size_t at = u != nullptr ? u->got.find(kEnd) : std::string::npos;
        return at != std::string::npos && u->got.size() >= at + 4 + kSize;
      },
      std::chrono::milliseconds(20000)))
      << "the backend reads the whole body; the client sent " << c.uploaded();
  Backends::Conn* u = b.with("POST /up ");
  size_t at = u->got.find(kEnd);
  EXPECT_NE(lower(u->got.substr(0, at)).find("\r\ncontent-length: " + std::to_string(kSize)),
            std::string::npos);
  EXPECT_EQ(u->got.size(), at + 4 + kSize) << "nothing more than the body";
  EXPECT_TRUE(u->got.compare(at + 4, kSize, upload) == 0) << "the upload, intact";
  u->out = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone";
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return c.streams[id].closed; }));
  EXPECT_EQ(c.streams[id].status, "200");
  EXPECT_EQ(c.streams[id].body, "done");
  EXPECT_EQ(c.streams[id].code, 0u);
}

TEST(H2Session, ARefusedBackendGivesThatStreamA502AndTheConnectionStaysUp) {
  sockaddr_in closed = testing::closedPort();
  Backends unused;
  Listener l(h2Config("127.0.0.1:" + std::to_string(ntohs(closed.sin_port))));
  H2Client c(l.connect());
  int32_t first = c.request("GET", "/a");
  ASSERT_TRUE(pumpUntil(l, c, unused, [&] { return c.streams[first].closed; }));
  EXPECT_EQ(c.streams[first].status, "502");
  EXPECT_EQ(c.streams[first].code, 0u);
  int32_t second = c.request("GET", "/b");
  ASSERT_TRUE(pumpUntil(l, c, unused, [&] { return c.streams[second].closed; }))
      << "the connection still takes streams";
  EXPECT_EQ(c.streams[second].status, "502");
  int turns = 0;
  l.fx.runUntil([&] {
    c.pump();
    return ++turns >= 20;
  });
  EXPECT_TRUE(c.open()) << "the session is not closed";
  EXPECT_EQ(c.goawayCode, -1) << "no GOAWAY";
  EXPECT_EQ(c.recvError(), 0);
}

TEST(H2Session, AClientResetClosesTheBackendConnectionOfThatStream) {
  Backends b;
  Listener l(h2Config(b.listener.address()));
  H2Client c(l.connect());
  int32_t id = c.request("GET", "/slow");
  ASSERT_TRUE(pumpUntil(l, c, b, [&] {
    auto* s = b.with("GET /slow ");
    return s && s->got.find(kEnd) != std::string::npos;
  }));
  Backends::Conn* s = b.with("GET /slow ");
  c.reset(id, NGHTTP2_CANCEL);
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return !s->open; }))
      << "the backend connection of a cancelled request is closed";
  EXPECT_FALSE(s->peer.reset()) << "an orderly close (EOF)";
  EXPECT_EQ(s->got.find("GET /slow "), 0u) << "and nothing else was sent on it";
  EXPECT_EQ(s->got.find("GET", 1), std::string::npos);
  // The next stream gets a connection of its own.
  int32_t next = c.request("GET", "/next");
  ASSERT_TRUE(pumpUntil(l, c, b, [&] {
    auto* n = b.with("GET /next ");
    return n && n->got.find(kEnd) != std::string::npos;
  }));
  Backends::Conn* n = b.with("GET /next ");
  EXPECT_NE(n, s) << "not reused";
  n->out = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return c.streams[next].closed; }));
  EXPECT_EQ(c.streams[next].body, "ok");
}

TEST(H2Session, RapidResetGetsGoawayEnhanceYourCalm) {
  Backends b;
  Listener l(h2Config(b.listener.address()));
  H2Client c(l.connect());
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return c.serverSettings; })) << "the server's SETTINGS";
  for (int i = 0; i < 300; ++i) {
    int32_t id = c.request("GET", "/r" + std::to_string(i));
    c.frames();  // the HEADERS go out before the reset (else nghttp2 drops both)
    c.reset(id, NGHTTP2_CANCEL);
    c.frames();
  }
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return c.goawayCode != -1; })) << "a GOAWAY comes";
  EXPECT_EQ(c.goawayCode, NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_TRUE(pumpUntil(l, c, b, [&] { return !c.open(); })) << "and the connection closes";
}

TEST(H2Session, AHeaderListOverMaxHeaderSizeGets431AndNothingReachesTheBackend) {
  Backends b;
  Listener l(h2Config(b.listener.address(), "max_header_size = 2048\n"));
  H2Client c(l.connect());
  int32_t id = c.request("GET", "/big", {{"x-big", std::string(3000, 'a')}});
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return c.streams[id].closed; }));
  EXPECT_EQ(c.streams[id].status, "431");
  int turns = 0;
  l.fx.runUntil([&] {
    c.pump();
    b.poll();
    return ++turns >= 20;
  });
  EXPECT_TRUE(b.conns.empty()) << "no backend connection was made";
  EXPECT_EQ(c.goawayCode, -1) << "only the stream is refused";
  // A request within the limit is served on the same connection.
  int32_t ok = c.request("GET", "/fine", {{"x-small", "b"}});
  ASSERT_TRUE(pumpUntil(l, c, b, [&] {
    auto* f = b.with("GET /fine ");
    return f && f->got.find(kEnd) != std::string::npos;
  }));
  EXPECT_EQ(b.with("GET /big"), nullptr);
  b.with("GET /fine ")->out = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  ASSERT_TRUE(pumpUntil(l, c, b, [&] { return c.streams[ok].closed; }));
  EXPECT_EQ(c.streams[ok].status, "200");
}

TEST(H2Session, AnHttp11RequestOnAnH2cListenerIsServedAsHttp11) {
  Backends b;
  Listener l(h2Config(b.listener.address()));
  Peer client = l.connect();
  client.send("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(l.fx.runUntil([&] {
    b.poll();
    auto* p = b.with("GET /plain ");
    return p && p->got.find(kEnd) != std::string::npos;
  }));
  Backends::Conn* p = b.with("GET /plain ");
  EXPECT_EQ(p->got.rfind("GET /plain HTTP/1.1\r\n", 0), 0u) << p->got;
  EXPECT_NE(lower(p->got).find("\r\nhost: x\r\n"), std::string::npos) << p->got;
  p->out = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain";
  std::string answer;
  ASSERT_TRUE(l.fx.runUntil([&] {
    b.poll();
    client.read(answer);
    return answer.find("\r\n\r\nplain") != std::string::npos;
  }));
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << answer;
}

}  // namespace
}  // namespace ringlb::l7
