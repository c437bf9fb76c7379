#include "common/stream.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/socket.h"
#include "common/stats.h"
#include "common/tls/tls_stream.h"

namespace ringlb {
namespace {

// A recv that found the provided buffers used up is re-armed after this
// pause (re-arming at once would spin: FACTS.md).
constexpr auto kRearmDelay = std::chrono::milliseconds(2);
// TLS records waiting to be sent beyond this stop decryption and receiving
// (records a peer provokes without reading, such as KeyUpdate replies, must
// not grow memory).
constexpr size_t kMaxTlsBacklog = 64 * 1024;
// Plaintext encrypted per send: a few records, so one send carries them.
constexpr size_t kTlsSendBatch = 64 * 1024;
// Pieces smaller than a record are copied together up to this much before
// they are encrypted (a TLS record holds at most 16 KiB).
constexpr size_t kTlsJoin = 16 * 1024;

}  // namespace

struct Stream::SendVector {
  std::array<iovec, kMaxIov> iov{};
  msghdr msg{};
};

struct Stream::Filters {
  std::unique_ptr<proxy::ProxyHeaderReader> proxyReader;  // until the header is decoded
  std::optional<proxy::DecodeResult> proxyHeader;
  const char* proxyError = nullptr;
  std::unique_ptr<tls::TlsStream> tls;
  std::string cipher;           // TLS records being sent
  size_t cipherSent = 0;        // bytes of `cipher` the socket took
  size_t plainPending = 0;      // plaintext bytes of out() the records in `cipher` carry
  bool socketEof = false;       // the socket reached EOF; plaintext may still wait in the BIO
  bool decryptBlocked = false;  // decryption stopped for room, not for want of input
  bool secured = false;         // Secured was delivered
  int deferredError = 0;        // a failure found inside flush(): reported from a completion
  bool tlsFailed = false;       // no close_notify after a fatal TLS error
  bool closeNotifyQueued = false;
};

Stream::Stream(IoContext& io, StreamHandler& handler)
    : io_(io), handler_(&handler), in_(io.store), out_(io.store) {}

Stream::~Stream() {
  assert(opsInFlight() == 0);
  limitBy(nullptr);
  if (source_ != nullptr && source_->sink_ == this) source_->sink_ = nullptr;
  if (fd_ >= 0) ::close(fd_);  // never closed through close(): nothing is in flight
}

Stream::Filters& Stream::filters() {
  if (!filters_) filters_ = std::make_unique<Filters>();
  return *filters_;
}

tls::TlsStream* Stream::tls() { return filters_ ? filters_->tls.get() : nullptr; }

const char* Stream::proxyHeaderError() const { return filters_ ? filters_->proxyError : nullptr; }

const proxy::DecodeResult* Stream::proxyHeader() const {
  return filters_ && filters_->proxyHeader ? &*filters_->proxyHeader : nullptr;
}

// ------------------------------------------------------------------ set-up

void Stream::adopt(int fd) { fd_ = fd; }

void Stream::connect(int fd, const sockaddr* address, socklen_t length) {
  fd_ = fd;
  connecting_ = true;
  io_.ring.connect(connectOp_, fd, address, length);
}

void Stream::reset() {
  assert(closed_ && idle());
  fd_ = -1;
  error_ = 0;
  connecting_ = receiving_ = paused_ = needRearm_ = bulk_ = armedBulk_ = switching_ = false;
  armedOnce_ = lingering_ = false;
  eof_ = shutdownWanted_ = shutDone_ = resetOnClose_ = closing_ = closed_ = false;
  fullReads_ = 0;
  io_.timers.cancel(rearmTimer_);
  if (filters_) {  // a retry gets fresh filters (setTls, expectProxyHeader), nothing of the last
    Filters& f = *filters_;
    f.proxyReader.reset();
    f.proxyHeader.reset();
    f.proxyError = nullptr;
    f.tls.reset();
    f.cipher.clear();
    f.cipherSent = f.plainPending = 0;
    f.socketEof = f.decryptBlocked = f.secured = f.tlsFailed = f.closeNotifyQueued = false;
    f.deferredError = 0;
  }
}

void Stream::abandonConnect() {
  if (connectOp_.inFlight()) io_.ring.cancelOp(cancelOp_, connectOp_);
}

void Stream::expectProxyHeader() {
  filters().proxyReader = std::make_unique<proxy::ProxyHeaderReader>();
}

void Stream::setTls(std::unique_ptr<tls::TlsStream> tls) { filters().tls = std::move(tls); }

void Stream::limitBy(Stream* sink) {
  if (sink_ != nullptr && sink_->source_ == this) sink_->source_ = nullptr;
  sink_ = sink;
  if (sink_ != nullptr) sink_->source_ = this;
}

// ---------------------------------------------------------------- receiving

void Stream::startReceiving() {
  receiving_ = true;
  armRecv();
}

size_t Stream::held() const {
  if (tlsBacklogged()) return cap();
  return in_.buffers() + (sink_ != nullptr ? sink_->out_.buffers() : 0);
}

bool Stream::tlsBacklogged() const {
  if (!filters_ || !filters_->tls) return false;
  return filters_->tls->pendingCiphertext() + filters_->cipher.size() >= kMaxTlsBacklog;
}

void Stream::armRecv() {
  if (lingering_) {
    if (!recvOp_.inFlight() && !closing_ && !needRearm_) {
      armedBulk_ = false;
      armRecvOp(io_.store.small);
    }
    return;
  }
  if (!receiving_ || recvOp_.inFlight() || eof_ || closing_ || fd_ < 0 || connecting_ ||
      needRearm_ || error_ != 0 || (filters_ && filters_->socketEof)) {
    return;
  }
  if (held() >= cap()) {
    paused_ = true;
    return;
  }
  paused_ = false;
  switching_ = false;
  armedBulk_ = bulk_;
  armRecvOp(io_.buffers(bulk_));
}

void Stream::armRecvOp(BufferRing& buffers) {
  io_.ring.recvMultishot(recvOp_, fd_, buffers.groupId(),
                         armedOnce_ ? Ring::Arm::Again : Ring::Arm::First);
  armedOnce_ = true;
}

void Stream::refresh() {
  if (closing_ || error_ != 0) return;
  if (filters_ && filters_->decryptBlocked && !wakeOp_.inFlight() && in_.buffers() < cap() &&
      !tlsBacklogged()) {
    io_.ring.nop(wakeOp_);  // records wait in the BIO: decrypt from a completion
  }
  if (paused_ && held() <= cap() / 2) {
    paused_ = false;
    armRecv();
  }
}

void Stream::onRecv(Op& op) {
  if (lingering_) {
    if (op.result > 0) {
      io_.buffers(armedBulk_).take(op.bufferId(), static_cast<size_t>(op.result));
      io_.buffers(armedBulk_).recycle(op.bufferId());
      if (!op.hasMore()) armRecv();
    } else if (op.result == -ENOBUFS) {
      needRearm_ = true;
      if (!closing_ && !rearmTimer_.armed()) {
        io_.timers.schedule(rearmTimer_, io_.now + kRearmDelay);
      }
    } else if (op.result == -ECANCELED) {
      armRecv();  // a pause or a bulk switch was cancelling it when lingering began
    } else {
      // The peer's EOF (or an error): nothing is left unread. The owner
      // hears Closed now, or from the last completion.
      close();
      if (closed_) emit(StreamEvent::Closed);
    }
    return;
  }
  if (op.result > 0) {
    BufferSource source = armedBulk_ ? BufferSource::Bulk : BufferSource::Small;
    auto length = static_cast<uint32_t>(op.result);
    io_.buffers(armedBulk_).take(op.bufferId(), length);
    if (closing_ || error_ != 0) {
      io_.buffers(armedBulk_).recycle(op.bufferId());
      return;
    }
    noteReadSize(op);
    size_t before = in_.size();
    bool eofBefore = eof_;
    takeReceived(source, op.bufferId(), length);
    if (error_ != 0 || closing_) return;
    if (op.hasMore() && !paused_ && !switching_ && held() >= cap()) {
      // Backpressure: stop reading; TCP flow control slows the sender.
      paused_ = true;
      io_.ring.cancelOp(cancelOp_, recvOp_);
    } else if (!op.hasMore()) {
      armRecv();  // the kernel ended the multishot early, or a bulk switch
    }
    deliver(before, eofBefore);
    return;
  }
  if (closing_ || error_ != 0) return;
  if (op.result == 0) {
    if (filters_ && filters_->tls) {
      filters_->socketEof = true;  // EOF counts once everything before it was decrypted
      size_t before = in_.size();
      bool eofBefore = eof_;  // a close_notify may have ended the stream already
      decrypt();
      if (error_ == 0) deliver(before, eofBefore);
      return;
    }
    eof_ = true;
    emit(StreamEvent::Eof);
  } else if (op.result == -ENOBUFS) {
    needRearm_ = true;
    if (!rearmTimer_.armed()) io_.timers.schedule(rearmTimer_, io_.now + kRearmDelay);
  } else if (op.result == -ECANCELED) {
    armRecv();  // a bulk switch, or resumed before the cancel landed
  } else {
    fail(-op.result);
  }
}

void Stream::noteReadSize(const Op& op) {
  if (armedBulk_) return;
  if (static_cast<uint32_t>(op.result) < io_.store.small.bufferSize()) {
    fullReads_ = 0;
    return;
  }
  if (++fullReads_ < kFullReadsForBulk || bulk_) return;
  // A bulk stream: larger buffers cut the per-op cost (FACTS.md).
  bulk_ = true;
  if (op.hasMore() && !paused_) {
    switching_ = true;
    io_.ring.cancelOp(cancelOp_, recvOp_);
  }
}

void Stream::takeReceived(BufferSource source, uint16_t id, uint32_t length) {
  uint32_t offset = 0;
  if (filters_ && filters_->proxyReader && !decodeProxyHeader(source, id, length, offset)) return;
  if (filters_ && filters_->tls) {
    const char* data = io_.store.data(source, id);
    filters_->tls->feedCiphertext({data + offset, length - offset});  // copied into the BIO
    io_.store.release(source, id);
    decrypt();
    return;
  }
  countReceived(length - offset);
  in_.push(source, id, length, offset);
}

// Bytes counted are the application's both ways: what reaches in() (after
// the PROXY header, decrypted) and what leaves out(), as HAProxy counts.
void Stream::countReceived(uint64_t n) {
  received_ += n;
  if (inCounter_ != nullptr) inCounter_->add(n);
}

// Feeds the PROXY header reader; true with `offset` past the header once it
// is complete (the rest of the buffer is data), false when it consumed the
// buffer (more needed, or malformed: Error).
bool Stream::decodeProxyHeader(BufferSource source, uint16_t id, uint32_t length,
                               uint32_t& offset) {
  Filters& f = *filters_;
  const char* data = io_.store.data(source, id);
  std::span<char> space = f.proxyReader->space();
  size_t n = std::min<size_t>(space.size(), length);
  std::memcpy(space.data(), data, n);
  proxy::DecodeResult r = f.proxyReader->received(n);
  if (r.status == proxy::DecodeStatus::NeedMore && n == length) {
    io_.store.release(source, id);
    return false;
  }
  if (r.status != proxy::DecodeStatus::Done) {
    f.proxyError = r.error != nullptr ? r.error : "no PROXY header";
    io_.store.release(source, id);
    fail(EPROTO);
    return false;
  }
  // The reader copied `n` bytes; those past the header are the client's.
  size_t extra = f.proxyReader->rest().size();
  offset = static_cast<uint32_t>(n - extra);
  f.proxyHeader = r;
  f.proxyReader.reset();
  return true;
}

void Stream::decrypt() {
  Filters& f = *filters_;
  tls::TlsStream& tls = *f.tls;
  f.decryptBlocked = false;
  if (!tls.handshakeDone()) {
    tls::TlsStatus status = tls.handshake();
    if (status == tls::TlsStatus::Error) {
      // Let the peer read OpenSSL's alert (protocol_version...) if the
      // socket is free; best effort, the close follows.
      f.tlsFailed = true;
      std::string alert;
      if (!sendOp_.inFlight()) tls.takeCiphertext(alert);
      if (!alert.empty()) ::send(fd_, alert.data(), alert.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      fail(EPROTO);
      return;
    }
    flush();  // handshake records
    if (status != tls::TlsStatus::Ok) {
      if (f.socketEof) fail(ECONNRESET);  // gone in the middle of the handshake
      return;
    }
  }
  if (!f.secured) {
    f.secured = true;
    emit(StreamEvent::Secured);
    if (closing_ || error_ != 0) return;
  }
  BlockPool& blocks = io_.store.blocks;
  for (;;) {
    if (in_.buffers() >= cap() || tlsBacklogged()) {
      f.decryptBlocked = true;  // refresh() resumes once there is room
      break;
    }
    uint16_t id = blocks.acquire();
    tls::TlsStream::Read r = tls.readPlaintext({blocks.data(id), BlockPool::kBlockSize});
    if (r.status == tls::TlsStatus::Ok) {
      countReceived(r.bytes);
      in_.push(BufferSource::Block, id, static_cast<uint32_t>(r.bytes));
      continue;
    }
    blocks.release(id);
    if (r.status == tls::TlsStatus::Error) {
      f.tlsFailed = true;
      fail(EPROTO);
      return;
    }
    if (r.status == tls::TlsStatus::Closed || f.socketEof) eof_ = true;
    break;
  }
  flush();  // session tickets, KeyUpdate replies
}

// After bytes may have been added to in(): Received if they were, then Eof
// if the end was reached meanwhile (so data always comes before the end).
void Stream::deliver(size_t sizeBefore, bool eofBefore) {
  if (closing_) return;
  if (in_.size() > sizeBefore) emit(StreamEvent::Received);
  if (eof_ && !eofBefore && error_ == 0 && !closing_) emit(StreamEvent::Eof);
}

// ------------------------------------------------------------------ sending

bool Stream::sendIdle() const {
  return out_.empty() && !sendOp_.inFlight() && (!filters_ || filters_->cipher.empty());
}

void Stream::flush() {
  if (closing_ || fd_ < 0 || connecting_ || sendOp_.inFlight() || error_ != 0) return;
  if (filters_ && filters_->tls) {
    sendTls();
  } else {
    sendPlain();
  }
}

void Stream::sendPlain() {
  if (out_.empty()) {
    if (shutdownWanted_) finishShutdown();
    return;
  }
  std::array<iovec, kMaxIov> iov;
  size_t n = out_.gather(iov.data(), kMaxIov);
  if (n == 1) {
    io_.ring.send(sendOp_, fd_, iov[0].iov_base, iov[0].iov_len);
    return;
  }
  if (!sendVector_) sendVector_ = std::make_unique<SendVector>();
  SendVector& v = *sendVector_;
  std::copy_n(iov.begin(), n, v.iov.begin());
  v.msg = {};
  v.msg.msg_iov = v.iov.data();
  v.msg.msg_iovlen = n;
  io_.ring.sendmsg(sendOp_, fd_, &v.msg);
}

void Stream::sendTls() {
  Filters& f = *filters_;
  if (f.cipherSent < f.cipher.size()) {
    io_.ring.send(sendOp_, fd_, f.cipher.data() + f.cipherSent, f.cipher.size() - f.cipherSent);
    return;
  }
  f.cipher.clear();
  f.cipherSent = 0;
  f.plainPending = 0;
  // A client side speaks first: its first flush produces the ClientHello.
  if (!f.tls->handshakeDone() && !f.tlsFailed && f.tls->handshake() == tls::TlsStatus::Error) {
    f.tlsFailed = true;
    failSoon(EPROTO);
    return;
  }
  if (f.tls->handshakeDone() && !f.tlsFailed) {
    // Encrypt a batch of what out() holds; it is consumed once sent. Small
    // pieces (a head, a frame header, a short body) are joined first: one
    // TLS record for them rather than one each, which the peer pays for too.
    std::array<iovec, kMaxIov> iov;
    size_t n = out_.gather(iov.data(), kMaxIov);
    std::array<char, kTlsJoin> joined;
    size_t used = 0;
    auto write = [&](std::string_view bytes) {
      if (bytes.empty() || f.tls->writePlaintext(bytes) == tls::TlsStatus::Ok) return true;
      f.tlsFailed = true;
      failSoon(EPROTO);
      return false;
    };
    for (size_t i = 0; i < n && f.plainPending < kTlsSendBatch; ++i) {
      std::string_view piece(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
      f.plainPending += piece.size();
      if (used + piece.size() <= joined.size()) {
        std::memcpy(joined.data() + used, piece.data(), piece.size());
        used += piece.size();
        continue;
      }
      if (!write({joined.data(), used})) return;
      used = 0;
      if (piece.size() < joined.size()) {
        std::memcpy(joined.data(), piece.data(), piece.size());
        used = piece.size();
      } else if (!write(piece)) {
        return;
      }
    }
    if (!write({joined.data(), used})) return;
  }
  f.tls->takeCiphertext(f.cipher);
  if (f.cipher.empty()) {
    if (out_.empty() && shutdownWanted_) finishShutdown();
    return;
  }
  io_.ring.send(sendOp_, fd_, f.cipher.data(), f.cipher.size());
}

void Stream::onSend(Op& op) {
  if (closing_ || error_ != 0) return;
  if (op.result < 0) {
    fail(-op.result);
    return;
  }
  auto n = static_cast<size_t>(op.result);
  size_t plain = n;
  if (filters_ && filters_->tls) {
    Filters& f = *filters_;
    f.cipherSent += n;
    plain = 0;
    if (f.cipherSent == f.cipher.size()) plain = std::exchange(f.plainPending, 0);
  }
  sent_ += plain;
  if (outCounter_ != nullptr) outCounter_->add(plain);
  out_.consume(plain);
  if (source_ != nullptr) source_->refresh();  // its receiving may wait for our out()
  flush();
  if (sendIdle()) {
    if (shutdownWanted_) finishShutdown();
    emit(StreamEvent::Drained);
  }
}

void Stream::shutdownWrite() {
  shutdownWanted_ = true;
  if (sendIdle()) {
    finishShutdown();
  } else {
    flush();
  }
}

void Stream::finishShutdown() {
  if (shutDone_ || closing_ || fd_ < 0 || connecting_) return;
  if (filters_ && filters_->tls && !filters_->closeNotifyQueued && !filters_->tlsFailed &&
      filters_->tls->handshakeDone()) {
    filters_->closeNotifyQueued = true;
    filters_->tls->shutdown();  // close_notify, sent before the FIN
    flush();
    if (!sendIdle()) return;  // the FIN follows once it is out
  }
  shutDone_ = true;
  ::shutdown(fd_, SHUT_WR);
}

void Stream::resetOnClose() { resetOnClose_ = true; }

void Stream::lingerClose() {
  if (closing_ || lingering_ || fd_ < 0) return;
  lingering_ = true;
  in_.clear();
  ::shutdown(fd_, SHUT_WR);
  // A recv in flight keeps its ring until it ends: its buffers go back to
  // the ring they came from. The lingering recv then arms on the small ring.
  if (!recvOp_.inFlight()) armRecv();
}

// ------------------------------------------------------------------ the end

void Stream::close(bool graceful) {
  if (closing_) return;
  closing_ = true;
  io_.timers.cancel(rearmTimer_);
  limitBy(nullptr);
  if (fd_ < 0) {
    closed_ = true;
    return;
  }
  if (graceful && filters_ && filters_->tls && !filters_->tlsFailed && !resetOnClose_ &&
      !sendOp_.inFlight() && filters_->tls->handshakeDone()) {
    // Best effort and synchronous: close_notify is tiny, and the close that
    // follows cancels whatever is still in flight.
    filters_->tls->shutdown();
    std::string bytes;
    filters_->tls->takeCiphertext(bytes);
    if (!bytes.empty()) ::send(fd_, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  if (resetOnClose_) ringlb::resetOnClose(fd_);
  if (opsInFlight() == 0) {
    finishClose();
    return;
  }
  io_.ring.cancelFd(cancelOp_, fd_);
}

void Stream::finishClose() {
  in_.clear();
  out_.clear();
  if (fd_ >= 0) io_.ring.closeDetached(fd_);
  fd_ = -1;
  closed_ = true;
}

// flush() runs inside the owner's calls: an error found there is reported
// from a completion, never re-entering the handler.
void Stream::failSoon(int err) {
  filters().deferredError = err;
  if (!wakeOp_.inFlight()) io_.ring.nop(wakeOp_);
}

void Stream::fail(int err) {
  if (error_ != 0) return;
  error_ = err;
  emit(StreamEvent::Error);
}

// ---------------------------------------------------------------- dispatch

void Stream::emit(StreamEvent event) { handler_->onStreamEvent(*this, event); }

void Stream::onCompletion(Op& op) {
  if (&op == &recvOp_) {
    onRecv(op);
  } else if (&op == &sendOp_) {
    onSend(op);
  } else if (&op == &connectOp_) {
    onConnect(op);
  } else if (&op == &wakeOp_) {
    if (!closing_ && filters_ && filters_->deferredError != 0) {
      fail(std::exchange(filters_->deferredError, 0));
    } else if (!closing_ && error_ == 0 && filters_ && filters_->tls) {
      size_t before = in_.size();
      bool eofBefore = eof_;
      decrypt();
      if (error_ == 0) deliver(before, eofBefore);
    }
  }  // cancels: their targets complete on their own ops
  if (closing_ && !closed_ && opsInFlight() == 0) {
    finishClose();
    emit(StreamEvent::Closed);
    return;
  }
  if (!closing_) refresh();
}

void Stream::onConnect(Op& op) {
  connecting_ = false;
  if (closing_) return;
  if (op.result < 0) {
    fail(op.result == -ECANCELED ? ETIMEDOUT : -op.result);
    return;
  }
  emit(StreamEvent::Connected);
  flush();  // anything written while connecting
}

void Stream::onTimer(Timer&) {
  needRearm_ = false;
  armRecv();
}

}  // namespace ringlb
