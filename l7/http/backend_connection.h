// BackendConnection: one connection to a backend (or, for the forward proxy,
// an origin), owning its whole life: the connect with its timeout, the
// stream, idling in the ConnectionPool between exchanges, and the close.
//
//   Connecting ──connected──▶ Attached ──release──▶ Idle ──take──▶ Attached
//        │ refused / timeout       │ close             │ byte, EOF, idle timeout
//        ▼                         ▼                   ▼
//      Closing ──no op in flight──▶ freed by the pool (Worker::deferDelete)
//
// While attached, every stream event goes to its BackendUser (an exchange):
// Connected, Received, Eof, Drained, Error. An idle connection keeps its
// receive armed, so a backend that closes it is noticed at once; any byte or
// EOF while idle closes it.
//
// Worker thread only. The pool owns it and must outlive it; a user must
// detach (release() or close()) before it goes away.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/deletable.h"
#include "common/stream.h"
#include "common/timer_wheel.h"
#include "common/tls/tls_stream.h"
#include "config/model.h"
#include "l7/http/upstream.h"

namespace ringlb::l7 {

class ConnectionPool;

class BackendConnection final : public Deletable,
                                public StreamHandler,
                                public TimerHandler,
                                public Upstream {
 public:
  BackendConnection(ConnectionPool& pool, IoContext& io, std::string key);
  ~BackendConnection() override;

  // Connects a fresh socket to `address`: Connected, or Error (ETIMEDOUT
  // after `timeout`, the connect's errno otherwise). Attached to `user`.
  // With `tls` (a pool with [pools.NAME.tls]), Connected comes once the
  // handshake finished, within the same `timeout`; a failed handshake is an
  // Error (EPROTO) whose failureReason() says why. With `source` (a forward
  // listener's), the socket is bound to that address first (any port); a
  // source of the other address family is an Error (EAFNOSUPPORT).
  void connect(const config::SocketAddress& address, config::Duration timeout, BackendUser& user,
               std::unique_ptr<tls::TlsStream> tls = nullptr,
               const config::SocketAddress* source = nullptr);
  // A connect that cannot start (the pool's TLS never loaded): Error(err)
  // to `user` from a completion.
  void failToConnect(BackendUser& user, int err);
  // Why the connect (or the TLS handshake) failed, for the log.
  std::string failureReason() override;
  // Hands an idle connection to `user` (ConnectionPool::take does this).
  void attach(BackendUser& user);

  Stream& stream() { return stream_; }
  const std::string& key() const { return key_; }
  // Exchanges this connection carried before the current one.
  uint32_t reuses() const override { return reuses_; }
  bool idle() const { return state_ == State::Idle; }
  bool closing() const { return state_ == State::Closing; }
  // When the connect finished (for connect timing).
  std::chrono::steady_clock::time_point connectedAt() const { return connectedAt_; }

  // The user is done: back to the pool for the next exchange, if it may
  // carry one (the pool may still close it: stopped, full).
  void release() override;
  // The user is done and the connection cannot be reused (or must not be).
  void close() override;

  // --- Upstream: the socket's bytes as they are
  ByteQueue& in() override { return stream_.in(); }
  void refresh() override { stream_.refresh(); }
  ByteQueue& out() override { return stream_.out(); }
  void flush() override { stream_.flush(); }
  size_t requestRoom() const override { return SIZE_MAX; }
  bool sendIdle() const override { return stream_.sendIdle(); }
  bool eof() const override { return stream_.eof(); }
  int error() const override { return stream_.error(); }
  uint64_t bytesReceived() const override { return stream_.bytesReceived(); }
  bool usesTls() override { return stream_.tls() != nullptr; }
  Stream* pacedStream() override { return &stream_; }
  BackendConnection* connection() override { return this; }

  void onStreamEvent(Stream& stream, StreamEvent event) override;
  void onTimer(Timer& timer) override;

 private:
  friend class ConnectionPool;
  enum class State : uint8_t { Connecting, Attached, Idle, Closing };

  void makeIdle(std::chrono::milliseconds idleTimeout);
  void maybeFree();

  ConnectionPool& pool_;
  Stream stream_;
  std::string key_;
  BackendUser* user_ = nullptr;
  State state_ = State::Connecting;
  uint32_t reuses_ = 0;
  bool freed_ = false;
  Timer timer_{*this};  // connect timeout, then idle timeout
  std::chrono::steady_clock::time_point connectedAt_{};

 public:
  // The pool's idle list, per key (most recently released first).
  BackendConnection* nextIdle = nullptr;
  BackendConnection* prevIdle = nullptr;
};

}  // namespace ringlb::l7
