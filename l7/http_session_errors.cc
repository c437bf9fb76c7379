// HttpSession, failures: error pages, rejections, lingering close, and the
// retry policy for connect failures and backends that failed to answer.
#include <sys/socket.h>

#include "common/log.h"
#include "common/passive_reports.h"
#include "common/worker.h"
#include "l7/error_pages.h"
#include "l7/http_service.h"
#include "l7/http_session.h"

namespace ringlb::l7 {
namespace {

// After an error page: how long unread client bytes are drained before the
// close, so that the client reads the answer rather than a reset.
constexpr auto kLingerTime = std::chrono::seconds(1);

}  // namespace

void HttpSession::fail(Error error) {
  error_ = error;
  if (auto reason = error.rejectReason()) stats_.rejected[static_cast<size_t>(*reason)].add();
  if (error.status() == 0) {
    close();  // the response already started: the client must see it cut short
    return;
  }
  respondError(error.status());
}

void HttpSession::respondError(uint16_t status) {
  if (respHeadDone_ || state_ == State::Closing || state_ == State::Lingering) {
    close();  // part of a response already went out: a reset is all that is left
    return;
  }
  if (state_ == State::ReadingHead) requestStart_ = service_.worker().now();
  exchangeOpen_ = true;
  dropUpstream();
  releaseLease();
  state_ = State::Proxying;
  needUpstream_ = false;
  respHeadDone_ = true;
  closeAfter_ = true;
  status_ = status;
  resp_.framing = Framing::None;
  resp_.bodyDone = true;
  queueHead(resp_, errorResponse(status));
}

void HttpSession::startLingering() {
  if (clientEof_) {
    close();
    return;
  }
  state_ = State::Lingering;
  recycleAll(req_.in);
  if (tls_ != nullptr) closeNotify();
  ::shutdown(clientFd_, SHUT_WR);
  Worker& worker = service_.worker();
  worker.timers().schedule(clientTimer_, worker.now() + kLingerTime);
}

void HttpSession::noteBackendFault(const Error& error) {
  if (backendStats_ != nullptr) backendStats_->connectFailures.add();
  reportPassiveFailure(pool_->name, backendKey_, error.name());
}

void HttpSession::connectFailed(Error error) {
  logDebug("listener {}: connect to {} failed: {}", service_.name(), backendKey_, error.name());
  if (connectFd_ >= 0) ::close(connectFd_);
  connectFd_ = -1;
  connecting_ = false;
  error_ = error;
  noteBackendFault(error);
  tried_.add(lease_.id());
  releaseLease();
  // Another primary first, then a backup (PoolState falls back to backups
  // once every serving primary is in tried_).
  if (error.retryable && ++connectAttempts_ <= pool_->retries) {
    needUpstream_ = true;
    return;
  }
  fail(error);
}

void HttpSession::upstreamFailed(Error error) {
  bool reused = conn_ != nullptr && conn_->reuses() > 0;
  // A stale keep-alive connection is not the backend's fault; anything else is.
  if (!reused) noteBackendFault(error);
  // A reused connection that fails may also be its backend dying (SIGKILL):
  // the retry goes to another backend, unless this one is the only one serving.
  bool others = leasePool_ != nullptr && leasePool_->backends().serving().size() > 1;
  if (lease_ && (!reused || others)) tried_.add(lease_.id());
  dropUpstream();
  releaseLease();
  bool canRetry =
      error.retryable && !retried_ && idempotent_ && !req_.bodyStarted && respBytes_ == 0;
  if (canRetry) {
    // A reused keep-alive connection the backend had closed, or a backend that
    // failed before answering: once more, on a fresh connection.
    error_ = error;
    retried_ = true;
    forceFresh_ = true;
    needUpstream_ = true;
    return;
  }
  fail(error);
}

}  // namespace ringlb::l7
