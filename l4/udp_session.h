// UdpSession: one client address's flow through a udp listener.
//
//   open ──datagrams both ways──▶ Closing ──last CQE──▶ freed
//        idle timeout, LRU eviction, ICMP error, stop
//
// The session owns a UDP socket connected to its backend (so the kernel
// filters replies to that backend and reports its ICMP errors) and one
// multishot poll on it. Client datagrams are pushed in by the service
// (forward()); replies are drained here and sent from the listener socket to
// the client's address. Activity only stamps a time: the idle timer checks
// it lazily when it fires.
//
// With the access log on, the session writes one line when it is freed
// (logAccess): datagrams and bytes each way and why it ended (idle_timeout,
// evicted, backend_unreachable, drained, ...).
//
// Worker thread only. close() leaves the table at once; the object frees
// itself from a completion once no op is in flight, never inside close(), so
// a caller may still touch it after close() within the same handler.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <span>

#include "common/access_log.h"
#include "common/session.h"
#include "common/timer_wheel.h"
#include "common/upstream/backend_selector.h"
#include "l4/udp_session_table.h"

namespace ringlb::l4 {

class UdpService;

class UdpSession final : public Session, public UdpFlowEntry, public TimerHandler {
 public:
  // Picks a backend, connects a socket to it and starts the session (in the
  // table, registered with the worker). Null, counted, when there is no
  // backend or no socket.
  static UdpSession* open(UdpService& service, const UdpFlowKey& key, const sockaddr* client,
                          socklen_t clientLen);

  // Sends one client datagram to the backend: 0 or -errno (-ECONNREFUSED:
  // the backend answered an earlier datagram with ICMP unreachable).
  int forward(std::span<const char> datagram);
  // Ends the session; `why` is its access log `end` (the first one counts).
  void close(AccessEnd why);
  bool closing() const { return closing_; }
  // Ends the session, counted as an idle expiry, when it has been silent for
  // idle_timeout: a datagram dispatched before the due timer must not revive
  // it. True when it was closed.
  bool closeIfIdle();

  // Session: UDP has no request in progress, so a drain ends it now.
  // Session. A drain ends a session at once unless its last datagram is
  // still unanswered: then it waits for that reply (relayed from the
  // listener socket, which stays open for sending) up to kDrainReplyWait.
  void beginDrain() override;
  void abort() override { close(AccessEnd::DrainAborted); }
  // OpOwner
  void onCompletion(Op& op) override;
  // TimerHandler
  void onTimer(Timer& timer) override;

 private:
  static constexpr auto kDrainReplyWait = std::chrono::seconds(2);

  UdpSession(UdpService& service, const UdpFlowKey& key, const sockaddr* client,
             socklen_t clientLen, int fd, upstream::BackendSelector& pool, upstream::Lease lease);
  ~UdpSession() override = default;

  void start();
  void armPoll();
  void drainReplies();
  void touch();
  void maybeFree();
  void logAccess();

  UdpService& service_;
  sockaddr_storage client_{};
  socklen_t clientLen_;
  int fd_;
  upstream::BackendSelector& pool_;
  upstream::Lease lease_;
  bool closing_ = false;
  bool awaitingReply_ = false;  // a datagram went to the backend after its last reply
  bool draining_ = false;
  std::chrono::steady_clock::time_point lastActivity_;
  Op pollOp_{this, OpKind::Recv};     // multishot POLLIN on the upstream socket
  Op continueOp_{this, OpKind::Nop};  // resumes a drain; also defers the free
  Op cancelOp_{this, OpKind::Cancel};
  Timer idleTimer_{*this};

  // For the access log.
  AccessEnd end_ = AccessEnd::None;
  std::chrono::steady_clock::time_point start_;
  uint64_t datagramsIn_ = 0;   // client datagrams sent to the backend
  uint64_t datagramsOut_ = 0;  // replies sent to the client
  uint64_t bytesIn_ = 0;
  uint64_t bytesOut_ = 0;
};

}  // namespace ringlb::l4
