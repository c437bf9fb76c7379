#include "common/stream.h"

#include <fcntl.h>
#include <poll.h>
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
// The splice pipe: 1 MiB moved the most per poll for the least CPU
// (docs/performance.md, bench/relay_modes_bench.cc); the default
// fs.pipe-max-size, so no privilege is needed.
constexpr int kSplicePipeSize = 1024 * 1024;

bool setNonBlocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

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

struct Stream::Splice {
  explicit Splice(Stream* owner)
      : readPoll(owner, OpKind::Wakeup), writePoll(owner, OpKind::Wakeup) {}
  ~Splice() { closePipe(); }
  Splice(const Splice&) = delete;
  Splice& operator=(const Splice&) = delete;
  void closePipe() {
    if (pipeRead >= 0) ::close(pipeRead);
    if (pipeWrite >= 0) ::close(pipeWrite);
    pipeRead = pipeWrite = -1;
  }

  int pipeRead = -1;
  int pipeWrite = -1;
  size_t pipeSize = 0;     // bytes the pipe takes
  size_t inPipe = 0;       // spliced in, not yet out
  bool wanted = false;     // spliceToSink() ran: the recv is not armed again
  bool active = false;     // the recv ended: splice moves the bytes
  bool socketEof = false;  // EOF read into the pipe; Eof once it is empty
  bool polledIn = false;   // the read poll fired: the socket has something
  // A readable socket still said EAGAIN: the pipe's slots are used up
  // (however few bytes each holds); no read poll until the sink takes some.
  bool slotsFull = false;
  Op readPoll;   // POLLIN on our socket (as a source)
  Op writePoll;  // POLLOUT on our socket (as a sink)
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

Stream::Splice& Stream::splice() {
  if (!splice_) splice_ = std::make_unique<Splice>(this);
  return *splice_;
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
  eof_ = shutdownWanted_ = shutDone_ = resetOnClose_ = closing_ = closed_ = false;
  fullReads_ = 0;
  splice_.reset();
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
      io_.ring.recvMultishot(recvOp_, fd_, io_.store.small.groupId());
    }
    return;
  }
  if (splice_ && splice_->wanted) return;  // splice reads from now on
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
  io_.ring.recvMultishot(recvOp_, fd_, io_.buffers(bulk_).groupId());
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
      if (!rearmTimer_.armed()) io_.timers.schedule(rearmTimer_, io_.now + kRearmDelay);
    } else if (op.result != -ECANCELED) {
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
      decrypt();
      if (error_ == 0) deliver(before, false);
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
    // Encrypt a batch of what out() holds; it is consumed once sent.
    std::array<iovec, kMaxIov> iov;
    size_t n = out_.gather(iov.data(), kMaxIov);
    for (size_t i = 0; i < n && f.plainPending < kTlsSendBatch; ++i) {
      std::string_view piece(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
      if (f.tls->writePlaintext(piece) != tls::TlsStatus::Ok) {
        f.tlsFailed = true;
        failSoon(EPROTO);
        return;
      }
      f.plainPending += piece.size();
    }
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
  countSent(plain);
  out_.consume(plain);
  if (source_ != nullptr) source_->refresh();  // its receiving may wait for our out()
  flush();
  if (source_ != nullptr && source_->splicing() && sendIdle()) {
    source_->pumpSplice();  // spliced bytes go once what we queued is out
    if (closing_ || error_ != 0) return;
  }
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
  if (splice_) splice_->wanted = splice_->active = false;
  in_.clear();
  ::shutdown(fd_, SHUT_WR);
  if (recvOp_.inFlight()) {
    // A paused or switched recv may be cancelled: the lingering one re-arms.
    armedBulk_ = false;
    return;
  }
  armedBulk_ = false;
  armRecv();
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
  if (splice_) {
    splice_->closePipe();
    splice_->wanted = splice_->active = false;
  }
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
  } else if (splice_ && (&op == &splice_->readPoll || &op == &splice_->writePoll)) {
    onSplicePoll(op);
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
  if (splice_ && splice_->wanted && !splice_->active && !recvOp_.inFlight() && !closing_ &&
      error_ == 0) {
    startSplice();  // the recv's last CQE is in: nothing received is left behind
  }
  if (closing_ && !closed_ && opsInFlight() == 0) {
    finishClose();
    emit(StreamEvent::Closed);
    return;
  }
  if (!closing_) refresh();
}

// ---------------------------------------------------------------- splicing

bool Stream::splicing() const { return splice_ && splice_->active; }

bool Stream::spliceToSink() {
  Stream* sink = sink_;
  if (sink == nullptr || tls() != nullptr || sink->tls() != nullptr || fd_ < 0 || connecting_ ||
      closing_ || lingering_ || error_ != 0 || eof_ || (splice_ && splice_->wanted) ||
      sink->fd_ < 0 || sink->closing_ || sink->error_ != 0) {
    return false;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return false;
  // Past fs.pipe-user-pages-soft an unprivileged process gets no big pipe:
  // the copying path stays.
  int size = fcntl(fds[1], F_SETPIPE_SZ, kSplicePipeSize);
  if (size <= 0 || !setNonBlocking(fd_) || !setNonBlocking(sink->fd_)) {
    ::close(fds[0]);
    ::close(fds[1]);
    return false;
  }
  Splice& sp = splice();
  sp.pipeRead = fds[0];
  sp.pipeWrite = fds[1];
  sp.pipeSize = static_cast<size_t>(size);
  sp.wanted = true;
  // Splicing starts from the completion that ends the recv (whatever it
  // brought is delivered first), or from a no-op: never inside the caller.
  if (recvOp_.inFlight()) {
    io_.ring.cancelOp(cancelOp_, recvOp_);
  } else if (!wakeOp_.inFlight()) {
    io_.ring.nop(wakeOp_);
  }
  return true;
}

void Stream::startSplice() {
  Splice& sp = *splice_;
  if (eof_ || lingering_) {  // the recv brought the end: nothing is left to splice
    sp.wanted = false;
    sp.closePipe();
    return;
  }
  sp.active = true;
  ++io_.splices;
  paused_ = needRearm_ = false;
  io_.timers.cancel(rearmTimer_);
  pumpSplice();
}

// Moves socket -> pipe -> sink until neither moves, then waits for both
// ends at once: the sink to take more while the pipe holds bytes, our
// socket to be readable while the pipe has room (reading on while the sink
// is busy keeps both sockets moving).
void Stream::pumpSplice() {
  Splice& sp = *splice_;
  Stream* sink = sink_;
  if (!sp.active || closing_ || error_ != 0 || lingering_ || sink == nullptr) return;
  uint64_t before = received_;
  for (;;) {
    bool in = spliceIn(sp);
    if (error_ != 0 || closing_) return;
    bool out = spliceOut(sp, *sink);
    if (sink->error_ != 0 || closing_) return;
    if (!in && !out) break;
  }
  if (received_ > before) {
    emit(StreamEvent::Received);  // progress (in() stays empty)
    if (closing_ || error_ != 0 || !sp.active) return;
  }
  if (sp.socketEof && sp.inPipe == 0) {
    if (!eof_) {
      eof_ = true;
      emit(StreamEvent::Eof);
    }
    return;
  }
  // A sink still sending its out() resumes us from onSend.
  if (sp.inPipe > 0 && sink->canSpliceOut() && !sink->splice().writePoll.inFlight()) {
    io_.ring.poll(sink->splice_->writePoll, sink->fd_, POLLOUT);
  }
  if (!sp.socketEof && sp.inPipe < sp.pipeSize && !sp.slotsFull && !sp.readPoll.inFlight()) {
    io_.ring.poll(sp.readPoll, fd_, POLLIN);
  }
}

bool Stream::spliceIn(Splice& sp) {
  bool afterPoll = std::exchange(sp.polledIn, false);  // only the first splice after it tells
  if (sp.socketEof || sp.inPipe >= sp.pipeSize) return false;
  ssize_t n = ::splice(fd_, nullptr, sp.pipeWrite, nullptr, sp.pipeSize - sp.inPipe,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) {
    sp.inPipe += static_cast<size_t>(n);
    countReceived(static_cast<uint64_t>(n));
    return true;
  }
  if (n == 0) {
    sp.socketEof = true;
  } else if (errno == EAGAIN) {
    if (afterPoll && sp.inPipe > 0) sp.slotsFull = true;
  } else if (errno != EINTR) {
    fail(errno);
  }
  return false;
}

bool Stream::spliceOut(Splice& sp, Stream& sink) {
  if (sp.inPipe == 0 || !in_.empty() || !sink.canSpliceOut()) return false;
  ssize_t n = ::splice(sp.pipeRead, nullptr, sink.fd_, nullptr, sp.inPipe,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  if (n > 0) {
    sp.inPipe -= static_cast<size_t>(n);
    sp.slotsFull = false;
    sink.countSent(static_cast<uint64_t>(n));
    return true;
  }
  if (n < 0 && errno != EAGAIN && errno != EINTR) sink.fail(errno);
  return false;
}

// Spliced bytes may go to our socket: nothing queued before them waits.
bool Stream::canSpliceOut() const {
  return fd_ >= 0 && !connecting_ && !closing_ && !lingering_ && error_ == 0 && !shutDone_ &&
         out_.empty() && !sendOp_.inFlight();
}

void Stream::countSent(uint64_t n) {
  sent_ += n;
  if (outCounter_ != nullptr) outCounter_->add(n);
}

void Stream::onSplicePoll(Op& op) {
  if (closing_ || op.result == -ECANCELED) return;
  if (&op == &splice_->readPoll) {
    splice_->polledIn = true;
    pumpSplice();  // an error shows in the splice
  } else if (source_ != nullptr && source_->splicing()) {
    source_->pumpSplice();  // we, its sink, can take more
  }
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
