#include "l4/tcp_session.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <span>

#include "common/log.h"
#include "common/passive_reports.h"
#include "common/socket.h"
#include "common/upstream/hash_key.h"
#include "common/worker.h"
#include "l4/tcp_service.h"

namespace ringlb::l4 {
namespace {

// A recv that ran out of provided buffers is re-armed after this pause:
// re-arming at once would spin while the pool is empty.
constexpr auto kRearmDelay = std::chrono::milliseconds(2);
// A client that does not finish its PROXY header by then is dropped.
constexpr auto kProxyHeaderTimeout = std::chrono::seconds(5);

// The raw IP bytes of `ss` (4 or 16, no port): the `source_ip` hash key.
std::string_view addressBytes(const sockaddr_storage& ss, std::array<char, 16>& out) {
  if (ss.ss_family == AF_INET) {
    std::memcpy(out.data(), &reinterpret_cast<const sockaddr_in&>(ss).sin_addr, 4);
    return {out.data(), 4};
  }
  if (ss.ss_family == AF_INET6) {
    std::memcpy(out.data(), &reinterpret_cast<const sockaddr_in6&>(ss).sin6_addr, 16);
    return {out.data(), 16};
  }
  return {};
}

}  // namespace

TcpSession::TcpSession(TcpService& service, int clientFd)
    : service_(service), clientFd_(clientFd) {}

TcpSession::~TcpSession() = default;

void TcpSession::start() {
  Worker& worker = service_.worker();
  worker.addSession(*this);
  registered_ = true;
  start_ = worker.now();
  config_ = worker.config();
  const config::ListenerConfig* listener = nullptr;
  for (const auto& l : config_->listeners) {
    if (l.name == service_.name()) listener = &l;
  }
  if (listener == nullptr) {  // removed by a reload in the meantime
    close(AccessEnd::NoBackend);
    return;
  }
  idleTimeout_ = listener->effectiveIdleTimeout();
  pool_ = config_->findPool(listener->pool);
  poolState_ = worker.pool(listener->pool);
  if (pool_ == nullptr || poolState_ == nullptr) {
    close(AccessEnd::NoBackend);
    return;
  }
  sendProxy_ = listener->proxyProtocol;
  bool hashBySource = pool_->balance == config::BalanceAlgorithm::Hash &&
                      pool_->hashKey.kind == config::HashKeyKind::SourceIp;
  // Addresses and PROXY state only for the listeners and pools that use them
  // (and the access log): a plain tcp session stays small (idle memory per
  // connection). The log needs the client's address now: after a reset the
  // socket no longer knows its peer.
  bool logging = AccessLog::global().enabled();
  if (hashBySource || sendProxy_ != config::ProxyProtocol::Off || listener->acceptProxyProtocol ||
      logging) {
    proxy_ = std::make_unique<ProxyState>();
  }
  if (hashBySource || sendProxy_ != config::ProxyProtocol::Off || logging) {
    learnAddresses(sendProxy_ != config::ProxyProtocol::Off);
  }
  if (listener->acceptProxyProtocol) {
    readProxyHeader();
    return;
  }
  startConnecting();
}

void TcpSession::learnAddresses(bool local) {
  socklen_t len = sizeof proxy_->client;
  if (getpeername(clientFd_, reinterpret_cast<sockaddr*>(&proxy_->client), &len) != 0) {
    proxy_->client = {};
  }
  len = sizeof proxy_->local;
  if (local && getsockname(clientFd_, reinterpret_cast<sockaddr*>(&proxy_->local), &len) != 0) {
    proxy_->local = {};
  }
}

void TcpSession::readProxyHeader() {
  state_ = State::ReadingHeader;
  proxy_->reader = std::make_unique<proxy::ProxyHeaderReader>();
  Worker& worker = service_.worker();
  worker.timers().schedule(headerTimer_, worker.now() + kProxyHeaderTimeout);
  armHeaderRecv();
}

void TcpSession::armHeaderRecv() {
  // A plain recv into the reader: at most one header's worth, and what came
  // after the header in the same read is kept as client data.
  std::span<char> space = proxy_->reader->space();
  service_.worker().ring().recv(headerRecvOp_, clientFd_, space.data(), space.size());
}

void TcpSession::onHeaderRecv(Op& op) {
  if (state_ != State::ReadingHeader) return;
  if (op.result <= 0) {
    rejectHeader(
        RejectReason::BadRequest, AccessEnd::BadProxyHeader,
        op.result == 0 ? "closed before the end of the PROXY header" : std::strerror(-op.result));
    return;
  }
  proxy::DecodeResult r = proxy_->reader->received(static_cast<size_t>(op.result));
  if (r.status == proxy::DecodeStatus::NeedMore) {
    armHeaderRecv();
    return;
  }
  if (r.status == proxy::DecodeStatus::Error) {
    rejectHeader(RejectReason::BadRequest, AccessEnd::BadProxyHeader, r.error);
    return;
  }
  service_.worker().timers().cancel(headerTimer_);
  if (r.hasAddresses) {  // else (LOCAL, UNKNOWN) the socket's addresses stand
    proxy_->client = r.source;
    proxy_->local = r.destination;
  }
  proxy_->early = proxy_->reader->rest();
  service_.stats().bytesIn.add(proxy_->early.size());
  bytesIn_ += proxy_->early.size();
  proxy_->reader.reset();
  startConnecting();
}

void TcpSession::rejectHeader(RejectReason reason, AccessEnd end, const char* why) {
  service_.stats().rejected[static_cast<size_t>(reason)].add();
  logDebug("listener {}: PROXY protocol header rejected: {}", service_.name(), why);
  close(end);
}

void TcpSession::startConnecting() {
  state_ = State::Connecting;
  if (proxy_ && pool_->balance == config::BalanceAlgorithm::Hash &&
      pool_->hashKey.kind == config::HashKeyKind::SourceIp) {
    std::array<char, 16> bytes;
    std::string_view key = addressBytes(proxy_->client, bytes);
    if (!key.empty()) keyHash_ = upstream::hashBytes(key);
  }
  connectNext(AccessEnd::NoBackend);
}

void TcpSession::connectNext(AccessEnd ifNone) {
  Worker& worker = service_.worker();
  auto picked = poolState_->acquire(worker.now(), keyHash_, &tried_);
  if (!picked.ok()) {
    service_.stats().rejected[static_cast<size_t>(RejectReason::NoBackend)].add();
    logDebug("listener {}: no backend available in pool {}", service_.name(), pool_->name);
    close(ifNone);
    return;
  }
  lease_ = std::move(picked.lease);
  tried_.add(lease_.id());
  backendAddress_ = lease_.backend().resolved;
  backendStats_ = &service_.backendStats(pool_->name, lease_.backend().address);
  backendStats_->active.add();
  connectStart_ = worker.now();
  ++attempts_;
  upstreamFd_ = openTcpSocket(backendAddress_.family());
  if (upstreamFd_ < 0) {
    connectFailed(-upstreamFd_);
    return;
  }
  worker.ring().connect(connectOp_, upstreamFd_, backendAddress_.sa(), backendAddress_.length);
  worker.timers().schedule(connectTimer_, worker.now() + pool_->connectTimeout);
}

void TcpSession::onConnect(Op& op) {
  service_.worker().timers().cancel(connectTimer_);
  if (state_ == State::Closing) return;
  if (op.result < 0) {
    connectFailed(op.result == -ECANCELED ? ETIMEDOUT : -op.result);
    return;
  }
  startProxying();
}

void TcpSession::connectFailed(int err) {
  backendStats_->connectFailures.add();
  backendStats_->active.sub();
  reportPassiveFailure(pool_->name, backendAddress_.text, std::strerror(err));
  logDebug("listener {}: connect to {} failed: {}", service_.name(), backendAddress_.text,
           std::strerror(err));
  if (upstreamFd_ >= 0) {
    ::close(upstreamFd_);
    upstreamFd_ = -1;
  }
  poolState_->release(lease_);
  AccessEnd end = err == ETIMEDOUT ? AccessEnd::ConnectTimeout : AccessEnd::ConnectFailed;
  if (attempts_ > pool_->retries) {
    close(end);
    return;
  }
  connectNext(end);  // with no other backend left, the session ends by this failure
}

void TcpSession::startProxying() {
  // A connect that works ends a run of passive failures for this backend.
  reportPassiveSuccess(pool_->name, backendAddress_.text);
  state_ = State::Proxying;
  backendStats_->requests.add();
  connectTime_ = std::chrono::duration_cast<std::chrono::microseconds>(service_.worker().now() -
                                                                       connectStart_);
  backendStats_->connectTime.observe(static_cast<uint64_t>(connectTime_->count()));
  touch();
  if (proxy_) {
    // Built per connection, so a retry on another backend sends it again.
    proxy_->prefix.clear();
    proxy_->prefixSent = 0;
    if (sendProxy_ == config::ProxyProtocol::V1) {
      proxy::encodeProxyV1(proxy_->client, proxy_->local, proxy_->prefix);
    } else if (sendProxy_ == config::ProxyProtocol::V2) {
      proxy::encodeProxyV2(proxy_->client, proxy_->local, proxy_->prefix);
    }
    proxy_->prefix += proxy_->early;
    proxy_->early.clear();
  }
  if (!proxy_ || proxy_->prefix.empty()) {
    armRecv(up_);
  } else {
    sendPrefix();  // the client->backend pump starts once it is out
  }
  armRecv(down_);
  service_.worker().timers().schedule(idleTimer_, lastActivity_ + idleTimeout_);
}

void TcpSession::sendPrefix() {
  service_.worker().ring().send(prefixSendOp_, upstreamFd_,
                                proxy_->prefix.data() + proxy_->prefixSent,
                                proxy_->prefix.size() - proxy_->prefixSent);
}

void TcpSession::onPrefixSent(Op& op) {
  if (state_ == State::Closing) return;
  if (op.result < 0) {
    if (isResetError(-op.result)) resetOnClose(clientFd_);
    close(accessEndForError(-op.result, false));
    return;
  }
  touch();
  proxy_->prefixSent += static_cast<size_t>(op.result);
  if (proxy_->prefixSent < proxy_->prefix.size()) {
    sendPrefix();
    return;
  }
  std::string().swap(proxy_->prefix);
  armRecv(up_);
}

void TcpSession::armRecv(Direction& d) {
  if (d.recvOp.inFlight() || d.eof || state_ != State::Proxying) return;
  d.paused = false;
  d.needRearm = false;
  d.switching = false;
  d.armedBulk = d.bulk;
  service_.worker().ring().recvMultishot(d.recvOp, fromFd(d),
                                         service_.worker().buffers(d.bulk).groupId());
}

TcpSession::Direction& TcpSession::directionOf(const Op& op) {
  if (&op == &up_.recvOp || &op == &up_.sendOp || &op == &up_.cancelOp) return up_;
  return down_;
}

void TcpSession::onCompletion(Op& op) {
  if (&op == &headerRecvOp_) {
    onHeaderRecv(op);
  } else if (&op == &prefixSendOp_) {
    onPrefixSent(op);
  } else {
    onPumpCompletion(op);
  }
  maybeFree();
}

void TcpSession::onPumpCompletion(Op& op) {
  switch (op.kind) {
    case OpKind::Connect: onConnect(op); break;
    case OpKind::Recv: onRecv(directionOf(op), op); break;
    case OpKind::Send: onSend(directionOf(op), op); break;
    default: break;  // cancels: their targets complete on their own ops
  }
}

void TcpSession::onRecv(Direction& d, Op& op) {
  if (op.result > 0) {
    BufferRing& buffers = service_.worker().buffers(d.armedBulk);
    buffers.take(op.bufferId(), static_cast<size_t>(op.result));
    if (state_ == State::Closing) {
      buffers.recycle(op.bufferId());
      return;
    }
    d.queue.push(op.bufferId(), d.armedBulk, static_cast<uint32_t>(op.result));
    if (d.clientSide) {
      service_.stats().bytesIn.add(static_cast<uint64_t>(op.result));
      bytesIn_ += static_cast<uint64_t>(op.result);
    }
    touch();
    if (!d.sendOp.inFlight()) sendQueued(d);
    noteRecvSize(d, op);
    if (op.hasMore() && !d.paused && !d.switching && d.queued() >= d.queueCap()) {
      // Backpressure: stop reading until the other side has taken some data.
      d.paused = true;
      service_.worker().ring().cancelOp(d.cancelOp, d.recvOp);
    } else if (!op.hasMore()) {
      // The kernel ended the multishot early, or a bulk switch: carry on.
      if (!d.paused) armRecv(d);
      maybeResume(d);
    }
    return;
  }
  if (state_ == State::Closing) return;
  if (op.result == 0) {
    d.eof = true;
    maybeShutdown(d);
    return;
  }
  if (op.result == -ENOBUFS) {
    // The worker's buffer pool is empty: retry shortly instead of spinning.
    d.needRearm = true;
    auto& timers = service_.worker().timers();
    if (!rearmTimer_.armed()) timers.schedule(rearmTimer_, service_.worker().now() + kRearmDelay);
    return;
  }
  if (op.result == -ECANCELED) {
    if (!d.paused) armRecv(d);  // cancelled to switch buffer size
    maybeResume(d);             // the queue may have drained before this CQE
    return;
  }
  if (isResetError(-op.result)) resetOnClose(toFd(d));
  close(accessEndForError(-op.result, d.clientSide));  // an error on `from`
}

void TcpSession::noteRecvSize(Direction& d, Op& op) {
  if (d.armedBulk) return;
  if (static_cast<uint32_t>(op.result) < service_.worker().buffers().bufferSize()) {
    d.fullReads = 0;
    return;
  }
  if (++d.fullReads < kFullReadsForBulk || d.bulk) return;
  // A bulk stream: larger buffers cut the per-op cost (FACTS.md).
  d.bulk = true;
  if (op.hasMore() && !d.paused) {
    d.switching = true;
    service_.worker().ring().cancelOp(d.cancelOp, d.recvOp);
  }
}

void TcpSession::sendQueued(Direction& d) {
  Worker& worker = service_.worker();
  worker.ring().sendmsg(d.sendOp, toFd(d), d.queue.gather(worker));
}

void TcpSession::onSend(Direction& d, Op& op) {
  if (state_ == State::Closing) return;
  if (op.result < 0) {
    if (isResetError(-op.result)) resetOnClose(fromFd(d));
    close(accessEndForError(-op.result, !d.clientSide));  // an error on `to`
    return;
  }
  if (!d.clientSide) {
    service_.stats().bytesOut.add(static_cast<uint64_t>(op.result));
    bytesOut_ += static_cast<uint64_t>(op.result);
  }
  d.queue.consume(service_.worker(), static_cast<size_t>(op.result));
  touch();
  if (d.queued() > 0) sendQueued(d);
  maybeResume(d);
  maybeShutdown(d);
}

void TcpSession::maybeResume(Direction& d) {
  if (d.paused && !d.recvOp.inFlight() && d.queued() <= d.queueCap() / 2) armRecv(d);
}

void TcpSession::maybeShutdown(Direction& d) {
  if (!d.eof || d.queued() > 0 || d.shutDown) return;
  d.shutDown = true;
  // Half-close: the peer learns that no more data comes, the other
  // direction keeps flowing.
  ::shutdown(toFd(d), SHUT_WR);
  if (up_.shutDown && down_.shutDown) close(AccessEnd::Closed);
}

void TcpSession::logAccess() {
  AccessLog& log = AccessLog::global();
  if (!log.enabled()) return;
  Worker& worker = service_.worker();
  sockaddr_storage peer{};
  const sockaddr_storage* client = proxy_ ? &proxy_->client : &peer;
  if (client->ss_family == 0) {  // not learnt at start (the log was off then)
    socklen_t len = sizeof peer;
    if (getpeername(clientFd_, reinterpret_cast<sockaddr*>(&peer), &len) != 0) peer = {};
    client = &peer;
  }
  std::array<char, kAddressTextSize> clientText;
  std::array<char, kAddressTextSize> backendText;
  AccessRecord r;
  r.mode = AccessMode::Tcp;
  r.time = std::chrono::system_clock::now();
  r.client = formatAddress(reinterpret_cast<const sockaddr*>(client), clientText);
  r.listener = service_.name();
  r.pool = pool_ != nullptr ? std::string_view(pool_->name) : "-";
  r.backend =
      formatAddress(backendAddress_.length > 0 ? backendAddress_.sa() : nullptr, backendText);
  r.bytesIn = bytesIn_;
  r.bytesOut = bytesOut_;
  r.duration = std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - start_);
  r.upstreamConnect = connectTime_;
  r.end = end_;
  log.append(worker.index(), r, service_.accessLine());
}

void TcpSession::touch() { lastActivity_ = service_.worker().now(); }

void TcpSession::onTimer(Timer& timer) {
  Worker& worker = service_.worker();
  switch (timer.id()) {
    case kConnectTimer:
      if (connectOp_.inFlight()) worker.ring().cancelOp(cancelConnectOp_, connectOp_);
      break;
    case kIdleTimer:
      if (state_ != State::Proxying) break;
      if (worker.now() - lastActivity_ >= idleTimeout_) {
        close(AccessEnd::IdleTimeout);
        maybeFree();
      } else {
        worker.timers().schedule(idleTimer_, lastActivity_ + idleTimeout_);
      }
      break;
    case kRearmTimer:
      for (Direction* d : {&up_, &down_}) {
        if (d->needRearm) armRecv(*d);
      }
      break;
    case kHeaderTimer:
      if (state_ != State::ReadingHeader) break;
      rejectHeader(RejectReason::HeaderTimeout, AccessEnd::ProxyHeaderTimeout,
                   "no complete PROXY header in time");
      maybeFree();
      break;
    default: break;
  }
}

void TcpSession::abort() {
  if (state_ == State::Closing) return;
  close(AccessEnd::DrainAborted);
  maybeFree();
}

void TcpSession::close(AccessEnd why) {
  if (state_ == State::Closing) return;
  state_ = State::Closing;
  end_ = why;
  Worker& worker = service_.worker();
  worker.timers().cancel(connectTimer_);
  worker.timers().cancel(idleTimer_);
  worker.timers().cancel(rearmTimer_);
  worker.timers().cancel(headerTimer_);
  // Cancel everything still pending on either socket; the fds are closed once
  // every CQE (cancelled ops and the cancels themselves) has come back.
  if (clientFd_ >= 0) worker.ring().cancelFd(cancelClientOp_, clientFd_);
  if (upstreamFd_ >= 0) worker.ring().cancelFd(cancelUpstreamOp_, upstreamFd_);
}

void TcpSession::maybeFree() {
  if (state_ != State::Closing || opsInFlight() != 0) return;
  Worker& worker = service_.worker();
  for (Direction* d : {&up_, &down_}) {
    d->queue.clear(worker);
  }
  logAccess();  // before the client socket closes: it may have to ask for its peer
  if (clientFd_ >= 0) worker.ring().closeDetached(clientFd_);
  if (upstreamFd_ >= 0) worker.ring().closeDetached(upstreamFd_);
  if (lease_) {
    poolState_->release(lease_);
    backendStats_->active.sub();
  }
  if (registered_) worker.removeSession(*this);
  service_.tcpSessionEnded();
  delete this;
}

}  // namespace ringlb::l4
