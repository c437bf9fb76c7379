// HttpSession, backend connection: pick a backend, reuse a keep-alive
// connection or connect a new one, attach it, and let it go again.
#include <unistd.h>

#include "common/socket.h"
#include "common/worker.h"
#include "l7/http_service.h"
#include "l7/http_session.h"
#include "l7/upstream_pool.h"

namespace ringlb::l7 {

void HttpSession::pickAndConnect() {
  Worker& worker = service_.worker();
  needUpstream_ = false;
  auto picked = poolState_->acquire(worker.now(), keyHash_, &tried_);
  if (!picked.ok()) {
    bool noneUp = picked.failure == upstream::PickFailure::NoBackendUp;
    // AllTried: every backend failed this request; its last failure answers.
    fail(noneUp ? makeError(ErrorCode::NoBackendUp)
                : error_.value_or(makeError(ErrorCode::ConnectFailed)));
    return;
  }
  lease_ = std::move(picked.lease);
  leasePool_ = poolState_;
  backendKey_.assign(lease_.backend().address);
  backendStats_ = &service_.backendStats(pool_->name, backendKey_);
  backendStats_->requests.add();
  backendStats_->active.add();
  if (!forceFresh_) {
    if (UpstreamConn* idle = service_.upstreams().take(backendKey_)) {
      attachConn(idle);
      return;
    }
  }
  const config::SocketAddress& address = lease_.backend().resolved;
  int fd = openTcpSocket(address.family());
  if (fd < 0) {
    connectFailed(connectError(-fd));
    return;
  }
  setNoDelay(fd);
  connectFd_ = fd;
  connecting_ = true;
  connectStart_ = worker.now();
  worker.ring().connect(connectOp_, fd, address.sa(), address.length);
  worker.timers().schedule(upstreamTimer_, worker.now() + pool_->connectTimeout);
}

void HttpSession::onConnect(Op& op) {
  service_.worker().timers().cancel(upstreamTimer_);
  if (!connecting_ || state_ == State::Closing) {  // abandoned meanwhile
    if (connectFd_ >= 0) ::close(connectFd_);
    connectFd_ = -1;
    return;
  }
  connecting_ = false;
  if (op.result < 0) {
    connectFailed(connectError(op.result == -ECANCELED ? ETIMEDOUT : -op.result));
    return;
  }
  connectTime_ = std::chrono::duration_cast<std::chrono::microseconds>(service_.worker().now() -
                                                                       connectStart_);
  UpstreamConn* conn = service_.upstreams().adopt(connectFd_, backendKey_);
  connectFd_ = -1;
  attachConn(conn);
}

void HttpSession::attachConn(UpstreamConn* conn) {
  Worker& worker = service_.worker();
  conn_ = conn;
  conn->attach(*this);
  upEof_ = false;
  upError_ = 0;
  upShut_ = false;
  respBytes_ = 0;
  upstreamStart_ = worker.now();
  req_.head.assign(upstreamHead_);
  req_.headSent = 0;
  req_.headNext.clear();
  req_.sendingHead = false;
  worker.timers().schedule(upstreamTimer_, worker.now() + listener_->responseTimeout);
}

void HttpSession::dropUpstream() {
  Worker& worker = service_.worker();
  worker.timers().cancel(upstreamTimer_);
  if (conn_ != nullptr) {
    conn_->close();
    conn_ = nullptr;
  }
  if (req_.sendOp.inFlight()) worker.ring().cancelOp(cancelUpSendOp_, req_.sendOp);
  if (connecting_) {
    connecting_ = false;  // onConnect closes the socket
    if (connectOp_.inFlight()) worker.ring().cancelOp(cancelConnectOp_, connectOp_);
  }
  recycleAll(resp_.in);
  resp_.sendable = 0;
}

void HttpSession::releaseLease() {
  if (!lease_) return;
  if (backendStats_ != nullptr) backendStats_->active.sub();
  leasePool_->release(lease_);
}

}  // namespace ringlb::l7
