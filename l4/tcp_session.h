// TcpSession: one proxied TCP connection.
//
//   ReadingHeader ──decoded──▶ Connecting ──connected──▶ Proxying ──both ended──▶ Closing ─▶ freed
//       │ malformed, EOF, 5 s      │ refused / timeout: next backend (pool.retries), else Closing
//       ▼ Closing (counted)
//
// ReadingHeader only with accept_proxy_protocol: the client's PROXY header
// is read first, and its source address stands for the client's (hashing,
// the header sent onwards). Bytes that came with it are client data.
// With proxy_protocol = v1|v2, each backend connection starts with a header
// (and those early client bytes) sent in one write before the client→backend
// pump is armed, so nothing can overtake or split it.
//
// Each direction (client→backend, backend→client) is a multishot recv into
// the worker's provided buffers and one send at a time. At most
// kMaxQueuedBuffers received buffers wait per direction: past that the recv is
// cancelled (backpressure: the kernel's socket buffer then fills and TCP flow
// control slows the sender) and re-armed when the queue has drained. A recv
// EOF becomes shutdown(SHUT_WR) on the other side once everything before it
// was sent (half-close); a reset is passed on as a reset.
//
// With the access log on, the session writes one line when it is freed
// (logAccess): the client, the backend, bytes each way, and the first cause
// that closed it (AccessEnd: closed, client_reset, connect_failed, ...).
//
// Worker thread only. The session deletes itself once closed with no op in
// flight.
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
#include "common/proxy_protocol.h"
#include "common/send_queue.h"
#include "common/session.h"
#include "common/stats.h"
#include "common/timer_wheel.h"
#include "common/upstream/pool_state.h"
#include "config/model.h"

namespace ringlb::l4 {

class TcpService;

class TcpSession final : public Session, public TimerHandler {
 public:
  static constexpr size_t kMaxQueuedBuffers = 8;      // small (16 KiB) buffers
  static constexpr size_t kMaxQueuedBulkBuffers = 4;  // bulk (512 KiB) buffers
  // Consecutive full small buffers that make a direction switch to bulk ones.
  static constexpr uint8_t kFullReadsForBulk = 4;

  TcpSession(TcpService& service, int clientFd);
  ~TcpSession() override;

  void start();

  // Session
  void abort() override;
  // OpOwner
  void onCompletion(Op& op) override;
  // TimerHandler
  void onTimer(Timer& timer) override;

 private:
  enum class State : uint8_t { ReadingHeader, Connecting, Proxying, Closing };
  enum TimerId : uint8_t { kConnectTimer, kIdleTimer, kRearmTimer, kHeaderTimer };

  // One direction of the pump: bytes received on `from` are sent to `to`.
  struct Direction {
    Direction(TcpSession* owner, bool fromClient)
        : recvOp(owner, OpKind::Recv),
          sendOp(owner, OpKind::Send),
          cancelOp(owner, OpKind::Cancel),
          clientSide(fromClient) {}
    Op recvOp;
    Op sendOp;
    Op cancelOp;
    // Received buffers not yet sent. Usually at most queueCap(), but CQEs
    // already posted when a pause is decided still arrive, so it may briefly
    // hold more; nothing is ever dropped.
    SendQueue queue;
    size_t queued() const { return queue.buffers(); }
    bool clientSide;         // true: client -> backend
    bool eof = false;        // the sender shut down its side
    bool shutDown = false;   // we sent shutdown(SHUT_WR) on `to`
    bool paused = false;     // recv cancelled for backpressure
    bool needRearm = false;  // recv ended on -ENOBUFS
    bool bulk = false;       // receive into bulk buffers from the next arm on
    bool armedBulk = false;  // the group the recv in flight uses
    bool switching = false;  // recv cancelled to re-arm with bulk buffers
    uint8_t fullReads = 0;
    size_t queueCap() const { return bulk ? kMaxQueuedBulkBuffers : kMaxQueuedBuffers; }
  };

  int fromFd(const Direction& d) const { return d.clientSide ? clientFd_ : upstreamFd_; }
  int toFd(const Direction& d) const { return d.clientSide ? upstreamFd_ : clientFd_; }
  Direction& directionOf(const Op& op);
  void onPumpCompletion(Op& op);

  // PROXY protocol, accepted from the client and sent to the backend.
  void learnAddresses(bool local);
  void readProxyHeader();
  void armHeaderRecv();
  void onHeaderRecv(Op& op);
  void rejectHeader(RejectReason reason, AccessEnd end, const char* why);
  void sendPrefix();
  void onPrefixSent(Op& op);

  void startConnecting();
  // `ifNone`: how the session ends when no backend is left to try.
  void connectNext(AccessEnd ifNone);
  void onConnect(Op& op);
  void connectFailed(int err);
  void startProxying();
  void armRecv(Direction& d);
  void onRecv(Direction& d, Op& op);
  void onSend(Direction& d, Op& op);
  void sendQueued(Direction& d);
  void maybeResume(Direction& d);
  void noteRecvSize(Direction& d, Op& op);
  void maybeShutdown(Direction& d);
  void close(AccessEnd why);
  void maybeFree();
  void logAccess();
  void touch();

  TcpService& service_;
  State state_ = State::Connecting;
  int clientFd_;
  int upstreamFd_ = -1;
  std::shared_ptr<const config::Config> config_;  // the snapshot this session started with
  const config::PoolConfig* pool_ = nullptr;
  upstream::PoolState* poolState_ = nullptr;
  upstream::Lease lease_;
  upstream::TriedSet tried_;
  config::SocketAddress backendAddress_;
  uint32_t attempts_ = 0;
  std::optional<uint64_t> keyHash_;       // set for hash pools keyed on source_ip
  BackendStats* backendStats_ = nullptr;  // of the leased backend, for /metrics
  std::chrono::steady_clock::time_point connectStart_;

  Op connectOp_{this, OpKind::Connect};
  Op cancelConnectOp_{this, OpKind::Cancel};
  Op cancelClientOp_{this, OpKind::Cancel};
  Op cancelUpstreamOp_{this, OpKind::Cancel};
  Direction up_{this, true};
  Direction down_{this, false};
  Timer connectTimer_{*this, kConnectTimer};
  Timer idleTimer_{*this, kIdleTimer};
  Timer rearmTimer_{*this, kRearmTimer};
  std::chrono::steady_clock::time_point lastActivity_;
  config::Duration idleTimeout_{};
  bool registered_ = false;

  // For the access log.
  AccessEnd end_ = AccessEnd::None;
  std::chrono::steady_clock::time_point start_;
  uint64_t bytesIn_ = 0;   // received from the client (with PROXY-header early data)
  uint64_t bytesOut_ = 0;  // sent to the client
  std::optional<std::chrono::microseconds> connectTime_;  // of the connect that worked

  // The client and the address it connected to (the socket's, or what an
  // accepted PROXY header said; family 0 when unknown), and the PROXY header
  // work. Allocated only for listeners and pools that use them, and for the
  // access log's client address while the log is on.
  struct ProxyState {
    sockaddr_storage client{};
    sockaddr_storage local{};
    std::unique_ptr<proxy::ProxyHeaderReader> reader;  // while ReadingHeader
    std::string early;   // client bytes that came with its PROXY header
    std::string prefix;  // sent to the backend before the pump: header + early
    size_t prefixSent = 0;
  };
  config::ProxyProtocol sendProxy_ = config::ProxyProtocol::Off;
  std::unique_ptr<ProxyState> proxy_;
  Op headerRecvOp_{this, OpKind::Recv};
  Op prefixSendOp_{this, OpKind::Send};
  Timer headerTimer_{*this, kHeaderTimer};
};

}  // namespace ringlb::l4
