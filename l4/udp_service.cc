#include "l4/udp_service.h"

#include <liburing.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "l4/udp_session.h"

namespace ringlb::l4 {
namespace {

// Room for bursts from many clients while the worker is busy elsewhere (the
// kernel caps it at net.core.rmem_max).
constexpr int kListenerReceiveBuffer = 4 << 20;

}  // namespace

UdpService::UdpService(Worker& worker, const config::ListenerConfig& listener, int fd)
    : worker_(worker),
      name_(listener.name),
      poolName_(listener.pool),
      idleTimeout_(listener.effectiveIdleTimeout()),
      fd_(fd),
      table_(std::max(1u, listener.maxConnections / worker.workerCount())),
      scratch_(std::make_unique<char[]>(kScratchSize)),
      stats_(worker.shared().stats.listener(listener.name, worker.index())) {
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &kListenerReceiveBuffer, sizeof kListenerReceiveBuffer);
}

UdpService::~UdpService() {
  if (fd_ >= 0) ::close(fd_);
}

void UdpService::start() { armPoll(); }

void UdpService::armPoll() {
  // Edge-triggered: arm it in the kernel now, then take what is already
  // queued, so no datagram waits for a later one to raise an event.
  worker_.ring().pollMultishot(pollOp_, fd_, POLLIN);
  worker_.ring().submit();
  drain();
}

void UdpService::stopAccepting() {
  if (stopped_) return;
  stopped_ = true;
  // Sessions whose last datagram is unanswered wait for the reply; the
  // socket stays open (not read) until the last of them ends.
  table_.forEach([](UdpFlowEntry& e) { static_cast<UdpSession&>(e).beginDrain(); });
  if (pollOp_.inFlight()) worker_.ring().cancelOp(cancelOp_, pollOp_);
  closeWhenDone();
}

void UdpService::closeWhenDone() {
  if (stopped_ && opsInFlight() == 0 && active_ == 0 && fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void UdpService::sessionEnded() {
  --active_;
  closeWhenDone();
}

bool UdpService::finished() const { return stopped_ && opsInFlight() == 0 && active_ == 0; }

void UdpService::onCompletion(Op& op) {
  if (&op == &pollOp_ && !stopped_) {
    if (op.result > 0) drain();
    if (op.result < 0 && op.result != -ECANCELED) {
      // Not re-armed: re-arming a poll the kernel refuses would spin.
      logError("listener {}: poll failed, the listener stops: {}", name_,
               std::strerror(-op.result));
    } else if (!op.hasMore()) {
      armPoll();  // the kernel may end a multishot poll (e.g. CQ overflow)
    }
  } else if (&op == &continueOp_ && !stopped_) {
    drain();
  }
  closeWhenDone();
}

void UdpService::drain() {
  sockaddr_storage from{};
  iovec iov{scratch_.get(), kScratchSize};
  for (int i = 0; i < kDrainBudget; ++i) {
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd_, &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        logDebug("listener {}: recvmsg failed: {}", name_, std::strerror(errno));
      }
      return;
    }
    if (msg.msg_flags & MSG_TRUNC) {
      stats_.udp.truncated.add();
      continue;
    }
    onDatagram(reinterpret_cast<const sockaddr*>(&from), msg.msg_namelen,
               {scratch_.get(), static_cast<size_t>(n)});
  }
  // Budget spent with datagrams maybe left: carry on after the other sockets.
  if (!continueOp_.inFlight()) worker_.ring().nop(continueOp_);
}

void UdpService::onDatagram(const sockaddr* from, socklen_t fromLen, std::span<const char> data) {
  stats_.datagramsIn.add();
  stats_.bytesIn.add(data.size());
  auto key = UdpFlowKey::from(from, fromLen);
  if (!key) {
    stats_.udp.dropped.add();
    return;
  }
  auto* session = static_cast<UdpSession*>(table_.find(*key));
  if (session != nullptr && session->closeIfIdle()) session = nullptr;
  if (session == nullptr) session = newSession(*key, from, fromLen);
  if (session == nullptr) {
    stats_.udp.dropped.add();
    return;
  }
  int rc = session->forward(data);
  if (rc == -ECONNREFUSED || rc == -EHOSTUNREACH || rc == -ENETUNREACH) {
    // The backend refused an earlier datagram (ICMP): give this one a fresh
    // session, which may pick another backend.
    stats_.udp.icmpErrors.add();
    session->close(AccessEnd::BackendUnreachable);
    session = newSession(*key, from, fromLen);
    rc = session == nullptr ? -ENOTCONN : session->forward(data);
  }
  if (rc < 0) stats_.udp.dropped.add();
}

UdpSession* UdpService::newSession(const UdpFlowKey& key, const sockaddr* from, socklen_t fromLen) {
  if (!makeRoom()) return nullptr;
  return UdpSession::open(*this, key, from, fromLen);
}

bool UdpService::makeRoom() {
  if (table_.full()) {
    stats_.udp.evictions.add();
    static_cast<UdpSession*>(table_.lruVictim())->close(AccessEnd::Evicted);
  }
  if (!worker_.atConnectionLimit()) return true;
  // The worker is full (sessions being freed still count until their last
  // CQE): evict so that a later datagram finds room, and drop this one.
  if (UdpFlowEntry* victim = table_.lruVictim()) {
    stats_.udp.evictions.add();
    static_cast<UdpSession*>(victim)->close(AccessEnd::Evicted);
  }
  return false;
}

std::unique_ptr<ListenerService> makeUdpService(Worker& worker,
                                                const config::ListenerConfig& listener, int fd) {
  return std::make_unique<UdpService>(worker, listener, fd);
}

}  // namespace ringlb::l4
