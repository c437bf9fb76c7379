// ForwardSession's byte pump: the tcp mode's (l4/tcp_session.cc) with a
// prefix per direction, and the response head taken apart in http mode.
#include <fmt/format.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/socket.h"
#include "common/worker.h"
#include "l7/forward_service.h"
#include "l7/forward_session.h"

namespace ringlb::l7 {
namespace {

// A recv that ran out of provided buffers is re-armed after this pause.
constexpr auto kRearmDelay = std::chrono::milliseconds(2);

}  // namespace

ForwardSession::Direction& ForwardSession::directionOf(const Op& op) {
  if (&op == &up_.recvOp || &op == &up_.sendOp || &op == &up_.cancelOp) return up_;
  return down_;
}

void ForwardSession::armRecv(Direction& d) {
  if (d.recvOp.inFlight() || d.eof || state_ != State::Proxying) return;
  d.paused = false;
  d.needRearm = false;
  Worker& worker = service_.worker();
  worker.ring().recvMultishot(d.recvOp, fromFd(d), worker.buffers().groupId());
}

void ForwardSession::onRecv(Direction& d, Op& op) {
  if (op.result > 0) {
    BufferRing& buffers = service_.worker().buffers();
    buffers.take(op.bufferId(), static_cast<size_t>(op.result));
    if (state_ == State::Closing || d.dead) {
      buffers.recycle(op.bufferId());
      return;
    }
    if (d.clientSide) {
      service_.stats().bytesIn.add(static_cast<uint64_t>(op.result));
      bytesIn_ += static_cast<uint64_t>(op.result);
      if (!tunnel_ &&
          !withinBodyLimit({buffers.data(op.bufferId()), static_cast<size_t>(op.result)})) {
        buffers.recycle(op.bufferId());  // nothing of the crossing chunk goes out
        return;
      }
    }
    touch();
    if (!d.clientSide && !tunnel_ && !responseHeadDone_) {
      if (!takeResponseHead(d, op)) return;
    } else if (!d.clientSide && responseBody_) {
      takeResponseBody(d, op.bufferId(), static_cast<uint32_t>(op.result), 0);
    } else {
      d.queue.push(op.bufferId(), false, static_cast<uint32_t>(op.result));
    }
    if (!d.sendOp.inFlight() && d.pending()) sendQueued(d);
    if (op.hasMore() && !d.paused && d.queued() >= kMaxQueuedBuffers) {
      // Backpressure: stop reading until the other side has taken some data.
      d.paused = true;
      service_.worker().ring().cancelOp(d.cancelOp, d.recvOp);
    } else if (!op.hasMore()) {
      if (!d.paused) armRecv(d);
      maybeResume(d);
    }
    return;
  }
  if (state_ == State::Closing) return;
  if (!d.clientSide && !tunnel_ && !responseHeadDone_ && op.result != -ENOBUFS &&
      op.result != -ECANCELED) {
    fail(ErrorCode::BackendClosed, AccessEnd::BadResponse,
         "the origin closed the connection without a response");
    return;
  }
  if (op.result == 0) {
    d.eof = true;
    maybeShutdown(d);
  } else if (op.result == -ENOBUFS) {
    // The worker's buffer pool is empty: retry shortly instead of spinning.
    d.needRearm = true;
    Worker& worker = service_.worker();
    if (!rearmTimer_.armed()) worker.timers().schedule(rearmTimer_, worker.now() + kRearmDelay);
  } else if (op.result == -ECANCELED) {
    maybeResume(d);  // the queue may have drained before this CQE
  } else {
    if (isResetError(-op.result)) resetOnClose(toFd(d));
    close(accessEndForError(-op.result, d.clientSide));  // an error on `from`
  }
}

// Feeds a received buffer to the response parser. Interim (1xx) responses
// are dropped: the origin was sent Connection: close and no Upgrade. Once
// the head is complete, the rewritten head becomes the prefix and the rest
// of the buffer is queued. False when the session failed.
bool ForwardSession::takeResponseHead(Direction& d, Op& op) {
  BufferRing& buffers = service_.worker().buffers();
  const char* data = buffers.data(op.bufferId());
  auto length = static_cast<size_t>(op.result);
  size_t offset = 0;
  while (offset < length) {
    http::ParseResult r = parser_->feed({data + offset, length - offset});
    if (r.status == http::ParseStatus::Error) {
      buffers.recycle(op.bufferId());
      fail(ErrorCode::InvalidResponse, AccessEnd::BadResponse,
           fmt::format("the origin sent an invalid response head ({})", http::errorName(r.error)));
      return false;
    }
    offset += r.consumed;
    if (r.status == http::ParseStatus::NeedMore) break;
    const http::MessageHead& head = parser_->head();
    if (head.isInterim() && head.status != 101) {
      parser_->reset();
      parser_->setRequestMethod(method_);
      continue;
    }
    responseHeadDone_ = true;
    service_.worker().timers().cancel(responseTimer_);
    service_.stats().countRequest(head.status);
    status_ = head.status;
    d.queue.setPrefix(clientResponseHead(head));
    responseBody_.emplace(head, settings_->limits);
    parser_.reset();
    break;
  }
  if (responseBody_) {
    takeResponseBody(d, op.bufferId(), static_cast<uint32_t>(length),
                     static_cast<uint32_t>(offset));
  } else {
    buffers.recycle(op.bufferId());  // all of it was (interim) head
  }
  return true;
}

// Queues the body bytes of buffer `id` [offset, length) for the client and
// drops what follows the body's end. Once the body is complete the exchange
// is over: the origin's side counts as closed.
void ForwardSession::takeResponseBody(Direction& d, uint16_t id, uint32_t length, uint32_t offset) {
  BufferRing& buffers = service_.worker().buffers();
  auto body = static_cast<uint32_t>(
      responseBody_->take({buffers.data(id) + offset, static_cast<size_t>(length - offset)}));
  if (body > 0) {
    d.queue.push(id, false, offset + body, offset);
  } else {
    buffers.recycle(id);
  }
  if (!responseBody_->done() || d.eof) return;
  d.eof = true;
  if (d.recvOp.inFlight()) service_.worker().ring().cancelOp(d.cancelOp, d.recvOp);
  maybeShutdown(d);
}

void ForwardSession::sendQueued(Direction& d) {
  Worker& worker = service_.worker();
  worker.ring().sendmsg(d.sendOp, toFd(d), d.queue.gather(worker));
}

void ForwardSession::onSend(Direction& d, Op& op) {
  if (state_ == State::Closing) return;
  if (op.result < 0) {
    if (!tunnel_ && d.clientSide) {
      // The origin stopped reading the request; its response may still come.
      d.dead = true;
      d.queue.clear(service_.worker());
      return;
    }
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
  if (d.pending()) sendQueued(d);
  maybeResume(d);
  maybeShutdown(d);
}

void ForwardSession::maybeResume(Direction& d) {
  if (d.paused && !d.recvOp.inFlight() && d.queued() <= kMaxQueuedBuffers / 2) armRecv(d);
}

void ForwardSession::maybeShutdown(Direction& d) {
  if (!d.eof || d.pending() || d.shutDown || d.sendOp.inFlight()) return;
  d.shutDown = true;
  // Half-close: the peer learns that no more data comes; the other
  // direction keeps flowing. An http exchange ends with the response.
  ::shutdown(toFd(d), SHUT_WR);
  if ((up_.shutDown || !tunnel_) && down_.shutDown) close(AccessEnd::Closed);
}

void ForwardSession::touch() { lastActivity_ = service_.worker().now(); }

}  // namespace ringlb::l7
