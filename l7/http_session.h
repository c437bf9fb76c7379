// HttpSession: one client connection of an `http` listener. It serves one
// request at a time (pipelined bytes wait in the receive queue, so responses
// go out in order):
//
//   (ReadingProxyHeader ──PROXY header──▶)
//   ReadingHead ──head──▶ Proxying ──response sent, keep-alive──▶ ReadingHead
//        │ bad head / 408         │ 101 Switching Protocols ──▶ Tunnel
//        └────────────▶ (error page) ──▶ Lingering ──EOF / 1 s──▶ Closing ─▶ freed
//
// Proxying: route, pick a backend (PoolState), take a keep-alive connection
// (UpstreamPool) or connect, send the rewritten head, relay the body both ways
// as it arrives. Each direction is a Pipe: an owned head string, then body
// bytes sent straight out of the provided receive buffers, one send at a
// time, with at most kMaxQueuedBuffers received buffers waiting before that
// side's recv is paused (backpressure, as in TcpSession). Failures map to
// 502/503/504; an idempotent request that failed before any response byte is
// retried once; connect failures are retried per pool `retries`.
//
// The implementation is split by job: http_session.cc (entry points, step
// loop, close), _client (client recv), _request (request head, routing, end of
// an exchange), _proxy (PROXY protocol header), _tls (TLS termination), _upstream (pick, connect,
// keep-alive), _response (response head, tunnel), _pipe (body relay), _errors (error pages,
// retries).
//
// With accept_proxy_protocol the session starts in ReadingProxyHeader (_proxy):
// a plain bounded recv until the PROXY header is decoded; its source address
// becomes the client's, and the bytes after it go on to TLS or the parser.
//
// On a TLS listener (tls_ set) the client socket carries ciphertext: received
// bytes go through a TlsStream and the decrypted ones are queued as chunks of
// session-owned buffers (Chunk::tls), and every send to the client is
// encrypted first (_tls). A plaintext session only pays null checks.
//
// Worker thread only. The session deletes itself once closed with no op in
// flight; every entry point (completion, timer, upstream callback, abort)
// ends with maybeFree() and nothing else frees it.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/proxy_protocol.h"
#include "common/session.h"
#include "common/stats.h"
#include "common/timer_wheel.h"
#include "common/upstream/hash_key.h"
#include "common/upstream/pool_state.h"
#include "config/model.h"
#include "l7/http1_parser.h"
#include "l7/upstream_conn.h"

namespace ringlb::l7 {

class HttpService;
struct TlsConn;

class HttpSession final : public Session, public TimerHandler, public UpstreamHandler {
 public:
  static constexpr size_t kMaxQueuedBuffers = 8;

  HttpSession(HttpService& service, int clientFd);
  ~HttpSession() override;

  void start();

  // Session
  void beginDrain() override;
  void abort() override;
  // OpOwner
  void onCompletion(Op& op) override;
  // TimerHandler
  void onTimer(Timer& timer) override;
  // UpstreamHandler
  void onUpstreamRecv(UpstreamConn& conn, const Op& op) override;

 private:
  enum class State : uint8_t {
    ReadingProxyHeader,
    ReadingHead,
    Proxying,
    Tunnel,
    Lingering,
    Closing
  };
  enum TimerId : uint8_t { kClientTimer, kUpstreamTimer, kRearmTimer };
  // How a pipe's body ends: not at all, after N bytes, at the last chunk, or
  // never (tunnel, close-delimited response).
  enum class Framing : uint8_t { None, Length, Chunked, All };

  // Where a chunk's bytes live.
  enum class Origin : uint8_t {
    Ring,   // id names a provided receive buffer
    Tls,    // id names a TlsConn plaintext buffer
    Early,  // early_: what followed the PROXY header in its last read (id unused)
  };

  struct Chunk {
    uint16_t id;
    uint32_t len;
    uint32_t off;
    Origin origin;
  };

  // FIFO of received buffers: entries [head_, size).
  class ChunkQueue {
   public:
    bool empty() const { return head_ == v_.size(); }
    size_t size() const { return v_.size() - head_; }
    Chunk& front() { return v_[head_]; }
    void push(Chunk c) { v_.push_back(c); }
    void pop() {
      if (++head_ == v_.size()) {
        v_.clear();
        head_ = 0;
      } else if (head_ >= 32 && head_ * 2 >= v_.size()) {
        // A stream that never fully drains must not grow the vector forever.
        v_.erase(v_.begin(), v_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
      }
    }

   private:
    std::vector<Chunk> v_;
    size_t head_ = 0;
  };

  // One direction: owned head bytes first, then body bytes relayed from `in`.
  struct Pipe {
    explicit Pipe(HttpSession* s) : sendOp(s, OpKind::Send) {}
    ChunkQueue in;
    std::string head;  // bytes to send before any body byte
    size_t headSent = 0;
    std::string headNext;  // queued while a send from `head` is in flight
    bool sendingHead = false;
    Framing framing = Framing::None;
    http::LengthBody length;
    http::ChunkedDecoder chunked;
    bool dropFraming = false;  // chunked: send payload only (HTTP/1.0 client)
    bool bodyDone = true;
    bool bodyStarted = false;  // a body byte was classified for sending
    bool framingError = false;
    uint64_t bodyLimit = 0;  // chunked payload cap, max_body_size (0 = none)
    bool overLimit = false;  // the chunked payload crossed bodyLimit
    uint32_t sendable = 0;   // bytes at in.front() classified as body, not yet sent
    uint64_t bodyBytes = 0;  // body (or tunnel) bytes classified so far: the access log
    Op sendOp;
    bool flushed() const {
      return !sendOp.inFlight() && headSent == head.size() && headNext.empty() && sendable == 0;
    }
  };

  // --- set-up, requests
  bool loadListener();
  void startReadingHead();
  void parseRequestHead();
  void startRequest();
  void setRequestFraming(const http::MessageHead& h);
  void buildUpstreamHead(const http::MessageHead& h);
  std::optional<uint64_t> hashKeyOf(const http::MessageHead& h);
  void finishExchange();
  void resetExchange();

  // --- upstream
  void pickAndConnect();
  void onConnect(Op& op);
  void connectFailed(Error error);
  void attachConn(UpstreamConn* conn);
  void upstreamFailed(Error error);
  void noteBackendFault(const Error& error);
  void dropUpstream();
  void releaseLease();
  void parseResponseHead();
  void onResponseHead();
  void startTunnel(const http::MessageHead& h);
  void checkUpstreamEnd();

  // --- pipes
  void queueHead(Pipe& p, std::string_view bytes);
  void pump(Pipe& p, int fd);
  void coalesceBody(Pipe& p);
  size_t classify(Pipe& p, std::string_view avail, bool& forward);
  void onPipeSent(Pipe& p, int result);
  void consume(ChunkQueue& q, size_t n);
  void release(const Chunk& c);
  void recycleAll(ChunkQueue& q);
  std::string_view frontBytes(ChunkQueue& q);

  // --- client side
  void progress();
  bool step();
  void stepTunnel();
  void onClientRecv(Op& op);
  void onClientBytes();
  void onClientEof();
  void armClientRecv();
  void updateRecvInterest();
  void respondError(uint16_t status);
  // Every failure ends here: the error table decides the status (or a plain
  // close once part of the response went out) and the counter.
  void fail(Error error);
  void startLingering();
  void touch();
  void logRequest();
  void close();
  void maybeFree();

  // --- PROXY protocol header (http_session_proxy.cc)
  void readProxyHeader();
  void armProxyRecv();
  void onProxyRecv(Op& op);
  void acceptProxyHeader(const proxy::DecodeResult& r);
  void rejectProxyHeader(RejectReason reason, const char* why);
  void setClientAddress(const sockaddr_storage& ss);

  // --- TLS (http_session_tls.cc)
  bool startTls();
  void onTlsRecv(std::string_view ciphertext);
  void pullTls();
  // Ciphertext for the client waits to be sent beyond a bound: stop decrypting
  // and reading until it drains (records a client provokes without reading,
  // such as KeyUpdate, must not grow memory).
  bool tlsBacklogged() const;
  void sendToClient(Pipe& p, int fd, const char* data, size_t len);
  void onTlsSent(int result);
  void flushTls();
  void sendTlsNow();
  void closeNotify();
  void tlsFailed();

  HttpService& service_;
  State state_ = State::ReadingHead;
  int clientFd_;
  std::string clientIp_;
  std::string clientAddr_;                        // "ip:port", for the access log
  std::shared_ptr<const config::Config> config_;  // the snapshot this session started with
  const config::ListenerConfig* listener_ = nullptr;
  ListenerStats& stats_;

  http::Http1Parser reqParser_;
  http::Http1Parser respParser_;
  Pipe req_{this};   // client -> backend; req_.in is the client receive queue
  Pipe resp_{this};  // backend -> client; resp_.in is the backend receive queue

  // Current request.
  const config::RouteConfig* route_ = nullptr;
  const config::PoolConfig* pool_ = nullptr;
  upstream::PoolState* poolState_ = nullptr;
  upstream::Lease lease_;
  upstream::PoolState* leasePool_ = nullptr;
  BackendStats* backendStats_ = nullptr;
  upstream::TriedSet tried_;
  std::optional<uint64_t> keyHash_;
  std::string upstreamHead_;  // kept for a retry
  std::string backendKey_;
  std::vector<upstream::HeaderField> hashFields_;
  std::chrono::steady_clock::time_point requestStart_;
  uint16_t status_ = 0;
  std::optional<Error> error_;  // why the exchange failed (the last failure)
  uint32_t connectAttempts_ = 0;
  uint64_t respBytes_ = 0;  // bytes received from the backend for this request
  bool headStarted_ = false;
  bool needUpstream_ = false;
  bool connecting_ = false;
  bool retried_ = false;
  bool forceFresh_ = false;
  bool idempotent_ = false;
  bool expectContinue_ = false;
  bool wantsUpgrade_ = false;
  bool client10_ = false;
  bool clientKeepAlive_ = true;
  bool respHeadDone_ = false;  // a final head (backend's or an error page) is queued
  bool respKeepAlive_ = false;
  bool closeAfter_ = false;
  bool firstRequest_ = true;
  // For the access log.
  bool exchangeOpen_ = false;  // a request (or a rejected head) is not logged yet
  uint64_t reqHeadBytes_ = 0;
  uint64_t respSentBytes_ = 0;
  std::string requestId_;
  std::chrono::steady_clock::time_point connectStart_;
  std::chrono::steady_clock::time_point upstreamStart_;
  std::optional<std::chrono::microseconds> connectTime_;
  std::optional<std::chrono::microseconds> responseTime_;

  // Connection-level.
  UpstreamConn* conn_ = nullptr;
  int connectFd_ = -1;
  bool upEof_ = false;
  int upError_ = 0;
  bool clientEof_ = false;
  bool clientPaused_ = false;
  bool clientNeedRearm_ = false;
  bool clientShut_ = false;
  bool upShut_ = false;
  bool draining_ = false;
  bool registered_ = false;

  std::unique_ptr<TlsConn> tls_;  // null on a plaintext listener
  // Set only while reading a PROXY header (accept_proxy_protocol).
  std::unique_ptr<proxy::ProxyHeaderReader> proxyReader_;
  std::string early_;  // plaintext bytes that followed the PROXY header (Origin::Early)

  Op clientRecvOp_{this, OpKind::Recv};
  Op proxyRecvOp_{this, OpKind::Recv};  // plain recv of the PROXY header
  Op connectOp_{this, OpKind::Connect};
  Op cancelClientOp_{this, OpKind::Cancel};
  Op cancelRecvOp_{this, OpKind::Cancel};
  Op cancelConnectOp_{this, OpKind::Cancel};
  Op cancelUpSendOp_{this, OpKind::Cancel};
  Timer clientTimer_{*this, kClientTimer};
  Timer upstreamTimer_{*this, kUpstreamTimer};
  Timer rearmTimer_{*this, kRearmTimer};
  std::chrono::steady_clock::time_point lastActivity_;
  config::Duration idleTimeout_{};
};

}  // namespace ringlb::l7
