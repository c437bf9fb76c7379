#include "l4/udp_session.h"

#include <liburing.h>
#include <poll.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/socket.h"
#include "common/upstream/hash_key.h"
#include "common/worker.h"
#include "l4/udp_service.h"

namespace ringlb::l4 {
namespace {

// The source_ip hash of `key` when the pool balances by hash, else nullopt.
std::optional<uint64_t> keyHashFor(const config::PoolConfig* pool, const UdpFlowKey& key) {
  if (pool == nullptr || pool->balance != config::BalanceAlgorithm::Hash) return std::nullopt;
  upstream::RequestKeyView view;
  view.sourceIp = key.ipBytes();
  auto bytes = upstream::extractHashKey(pool->hashKey, view);
  if (!bytes) return std::nullopt;
  return upstream::hashBytes(*bytes);
}

// A non-blocking UDP socket connected to `backend`, or -errno.
int connectUpstream(const config::SocketAddress& backend) {
  int fd = socket(backend.family(), SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -errno;
  if (connect(fd, backend.sa(), backend.length) != 0) {
    int err = errno;
    ::close(fd);
    return -err;
  }
  return fd;
}

bool isIcmpError(int err) {
  return err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH;
}

}  // namespace

UdpSession* UdpSession::open(UdpService& service, const UdpFlowKey& key, const sockaddr* client,
                             socklen_t clientLen) {
  Worker& worker = service.worker();
  upstream::BackendSelector* pool = worker.pool(service.poolName());
  if (pool == nullptr) {
    service.stats().rejected[static_cast<size_t>(RejectReason::NoBackend)].add();
    return nullptr;
  }
  const config::PoolConfig* poolConfig = worker.config()->findPool(service.poolName());
  auto picked = pool->acquire(worker.now(), keyHashFor(poolConfig, key));
  if (!picked.ok()) {
    service.stats().rejected[static_cast<size_t>(RejectReason::NoBackend)].add();
    logDebug("listener {}: no backend available in pool {}", service.name(), service.poolName());
    return nullptr;
  }
  int fd = connectUpstream(picked.lease.backend().resolved);
  if (fd < 0) {
    logWarn("listener {}: cannot open a socket to {}: {}", service.name(),
            picked.lease.backend().resolved.text, std::strerror(-fd));
    pool->release(picked.lease);
    return nullptr;
  }
  auto* session =
      new UdpSession(service, key, client, clientLen, fd, *pool, std::move(picked.lease));
  session->start();
  return session;
}

UdpSession::UdpSession(UdpService& service, const UdpFlowKey& key, const sockaddr* client,
                       socklen_t clientLen, int fd, upstream::BackendSelector& pool,
                       upstream::Lease lease)
    : UdpFlowEntry(key),
      service_(service),
      clientLen_(clientLen),
      fd_(fd),
      pool_(pool),
      lease_(std::move(lease)) {
  std::memcpy(&client_, client, clientLen);
}

void UdpSession::start() {
  Worker& worker = service_.worker();
  worker.addSession(*this);
  service_.sessionStarted();
  start_ = worker.now();
  service_.table().insert(*this);
  service_.counters().sessionsCreated.add();
  service_.stats().connectionsAccepted.add();
  service_.stats().connectionsActive.add();
  touch();
  // Armed in the kernel before the first datagram goes out (the reply may
  // come back at once). Nothing legitimate waits on a fresh socket, and the
  // client's datagram still sits in the scratch buffer drainReplies() uses.
  armPoll();
  worker.timers().schedule(idleTimer_, lastActivity_ + service_.idleTimeout());
}

void UdpSession::armPoll() {
  service_.worker().ring().pollMultishot(pollOp_, fd_, POLLIN);
  service_.worker().ring().submit();
}

int UdpSession::forward(std::span<const char> datagram) {
  if (closing_) return -ESHUTDOWN;
  ssize_t n = ::send(fd_, datagram.data(), datagram.size(), MSG_DONTWAIT);
  if (n < 0) return -errno;
  ++datagramsIn_;
  bytesIn_ += datagram.size();
  awaitingReply_ = true;
  touch();
  service_.table().touch(*this);
  return 0;
}

void UdpSession::onCompletion(Op& op) {
  if (&op == &pollOp_) {
    if (!closing_ && op.result < 0) close(AccessEnd::BackendError);
    if (!closing_ && op.result > 0) drainReplies();
    // The kernel may end a multishot poll (e.g. CQ overflow): re-arm it and,
    // edge-triggered, take what came while it was down.
    if (!closing_ && !op.hasMore()) {
      armPoll();
      drainReplies();
    }
  } else if (&op == &continueOp_) {
    if (!closing_) drainReplies();
  }
  maybeFree();
}

void UdpSession::drainReplies() {
  std::span<char> buf = service_.scratch();
  for (int i = 0; i < UdpService::kDrainBudget; ++i) {
    // MSG_TRUNC: the return value is the datagram's real length.
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      // An ICMP error (port unreachable...) from the backend: the flow is
      // dead; the client's next datagram opens a new session.
      int err = errno;
      if (isIcmpError(err)) service_.counters().icmpErrors.add();
      logDebug("listener {}: backend {} answered with an error: {}", service_.name(),
               lease_ ? lease_.backend().resolved.text : std::string("?"), std::strerror(err));
      close(isIcmpError(err) ? AccessEnd::BackendUnreachable : AccessEnd::BackendError);
      return;
    }
    if (static_cast<size_t>(n) > buf.size()) {
      service_.counters().truncated.add();
      continue;
    }
    int listenerFd = service_.listenerFd();
    if (listenerFd < 0) return;
    ssize_t sent = ::sendto(listenerFd, buf.data(), static_cast<size_t>(n), MSG_DONTWAIT,
                            reinterpret_cast<const sockaddr*>(&client_), clientLen_);
    if (sent < 0) {
      service_.counters().dropped.add();
      continue;
    }
    service_.stats().datagramsOut.add();
    service_.stats().bytesOut.add(static_cast<uint64_t>(n));
    ++datagramsOut_;
    bytesOut_ += static_cast<uint64_t>(n);
    touch();
    service_.table().touch(*this);
    awaitingReply_ = false;
    if (draining_) {
      close(AccessEnd::Drained);  // the answer the drain waited for
      return;
    }
  }
  // Budget spent with data maybe left: carry on after other sockets had a turn.
  if (!continueOp_.inFlight()) service_.worker().ring().nop(continueOp_);
}

void UdpSession::touch() { lastActivity_ = service_.worker().now(); }

bool UdpSession::closeIfIdle() {
  if (closing_) return true;
  if (service_.worker().now() - lastActivity_ < service_.idleTimeout()) return false;
  service_.counters().idleExpiries.add();
  close(AccessEnd::IdleTimeout);
  return true;
}

void UdpSession::beginDrain() {
  if (closing_ || draining_) return;
  if (!awaitingReply_) {
    close(AccessEnd::Drained);
    return;
  }
  draining_ = true;
  Worker& worker = service_.worker();
  worker.timers().schedule(idleTimer_, worker.now() + kDrainReplyWait);
}

void UdpSession::onTimer(Timer&) {
  if (draining_) {
    close(AccessEnd::Drained);  // no reply came in time
    return;
  }
  if (closeIfIdle()) return;
  service_.worker().timers().schedule(idleTimer_, lastActivity_ + service_.idleTimeout());
}

void UdpSession::close(AccessEnd why) {
  if (closing_) return;
  closing_ = true;
  end_ = why;
  Worker& worker = service_.worker();
  service_.table().remove(*this);
  worker.timers().cancel(idleTimer_);
  service_.stats().connectionsActive.sub();
  if (pollOp_.inFlight()) worker.ring().cancelOp(cancelOp_, pollOp_);
  // Free from a completion, never from inside close(): the caller may still
  // hold this session.
  if (!continueOp_.inFlight()) worker.ring().nop(continueOp_);
}

void UdpSession::maybeFree() {
  if (!closing_ || opsInFlight() != 0) return;
  logAccess();  // while the lease (the backend's address) is held
  ::close(fd_);
  pool_.release(lease_);
  service_.worker().removeSession(*this);
  service_.sessionEnded();
  delete this;
}

void UdpSession::logAccess() {
  AccessLog& log = service_.worker().shared().accessLog;
  if (!log.enabled()) return;
  Worker& worker = service_.worker();
  std::array<char, kAddressTextSize> clientText;
  std::array<char, kAddressTextSize> backendText;
  AccessRecord r;
  r.mode = AccessMode::Udp;
  r.time = std::chrono::system_clock::now();
  r.client = formatAddress(reinterpret_cast<const sockaddr*>(&client_), clientText);
  r.listener = service_.name();
  r.pool = service_.poolName();
  r.backend = formatAddress(lease_ ? lease_.backend().resolved.sa() : nullptr, backendText);
  r.datagramsIn = datagramsIn_;
  r.datagramsOut = datagramsOut_;
  r.bytesIn = bytesIn_;
  r.bytesOut = bytesOut_;
  r.duration = std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - start_);
  r.end = end_;
  log.append(worker.index(), r, service_.accessLine());
}

}  // namespace ringlb::l4
