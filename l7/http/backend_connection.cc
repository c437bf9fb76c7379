#include "l7/http/backend_connection.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>

#include "common/socket.h"
#include "common/tls/backend_tls.h"
#include "l7/http/connection_pool.h"

namespace ringlb::l7 {

BackendConnection::BackendConnection(ConnectionPool& pool, IoContext& io, std::string key)
    : pool_(pool), stream_(io, *this), key_(std::move(key)) {}

BackendConnection::~BackendConnection() = default;

namespace {

// Binds `fd` to `source` with the port left to connect() (IP_BIND_ADDRESS_NO_PORT:
// the port is picked per destination, so the ephemeral range is not shared by
// every origin). Returns 0 or an errno.
int bindSource(int fd, const config::SocketAddress& source, int family) {
  if (source.family() != family) return EAFNOSUPPORT;
  int one = 1;
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  if (::bind(fd, source.sa(), source.length) != 0) return errno;
  return 0;
}

}  // namespace

void BackendConnection::connect(const config::SocketAddress& address, config::Duration timeout,
                                BackendUser& user, std::unique_ptr<tls::TlsStream> tls,
                                const config::SocketAddress* source) {
  user_ = &user;
  state_ = State::Connecting;
  int fd = openTcpSocket(address.family());
  if (fd >= 0 && source != nullptr) {
    int err = bindSource(fd, *source, address.family());
    if (err != 0) {
      ::close(fd);
      fd = -err;
    }
  }
  if (fd < 0) {
    // No socket (descriptor limit, an unusable source): reported like a
    // failed connect, from a completion so that the user is not re-entered.
    stream_.failSoon(-fd);
    return;
  }
  setNoDelay(fd);
  stream_.connect(fd, address.sa(), address.length);
  if (tls) stream_.setTls(std::move(tls));  // the ClientHello goes once connected
  IoContext& io = stream_.io();
  io.timers.schedule(timer_, io.now + timeout);
}

void BackendConnection::attach(BackendUser& user) {
  if (state_ == State::Idle) ++reuses_;
  state_ = State::Attached;
  user_ = &user;
  stream_.io().timers.cancel(timer_);
}

void BackendConnection::release() {
  if (state_ != State::Attached) return;
  user_ = nullptr;
  pool_.park(*this);
}

void BackendConnection::makeIdle(std::chrono::milliseconds idleTimeout) {
  state_ = State::Idle;
  stream_.limitBy(nullptr);
  stream_.startReceiving();  // a parked connection must stay silent: any event closes it
  IoContext& io = stream_.io();
  io.timers.schedule(timer_, io.now + idleTimeout);
}

void BackendConnection::close() {
  if (state_ == State::Closing) return;
  if (state_ == State::Idle) pool_.unlinkIdle(*this);
  state_ = State::Closing;
  user_ = nullptr;
  stream_.io().timers.cancel(timer_);
  stream_.close();
  maybeFree();
}

void BackendConnection::failToConnect(BackendUser& user, int err) {
  user_ = &user;
  state_ = State::Connecting;
  stream_.failSoon(err);
}

std::string BackendConnection::failureReason() {
  if (stream_.tls() != nullptr && stream_.error() == EPROTO) {
    return tls::BackendTls::failureReason(*stream_.tls());
  }
  return std::strerror(stream_.error());
}

void BackendConnection::onStreamEvent(Stream&, StreamEvent event) {
  if (event == StreamEvent::Connected && stream_.tls() != nullptr) {
    stream_.startReceiving();  // the server's handshake records
    return;                    // connected for the user once Secured
  }
  if (event == StreamEvent::Secured && state_ == State::Connecting) event = StreamEvent::Connected;
  if (event == StreamEvent::Connected) {
    stream_.io().timers.cancel(timer_);
    connectedAt_ = stream_.io().now;
    state_ = State::Attached;
  }
  if (state_ == State::Closing) {
    if (event == StreamEvent::Closed) maybeFree();
    return;
  }
  if (state_ == State::Idle) {
    close();  // data, EOF or an error on a parked connection: it is done
    return;
  }
  if (user_ != nullptr) user_->onBackendEvent(*this, event);
}

void BackendConnection::onTimer(Timer&) {
  if (state_ == State::Connecting) {
    if (stream_.connected()) {
      stream_.failSoon(ETIMEDOUT);  // connected, but the TLS handshake did not finish
    } else {
      stream_.abandonConnect();  // Error(ETIMEDOUT) follows
    }
  } else if (state_ == State::Idle) {
    close();
  }
}

void BackendConnection::maybeFree() {
  if (state_ != State::Closing || !stream_.closed() || !stream_.idle() || freed_) return;
  freed_ = true;
  pool_.free(*this);
}

}  // namespace ringlb::l7
