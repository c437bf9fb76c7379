// TcpSession: one proxied TCP connection, two streams and a relay.
//
//   (ReadingHeader ──PROXY header──▶) (Handshaking ──TLS done──▶)
//   Connecting ──connected──▶ Relaying ──both ended──▶ Closing ─▶ freed
//       │ refused / timeout: next backend (pool.retries), else Closing
//
// Handshaking only on a TLS listener: the client's TLS handshake finishes
// before a backend is picked (a failed handshake costs no backend
// connection); from then on the client stream carries plaintext.
// ReadingHeader only with accept_proxy_protocol: the client stream decodes
// the PROXY header first; its source address stands for the client's
// (hashing, the header sent onwards). Bytes after it are client data.
// With proxy_protocol = v1|v2, each backend connection starts with a header
// written ahead of the relayed bytes. With transparent = true, each backend
// connection leaves from the client's address and port (the socket's peer,
// or the PROXY header's source; l4/transparent_socket.h).
//
// Client bytes that arrive before the backend is connected wait in the
// client stream (its receiving pauses when the queue is full); the relay
// (common/relay.h) then moves bytes both ways with backpressure and
// half-close until both sides ended. One timer serves the current state:
// header, connect or idle timeout.
//
// With the access log on, the session writes one line when it ends.
//
// Worker thread only. The session frees itself (Worker::deferDelete) once
// closed with both streams closed.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "common/access_log.h"
#include "common/relay.h"
#include "common/session.h"
#include "common/stats.h"
#include "common/stream.h"
#include "common/timer_wheel.h"
#include "common/tls/tls_context.h"
#include "common/upstream/backend_selector.h"
#include "config/model.h"

namespace ringlb::l4 {

class TcpService;

// (RelayHandler is also the StreamHandler of both streams.)
class TcpSession final : public Session, public RelayHandler, public TimerHandler {
 public:
  TcpSession(TcpService& service, int clientFd);
  ~TcpSession() override;

  void start();

  // Session
  void abort() override;
  // OpOwner: the session's own ops are its streams'.
  void onCompletion(Op&) override {}
  void onStreamEvent(Stream& stream, StreamEvent event) override;
  void onRelayEnd(Relay& relay, AccessEnd end) override;
  void onTimer(Timer& timer) override;

 private:
  enum class State : uint8_t { Handshaking, ReadingHeader, Connecting, Relaying, Closing };

  // The client and the address it connected to (the socket's, or what an
  // accepted PROXY header said; family 0 when unknown). Allocated only for
  // listeners and pools that use them, and for the access log.
  struct Addresses {
    sockaddr_storage client{};
    sockaddr_storage local{};
  };

  bool loadListener(const config::ListenerConfig*& listener);
  void learnAddresses(bool local);
  void onClientEvent(StreamEvent event);
  void onBackendEvent(StreamEvent event);
  void startConnecting();
  // `ifNone`: how the session ends when no backend is left to try.
  void connectNext(AccessEnd ifNone);
  // `setup`: the backend socket could not be set up here (transparent mode):
  // not the backend's fault, so no passive-health report; EPERM also ends
  // the session at once (every backend would fail alike).
  void connectFailed(int err, bool setup = false);
  void noSocket(int err);
  // Transparent mode: makes `fd` transparent and binds it to the client's
  // address. 0 or an errno (logged here).
  int bindToClient(int fd);
  void startRelaying();
  void close(AccessEnd why);
  void maybeFree();
  void logAccess();

  TcpService& service_;
  State state_ = State::Connecting;
  Stream client_;
  Stream backend_;
  Relay relay_{client_, backend_, *this};
  Timer timer_{*this};
  std::shared_ptr<const config::Config> config_;  // the snapshot this session started with
  const config::PoolConfig* pool_ = nullptr;
  upstream::BackendSelector* selector_ = nullptr;
  upstream::Lease lease_;
  upstream::TriedSet tried_;
  config::SocketAddress backendAddress_;  // of the last backend tried
  uint32_t attempts_ = 0;
  std::optional<uint64_t> keyHash_;       // set for hash pools keyed on source_ip
  BackendStats* backendStats_ = nullptr;  // of the leased backend, for /metrics
  config::Duration idleTimeout_{};
  config::ProxyProtocol sendProxy_ = config::ProxyProtocol::Off;
  std::unique_ptr<Addresses> addresses_;
  std::shared_ptr<tls::TlsContext> tlsContext_;  // alive while the handshake may call back
  bool registered_ = false;
  bool reconnecting_ = false;  // the failed attempt's stream is still closing
  bool transparent_ = false;   // the listener's `transparent`
  // For the access log.
  AccessEnd end_ = AccessEnd::None;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point connectStart_;
  std::optional<std::chrono::microseconds> connectTime_;  // of the connect that worked
};

}  // namespace ringlb::l4
