#include "l4/tcp_session.h"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/log.h"
#include "common/passive_reports.h"
#include "common/socket.h"
#include "common/tls/backend_tls.h"
#include "common/tls/tls_context.h"
#include "common/tls/tls_stream.h"
#include "common/upstream/hash_key.h"
#include "common/worker.h"
#include "l4/tcp_service.h"
#include "l4/transparent_socket.h"

namespace ringlb::l4 {
namespace {

// A client that does not finish its PROXY header (or TLS handshake) by then
// is dropped.
constexpr auto kHeaderTimeout = std::chrono::seconds(5);

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
    : service_(service),
      client_(service.worker().io(), *this),
      backend_(service.worker().io(), *this) {
  client_.adopt(clientFd);
}

TcpSession::~TcpSession() = default;

void TcpSession::start() {
  Worker& worker = service_.worker();
  worker.addSession(*this);
  registered_ = true;
  start_ = worker.now();
  client_.countInto(&service_.stats().bytesIn, &service_.stats().bytesOut);
  const config::ListenerConfig* listener = nullptr;
  if (!loadListener(listener)) {
    close(AccessEnd::NoBackend);
    return;
  }
  bool hashBySource = pool_->balance == config::BalanceAlgorithm::Hash &&
                      pool_->hashKey.kind == config::HashKeyKind::SourceIp;
  // Addresses only for the listeners and pools that use them (and the
  // access log): a plain session stays small. The log needs the client's
  // address now: after a reset the socket no longer knows its peer.
  if (hashBySource || sendProxy_ != config::ProxyProtocol::Off || listener->acceptProxyProtocol ||
      transparent_ || service_.worker().shared().accessLog.enabled()) {
    addresses_ = std::make_unique<Addresses>();
    learnAddresses(sendProxy_ != config::ProxyProtocol::Off);
  }
  if (listener->acceptProxyProtocol) client_.expectProxyHeader();
  if (listener->tls) {
    auto context = service_.tlsContext(config_, *listener);
    auto tls = context ? tls::TlsStream::server(context->defaultContext()) : nullptr;
    if (!tls) {  // certificates that never loaded (logged by the service): refuse
      service_.stats().rejected[static_cast<size_t>(RejectReason::TlsHandshake)].add();
      close(AccessEnd::ClientError);
      return;
    }
    tlsContext_ = std::move(context);  // the SNI callback uses it during the handshake
    client_.setTls(std::move(tls));
  }
  if (listener->acceptProxyProtocol || listener->tls) {
    state_ = listener->acceptProxyProtocol ? State::ReadingHeader : State::Handshaking;
    auto limit = state_ == State::ReadingHeader ? kHeaderTimeout : listener->tls->handshakeTimeout;
    worker.timers().schedule(timer_, worker.now() + limit);
    client_.startReceiving();
    return;
  }
  // Plain tcp: connect at once; the client's first bytes wait in its stream.
  client_.startReceiving();
  startConnecting();
}

bool TcpSession::loadListener(const config::ListenerConfig*& listener) {
  Worker& worker = service_.worker();
  config_ = worker.config();
  for (const auto& l : config_->listeners) {
    if (l.name == service_.name()) listener = &l;
  }
  if (listener == nullptr) return false;  // removed by a reload in the meantime
  idleTimeout_ = listener->effectiveIdleTimeout();
  pool_ = config_->findPool(listener->pool);
  selector_ = worker.pool(listener->pool);
  sendProxy_ = listener->proxyProtocol;
  transparent_ = listener->transparent;
  return pool_ != nullptr && selector_ != nullptr;
}

void TcpSession::learnAddresses(bool local) {
  socklen_t len = sizeof addresses_->client;
  if (getpeername(client_.fd(), reinterpret_cast<sockaddr*>(&addresses_->client), &len) != 0) {
    addresses_->client = {};
  }
  len = sizeof addresses_->local;
  if (local &&
      getsockname(client_.fd(), reinterpret_cast<sockaddr*>(&addresses_->local), &len) != 0) {
    addresses_->local = {};
  }
}

// ----------------------------------------------------------------- events

void TcpSession::onStreamEvent(Stream& stream, StreamEvent event) {
  if (&stream == &client_) {
    onClientEvent(event);
  } else {
    onBackendEvent(event);
  }
  maybeFree();
}

void TcpSession::onClientEvent(StreamEvent event) {
  if (state_ == State::Closing) return;
  if (event == StreamEvent::Error) {
    bool header = state_ == State::ReadingHeader;
    if (header || state_ == State::Handshaking) {
      auto reason = header ? RejectReason::BadRequest : RejectReason::TlsHandshake;
      service_.stats().rejected[static_cast<size_t>(reason)].add();
      if (!header) service_.stats().tls.failed.add();
      if (header) {
        logDebug("listener {}: PROXY protocol header rejected: {}", service_.name(),
                 client_.proxyHeaderError() != nullptr ? client_.proxyHeaderError()
                                                       : std::strerror(client_.error()));
      } else {
        logDebug("listener {}: TLS handshake failed: {}", service_.name(), client_.tls()->error());
      }
      close(header ? AccessEnd::BadProxyHeader : AccessEnd::ClientError);
      return;
    }
    if (isResetError(client_.error())) backend_.resetOnClose();
    close(accessEndForError(client_.error(), true));
    return;
  }
  if (event == StreamEvent::Eof && client_.in().empty() &&
      (state_ == State::ReadingHeader || state_ == State::Handshaking)) {
    if (state_ == State::ReadingHeader) {
      service_.stats().rejected[static_cast<size_t>(RejectReason::BadRequest)].add();
      logDebug("listener {}: PROXY protocol header rejected: closed before its end",
               service_.name());
    }
    close(state_ == State::ReadingHeader ? AccessEnd::BadProxyHeader : AccessEnd::ClientClosed);
    return;
  }
  if (state_ == State::ReadingHeader && client_.proxyHeader() != nullptr) {
    const proxy::DecodeResult& r = *client_.proxyHeader();
    if (r.hasAddresses) {  // else (LOCAL, UNKNOWN) the socket's addresses stand
      addresses_->client = r.source;
      addresses_->local = r.destination;
    }
    state_ = client_.tls() != nullptr ? State::Handshaking : State::Connecting;
    if (state_ == State::Connecting) {
      startConnecting();
    } else {  // the handshake gets its own handshake_timeout (this session's snapshot)
      for (const auto& l : config_->listeners) {
        if (l.name != service_.name() || !l.tls) continue;
        Worker& worker = service_.worker();
        worker.timers().schedule(timer_, worker.now() + l.tls->handshakeTimeout);
      }
    }
    return;
  }
  if (state_ == State::Handshaking && event == StreamEvent::Secured) {
    auto& counters = service_.stats().tls;
    (client_.tls()->resumed() ? counters.resumed : counters.full).add();
    startConnecting();
  }
  // Connecting: client bytes (and an early EOF) wait for the relay.
}

void TcpSession::onBackendEvent(StreamEvent event) {
  if (state_ == State::Closing) return;
  if (state_ == State::Connecting && reconnecting_ && event == StreamEvent::Closed) {
    reconnecting_ = false;
    backend_.reset();
    connectNext(end_);
    return;
  }
  if (state_ != State::Connecting) return;
  if (event == StreamEvent::Connected && backend_.tls() != nullptr) {
    backend_.startReceiving();  // the server's handshake records; relaying waits for Secured
  } else if (event == StreamEvent::Connected || event == StreamEvent::Secured) {
    startRelaying();
  } else if (event == StreamEvent::Error) {
    connectFailed(backend_.error());
  }
}

// ------------------------------------------------------------- connecting

void TcpSession::startConnecting() {
  state_ = State::Connecting;
  if (addresses_ && pool_->balance == config::BalanceAlgorithm::Hash &&
      pool_->hashKey.kind == config::HashKeyKind::SourceIp) {
    std::array<char, 16> bytes;
    std::string_view key = addressBytes(addresses_->client, bytes);
    if (!key.empty()) keyHash_ = upstream::hashBytes(key);
  }
  connectNext(AccessEnd::NoBackend);
}

void TcpSession::connectNext(AccessEnd ifNone) {
  Worker& worker = service_.worker();
  auto picked = selector_->acquire(worker.now(), keyHash_, &tried_);
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
  int fd = openTcpSocket(backendAddress_.family());
  if (fd < 0 && isLocalResourceError(-fd)) {
    noSocket(-fd);
    return;
  }
  if (fd < 0) {
    connectFailed(-fd);
    return;
  }
  if (transparent_) {
    if (int err = bindToClient(fd); err != 0) {
      ::close(fd);
      connectFailed(err, /*setup=*/true);
      return;
    }
  }
  backend_.connect(fd, backendAddress_.sa(), backendAddress_.length);
  worker.timers().schedule(timer_, worker.now() + pool_->connectTimeout);
  if (pool_->tls) {  // relaying starts once the handshake finished (Secured)
    auto tls = service_.backendTls(*pool_, lease_.backend().address, /*http=*/false);
    if (!tls) {
      backend_.failSoon(EPROTO);  // the pool's TLS never loaded (logged)
      return;
    }
    backend_.setTls(std::move(tls));
  }
}

int TcpSession::bindToClient(int fd) {
  sockaddr_storage source;
  socklen_t len = 0;
  int err = transparentSource(addresses_->client, backendAddress_.family(), source, len);
  if (err == EAFNOSUPPORT) {
    std::array<char, kAddressTextSize> text;
    auto client = formatAddress(reinterpret_cast<const sockaddr*>(&addresses_->client), text);
    if (firstTransparentReport(service_.name(), TransparentProblem::FamilyMismatch)) {
      logWarn(
          "listener {}: transparent: client {} cannot connect to backend {} from its own "
          "address (another address family); such connects fail (logged once, then at "
          "debug level)",
          service_.name(), client, backendAddress_.text);
    } else {
      logDebug(
          "listener {}: transparent: client {} cannot connect to backend {} from its own "
          "address (another address family)",
          service_.name(), client, backendAddress_.text);
    }
    return err;
  }
  if (err != 0) return err;  // the client's address is not known (ENOTCONN)
  bool portChanged = false;
  err = bindTransparent(fd, source, len, &portChanged);
  if (err == EPERM) {
    reportNoPermission(service_.name(), err);
  } else if (portChanged && logEnabled(LogLevel::Debug)) {
    std::array<char, kAddressTextSize> text;
    logDebug("listener {}: transparent: {} is in use already; connecting to {} from another port",
             service_.name(), formatAddress(reinterpret_cast<const sockaddr*>(&source), text),
             backendAddress_.text);
  }
  return err;
}

void TcpSession::connectFailed(int err, bool setup) {
  service_.worker().timers().cancel(timer_);
  backendStats_->connectFailures.add();
  backendStats_->active.sub();
  if (!setup) {
    service_.worker().shared().passiveReports.failure(pool_->name, backendAddress_.text,
                                                      std::strerror(err));
  }
  if (backend_.tls() != nullptr && err == EPROTO) {
    logWarn("listener {}: TLS to {} failed: {}", service_.name(), backendAddress_.text,
            tls::BackendTls::failureReason(*backend_.tls()));
  } else {
    logDebug("listener {}: connect to {} failed: {}", service_.name(), backendAddress_.text,
             std::strerror(err));
  }
  selector_->release(lease_);
  end_ = err == ETIMEDOUT ? AccessEnd::ConnectTimeout : AccessEnd::ConnectFailed;
  if (attempts_ > pool_->retries || (setup && err == EPERM)) {
    close(end_);
    return;
  }
  // The next attempt reuses the stream once the failed socket is closed.
  backend_.close();
  if (backend_.closed()) {
    backend_.reset();
    connectNext(end_);  // with no other backend left, the session ends by this failure
  } else {
    reconnecting_ = true;
  }
}

// No socket for the backend: this host is short of descriptors or memory,
// which no other backend would help with. The client is closed and no
// backend is blamed (passive ejection would take healthy ones out).
void TcpSession::noSocket(int err) {
  service_.stats().rejected[static_cast<size_t>(RejectReason::Other)].add();
  if (reportSocketShortageNow()) {
    logWarn(
        "listener {}: no socket for a backend connection: {}; clients are closed until "
        "descriptors free up (raise LimitNOFILE, ulimit -n, fs.file-max)",
        service_.name(), std::strerror(err));
  }
  close(AccessEnd::NoSocket);
}

void TcpSession::startRelaying() {
  Worker& worker = service_.worker();
  // A connect that works ends a run of passive failures for this backend.
  service_.worker().shared().passiveReports.success(pool_->name, backendAddress_.text);
  state_ = State::Relaying;
  backendStats_->requests.add();
  connectTime_ =
      std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - connectStart_);
  backendStats_->connectTime.observe(static_cast<uint64_t>(connectTime_->count()));
  if (sendProxy_ != config::ProxyProtocol::Off) {
    // Ahead of every relayed byte, so nothing can overtake or split it.
    std::string header;
    if (sendProxy_ == config::ProxyProtocol::V1) {
      proxy::encodeProxyV1(addresses_->client, addresses_->local, header);
    } else {
      proxy::encodeProxyV2(addresses_->client, addresses_->local, header);
    }
    backend_.out().append(header);
  }
  relay_.start();
  if (state_ == State::Relaying) worker.timers().schedule(timer_, worker.now() + idleTimeout_);
}

void TcpSession::onRelayEnd(Relay&, AccessEnd end) {
  close(end);
  maybeFree();
}

// ----------------------------------------------------------------- timers

void TcpSession::onTimer(Timer&) {
  Worker& worker = service_.worker();
  switch (state_) {
    case State::Handshaking:
    case State::ReadingHeader:
      service_.stats().rejected[static_cast<size_t>(RejectReason::HeaderTimeout)].add();
      if (state_ == State::Handshaking) service_.stats().tls.timedOut.add();
      logDebug("listener {}: no complete {} in time", service_.name(),
               state_ == State::ReadingHeader ? "PROXY header" : "TLS handshake");
      close(state_ == State::ReadingHeader ? AccessEnd::ProxyHeaderTimeout
                                           : AccessEnd::HeaderTimeout);
      break;
    case State::Connecting:  // Error(ETIMEDOUT) follows
      if (backend_.connected()) {
        backend_.failSoon(ETIMEDOUT);  // connected, but the TLS handshake did not finish
      } else {
        backend_.abandonConnect();
      }
      break;
    case State::Relaying:
      if (worker.now() - relay_.lastActivity() >= idleTimeout_) {
        close(AccessEnd::IdleTimeout);
      } else {
        worker.timers().schedule(timer_, relay_.lastActivity() + idleTimeout_);
      }
      break;
    case State::Closing: break;
  }
  maybeFree();
}

// ----------------------------------------------------------------- the end

void TcpSession::abort() {
  if (state_ == State::Closing) return;
  close(AccessEnd::DrainAborted);
  maybeFree();
}

void TcpSession::close(AccessEnd why) {
  if (state_ == State::Closing) return;
  state_ = State::Closing;
  end_ = why;
  service_.worker().timers().cancel(timer_);
  logAccess();  // before the client socket closes: it may have to ask for its peer
  client_.close();
  backend_.close();
}

void TcpSession::maybeFree() {
  if (state_ != State::Closing || !client_.closed() || !backend_.closed() || !client_.idle() ||
      !backend_.idle() || !registered_) {
    return;
  }
  registered_ = false;  // once
  Worker& worker = service_.worker();
  if (lease_) {
    selector_->release(lease_);
    backendStats_->active.sub();
  }
  worker.removeSession(*this);
  service_.tcpSessionEnded();
  worker.deferDelete(this);
}

void TcpSession::logAccess() {
  AccessLog& log = service_.worker().shared().accessLog;
  if (!log.enabled()) return;
  Worker& worker = service_.worker();
  sockaddr_storage peer{};
  const sockaddr_storage* client = addresses_ ? &addresses_->client : &peer;
  if (client->ss_family == 0) {  // not learnt at start (the log was off then)
    socklen_t len = sizeof peer;
    if (getpeername(client_.fd(), reinterpret_cast<sockaddr*>(&peer), &len) != 0) peer = {};
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
  r.bytesIn = client_.bytesReceived();
  r.bytesOut = client_.bytesSent();
  r.duration = std::chrono::duration_cast<std::chrono::microseconds>(worker.now() - start_);
  r.upstreamConnect = connectTime_;
  r.end = end_;
  log.append(worker.index(), r, service_.accessLine());
}

}  // namespace ringlb::l4
