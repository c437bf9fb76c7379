// HttpSession, client socket: the multishot receive that feeds the request
// queue (and its re-arm after the buffer ring ran dry).
#include <cerrno>

#include "common/worker.h"
#include "l7/http_service.h"
#include "l7/http_session.h"
#include "l7/tls_conn.h"

namespace ringlb::l7 {
namespace {

// A recv that ran out of provided buffers is re-armed after this pause.
constexpr auto kRearmDelay = std::chrono::milliseconds(2);

}  // namespace

void HttpSession::armClientRecv() {
  if (clientRecvOp_.inFlight() || clientEof_ || clientNeedRearm_ || state_ == State::Closing)
    return;
  if (tls_ != nullptr && tls_->sawEof) return;
  clientPaused_ = false;
  Worker& worker = service_.worker();
  worker.ring().recvMultishot(clientRecvOp_, clientFd_, worker.buffers().groupId());
}

void HttpSession::onClientRecv(Op& op) {
  Worker& worker = service_.worker();
  if (op.result > 0) {
    auto bytes = worker.buffers().take(op.bufferId(), static_cast<size_t>(op.result));
    if (state_ == State::Closing || state_ == State::Lingering) {
      worker.buffers().recycle(op.bufferId());
      return;
    }
    stats_.bytesIn.add(static_cast<uint64_t>(op.result));
    touch();
    if (tls_ != nullptr) {
      onTlsRecv({bytes.data(), bytes.size()});  // copied into the TLS stream
      worker.buffers().recycle(op.bufferId());
      return;
    }
    req_.in.push({op.bufferId(), static_cast<uint32_t>(op.result), 0, Origin::Ring});
    onClientBytes();
    return;
  }
  if (state_ == State::Closing) return;
  if (op.result == 0) {
    if (tls_ != nullptr && state_ != State::Lingering) {
      tls_->sawEof = true;  // EOF counts once everything before it was decrypted
      return;
    }
    onClientEof();
    return;
  }
  if (op.result == -ENOBUFS) {
    clientNeedRearm_ = true;
    if (!rearmTimer_.armed()) worker.timers().schedule(rearmTimer_, worker.now() + kRearmDelay);
    return;
  }
  if (op.result == -ECANCELED) return;  // paused for backpressure
  close();
}

void HttpSession::onClientBytes() {
  if (state_ == State::ReadingHead && !headStarted_) {
    headStarted_ = true;  // from here the whole head must come within header_timeout
    Worker& worker = service_.worker();
    worker.timers().schedule(clientTimer_, worker.now() + listener_->headerTimeout);
  }
}

void HttpSession::onClientEof() {
  clientEof_ = true;
  if (state_ == State::Proxying && !req_.bodyDone) close();  // the body will never end
}

}  // namespace ringlb::l7
