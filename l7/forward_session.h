// ForwardSession: one client connection of a forward listener.
//
//   ReadingHead ──CONNECT / http://──▶ Resolving ──▶ Connecting ──▶ Proxying ──▶ Closing ─▶ freed
//     │ 400 origin-form, bad head         │ 403 ACL     │ 502 refused, 504 timeout
//     │ 408 header_timeout                ▼ 502 no address
//     ▼ every refusal: Closing with a reply (sent once every op has ended)
//
// CONNECT: `200 Connection established`, then bytes both ways until both
// sides have closed (half-close passed on, idle_timeout applies). Bytes the
// client sent after the head go upstream first.
// Absolute-URI request: one request per connection. The head is rewritten
// to origin-form (Connection: close, Via), the rest of the client's bytes are
// relayed raw (the body), the response head is parsed (a broken one is a
// 502), rewritten, and the body relayed until the origin closes; then the
// client connection closes.
//
// The pump is the tcp mode's (l4/tcp_session.h): a multishot recv per
// direction into the worker's provided buffers, one sendmsg at a time, the
// recv cancelled past kMaxQueuedBuffers. A direction may start with a prefix
// (a head we wrote) sent before its received bytes.
//
// With the access log on, a connection that sent any request byte writes one
// line when it is freed (logAccess): the request (method, destination,
// path), the status the client got (200 for a tunnel, the origin's, or ours),
// bytes each way, the ACL's verdict and why it ended (closed, denied,
// connect_timeout, ...).
//
// Worker thread only. Deletes itself once closed with no op in flight.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/access_log.h"
#include "common/error.h"
#include "common/send_queue.h"
#include "common/session.h"
#include "common/stats.h"
#include "common/timer_wheel.h"
#include "l7/body_end.h"
#include "l7/forward_request.h"
#include "l7/forward_resolver.h"
#include "l7/http1_parser.h"

namespace ringlb::l7 {

class ForwardService;
struct ForwardSettings;

class ForwardSession final : public Session, public TimerHandler, public ResolveWaiter {
 public:
  static constexpr size_t kMaxQueuedBuffers = 8;
  static constexpr size_t kHeadChunk = 4096;  // bytes per recv of the request head

  ForwardSession(ForwardService& service, int clientFd);
  ~ForwardSession() override;

  void start();

  // Session
  void beginDrain() override;
  void abort() override;
  // OpOwner
  void onCompletion(Op& op) override;
  // TimerHandler
  void onTimer(Timer& timer) override;
  // ResolveWaiter
  void onResolved(const ResolveJob& job) override;

 private:
  enum class State : uint8_t { ReadingHead, Resolving, Connecting, Proxying, Closing };
  enum TimerId : uint8_t {
    kHeaderTimer,
    kConnectTimer,
    kResponseTimer,
    kIdleTimer,
    kRearmTimer,
    kReplyTimer
  };

  struct Direction {
    Direction(ForwardSession* owner, bool fromClient)
        : recvOp(owner, OpKind::Recv),
          sendOp(owner, OpKind::Send),
          cancelOp(owner, OpKind::Cancel),
          clientSide(fromClient) {}
    Op recvOp;
    Op sendOp;
    Op cancelOp;
    SendQueue queue;  // a prefix (reply or response head), then received buffers
    size_t queued() const { return queue.buffers(); }
    bool pending() const { return !queue.empty(); }
    bool clientSide;
    bool eof = false;
    bool shutDown = false;
    bool paused = false;
    bool needRearm = false;
    bool dead = false;  // http: the origin stopped reading; client bytes are dropped
  };

  // Request head (forward_session.cc).
  void armHeadRecv();
  void onHeadRecv(Op& op);
  void onHead(std::string_view rest);
  void noteRequest(const http::MessageHead& head);
  void startConnect(const Destination& dest, bool isConnect);
  void onResolvedAddress(const sockaddr* addr, socklen_t length);
  void onConnect(Op& op);
  void startProxying();
  // A refusal by the request or the ACL (counted by its rejection reason),
  // or a failure further on: either way the error table's status for `code`
  // with `detail` is the reply.
  void reject(ErrorCode code, std::string_view detail);
  void fail(ErrorCode code, AccessEnd end, std::string_view detail);
  // max_body_size on an absolute-URI request: false (and the session ended)
  // when `bytes` of the request body take it over the limit.
  bool withinBodyLimit(std::string_view bytes);
  void bodyTooLarge();

  // The pump (forward_session_pump.cc).
  int fromFd(const Direction& d) const { return d.clientSide ? clientFd_ : upstreamFd_; }
  int toFd(const Direction& d) const { return d.clientSide ? upstreamFd_ : clientFd_; }
  Direction& directionOf(const Op& op);
  void armRecv(Direction& d);
  void onRecv(Direction& d, Op& op);
  bool takeResponseHead(Direction& d, Op& op);
  void takeResponseBody(Direction& d, uint16_t id, uint32_t length, uint32_t offset);
  void onSend(Direction& d, Op& op);
  void sendQueued(Direction& d);
  void maybeResume(Direction& d);
  void maybeShutdown(Direction& d);
  void touch();

  // Ending (forward_session.cc).
  void close(AccessEnd why);
  void maybeFree();
  void logAccess();
  void sendReply();
  void onReplySent(Op& op);

  ForwardService& service_;
  std::shared_ptr<const ForwardSettings> settings_;
  State state_ = State::ReadingHead;
  bool tunnel_ = false;  // CONNECT; else one absolute-URI request
  bool draining_ = false;
  int clientFd_;
  int upstreamFd_ = -1;
  size_t headBytes_ = 0;  // request-head bytes received so far
  std::unique_ptr<char[]> headBuf_;
  std::unique_ptr<http::Http1Parser> parser_;  // request head, then response head
  http::Method method_ = http::Method::Get;
  bool responseHeadDone_ = false;
  // A chunked request body under max_body_size: counts its payload.
  std::optional<BodyEnd> requestBody_;
  // The response body after its head: the exchange ends where it ends, even
  // when the origin keeps the connection open.
  std::optional<BodyEnd> responseBody_;
  std::string early_;  // what goes upstream first: rewritten head + early client bytes
  Destination dest_;
  std::shared_ptr<ResolveJob> resolveJob_;
  sockaddr_storage upstreamAddress_{};
  socklen_t upstreamLength_ = 0;

  Op headRecvOp_{this, OpKind::Recv};
  Op connectOp_{this, OpKind::Connect};
  Op cancelConnectOp_{this, OpKind::Cancel};
  Op cancelClientOp_{this, OpKind::Cancel};
  Op cancelUpstreamOp_{this, OpKind::Cancel};
  Op replyOp_{this, OpKind::Send};
  Op cancelReplyOp_{this, OpKind::Cancel};
  Direction up_{this, true};
  Direction down_{this, false};
  Timer headerTimer_{*this, kHeaderTimer};
  Timer connectTimer_{*this, kConnectTimer};
  Timer responseTimer_{*this, kResponseTimer};
  Timer idleTimer_{*this, kIdleTimer};
  Timer rearmTimer_{*this, kRearmTimer};
  Timer replyTimer_{*this, kReplyTimer};
  std::chrono::steady_clock::time_point lastActivity_;

  std::string reply_;  // sent to the client once every other op has ended
  size_t replySent_ = 0;
  bool replyDone_ = false;
  bool registered_ = false;

  // For the access log (the strings only filled while it is on).
  AccessEnd end_ = AccessEnd::None;
  uint16_t status_ = 0;  // sent to the client; 0 before any
  std::chrono::steady_clock::time_point start_;
  uint64_t bytesIn_ = 0;       // from the client: head, body, tunnel bytes
  uint64_t bytesOut_ = 0;      // to the client: reply, response, tunnel bytes
  sockaddr_storage client_{};  // family 0 until learnt
  std::string logMethod_;
  std::string logPath_;
  std::string aclVerdict_;  // why the ACL allowed or refused; empty when not asked
};

}  // namespace ringlb::l7
