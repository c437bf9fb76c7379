// The `udp` listener mode: datagrams from each client address form a session
// (UdpSession) with its own connected upstream socket; replies go back to
// the client from the listener's socket, so they leave from the listener's
// address.
//
// I/O model: readiness from the ring, datagrams moved by plain non-blocking
// syscalls. Each socket (the listener, every upstream socket) has one
// multishot IORING_OP_POLL_ADD; on readiness the owner drains up to
// kDrainBudget datagrams with recvmsg(MSG_DONTWAIT) into the service's one
// 64 KiB scratch buffer and forwards each at once with send/sendto
// (MSG_DONTWAIT). Why not recvmsg on the ring:
//  - datagrams up to 65,507 bytes must arrive intact, so a receive buffer is
//    64 KiB. Single-shot recvmsg keeps one armed per socket: 64 KiB per idle
//    session (640 MB for 10,000 sessions). Multishot recvmsg with provided
//    buffers needs a second, 64 KiB-buffer group per listener (the worker's
//    16 KiB group would truncate), and every buffer is then held until its
//    ring send completes, which needs per-send records and session pinning.
//  - here one scratch buffer serves all flows of the listener on this
//    worker, an idle
//    session costs one poll and one fd, nothing is ever buffered (so nothing
//    can be delivered to the wrong flow or outlive its session), and order
//    within a flow is kept. UDP sends do not block: a full socket buffer is
//    a drop (EAGAIN), counted, as the kernel would drop it anyway.
//  Measured on loopback (2 workers; C load generator, 64-byte datagrams,
//  on a 2-core machine also busy with compiles and a fuzzer, so only the
//  ratio means something): 7,600 request/replies/s through the proxy
//  against 11,200/s straight to the echo backend; 60,000-byte datagrams at
//  3,200/s, none crossed. The ring recvmsg variants were not built to
//  compare: they would save the two syscalls per datagram, not the copy or
//  the lookup, and are worth trying once a quiet benchmark host shows the
//  syscalls dominate.
//
// A full table evicts its least recently used session. Sessions end on idle
// timeout, eviction, an ICMP error from their backend, or stop.
//
// Worker thread only.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <span>
#include <string>

#include "common/listener_service.h"
#include "common/op.h"
#include "common/stats.h"
#include "common/worker.h"
#include "l4/udp_session_table.h"

namespace ringlb::l4 {

class UdpSession;

class UdpService final : public ListenerService, public OpOwner {
 public:
  // Largest datagram over IPv6 (65,535 - 8) fits; IPv4's is 65,507.
  static constexpr size_t kScratchSize = 64 * 1024;
  // Datagrams read per readiness event before yielding to other sockets.
  static constexpr int kDrainBudget = 64;

  UdpService(Worker& worker, const config::ListenerConfig& listener, int fd);
  ~UdpService() override;

  // ListenerService
  void start() override;
  // Stops reading; sessions end now, or once the reply their last datagram
  // waits for is relayed (UdpSession::beginDrain). The socket closes once
  // the last session ended and the poll is cancelled.
  void stopAccepting() override;
  bool finished() const override;
  size_t activeSessions() const override { return active_; }
  // OpOwner
  void onCompletion(Op& op) override;

  // For sessions.
  Worker& worker() { return worker_; }
  const std::string& name() const override { return name_; }
  const std::string& poolName() const { return poolName_; }
  config::Duration idleTimeout() const { return idleTimeout_; }
  ListenerStats::Udp& counters() { return stats_.udp; }
  ListenerStats& stats() { return stats_; }
  UdpSessionTable& table() { return table_; }
  // Shared by every flow of this service; valid only within one handler.
  std::span<char> scratch() { return {scratch_.get(), kScratchSize}; }
  // For replies; open until the last session of a stopped service ended.
  int listenerFd() const { return fd_; }
  void sessionStarted() { ++active_; }
  void sessionEnded();
  // The sessions' scratch line for the access log (one worker, one line at a time).
  std::string& accessLine() { return accessLine_; }

 private:
  void armPoll();
  void closeWhenDone();
  void drain();
  void onDatagram(const sockaddr* from, socklen_t fromLen, std::span<const char> data);
  UdpSession* newSession(const UdpFlowKey& key, const sockaddr* from, socklen_t fromLen);
  bool makeRoom();

  Worker& worker_;
  std::string name_;
  std::string poolName_;
  config::Duration idleTimeout_;
  int fd_;
  bool stopped_ = false;
  size_t active_ = 0;
  UdpSessionTable table_;
  std::unique_ptr<char[]> scratch_;
  ListenerStats& stats_;
  std::string accessLine_;
  Op pollOp_{this, OpKind::Recv};     // multishot POLLIN on the listener socket
  Op continueOp_{this, OpKind::Nop};  // resumes a drain that hit its budget
  Op cancelOp_{this, OpKind::Cancel};
};

std::unique_ptr<ListenerService> makeUdpService(Worker& worker,
                                                const config::ListenerConfig& listener, int fd);

}  // namespace ringlb::l4
