#include "common/admin/admin_connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace ringlb::admin {
namespace {

http::ParserLimits adminLimits() {
  http::ParserLimits limits;
  limits.maxRequestLine = 4 * 1024;
  limits.maxHeaderBytes = 8 * 1024;
  limits.maxHeaderCount = 64;
  return limits;
}

}  // namespace

AdminConnection::AdminConnection(int fd, Clock::time_point now, const Responder& respond)
    : fd_(fd),
      respond_(respond),
      parser_(http::MessageKind::Request, adminLimits()),
      deadline_(now + kIdleTimeout) {}

AdminConnection::~AdminConnection() { ::close(fd_); }

short AdminConnection::events() const { return writing_ ? POLLOUT : POLLIN; }

bool AdminConnection::onReady(short revents, Clock::time_point now) {
  if (revents & (POLLERR | POLLNVAL)) return false;
  return writing_ ? flush(now) : readAndAnswer(now);
}

bool AdminConnection::readAndAnswer(Clock::time_point now) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      if (pending_.size() + static_cast<size_t>(n) > kMaxPending) return false;
      pending_.append(buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof buf) break;
      continue;
    }
    if (n == 0) {
      peerClosed_ = true;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return false;
  }
  parsePending(now);
  if (writing_) return flush(now);
  return !peerClosed_;
}

void AdminConnection::parsePending(Clock::time_point now) {
  if (pending_.empty()) return;
  http::ParseResult r = parser_.feed(pending_);
  if (r.status == http::ParseStatus::NeedMore) {
    pending_.clear();  // the parser keeps its own copy of the partial head
    return;
  }
  if (r.status == http::ParseStatus::Error) {
    pending_.clear();
    queueReply(answerParseError(r.error), false, false, now);
    return;
  }
  pending_.erase(0, r.consumed);
  const http::MessageHead& head = parser_.head();
  // A body is not expected on GET/HEAD; rather than skip one, close after the reply.
  const bool keepAlive = head.keepAlive && head.framing == http::BodyFraming::None && !peerClosed_;
  queueReply(respond_(head), head.method == http::Method::Head, keepAlive, now);
}

void AdminConnection::queueReply(const AdminReply& reply, bool headOnly, bool keepAlive,
                                 Clock::time_point now) {
  out_ = formatAdminReply(reply, headOnly, keepAlive);
  outOffset_ = 0;
  writing_ = true;
  closeAfterWrite_ = !keepAlive;
  deadline_ = now + kWriteTimeout;
}

bool AdminConnection::flush(Clock::time_point now) {
  while (writing_) {
    while (outOffset_ < out_.size()) {
      ssize_t n = ::send(fd_, out_.data() + outOffset_, out_.size() - outOffset_, MSG_NOSIGNAL);
      if (n > 0) {
        outOffset_ += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      return false;
    }
    if (closeAfterWrite_) {
      ::shutdown(fd_, SHUT_WR);
      discardInput();
      return false;
    }
    out_.clear();
    out_.shrink_to_fit();  // a metrics page may be large; idle keep-alives hold nothing
    writing_ = false;
    parser_.reset();
    deadline_ = now + kIdleTimeout;
    parsePending(now);  // a pipelined request may already be complete
  }
  return !peerClosed_;
}

void AdminConnection::discardInput() {
  char buf[4096];
  for (int i = 0; i < 16; ++i) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0 && !(n < 0 && errno == EINTR)) return;
  }
}

}  // namespace ringlb::admin
