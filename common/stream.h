// Stream: one socket of a session, and everything that touches it. Every
// session (tcp, udp aside; http client and backend connections; forward) is
// built from streams; none calls recv/send on a socket itself.
//
//   receive: one multishot recv into the worker's provided buffers (moving
//            to the bulk ring after kFullReadsForBulk full small reads),
//            re-armed 2 ms after -ENOBUFS, paused past a watermark
//   filters: a PROXY protocol header read first (expectProxyHeader), then
//            TLS over memory BIOs (setTls): in() and out() hold plaintext
//   send:    what out() holds, one sendmsg at a time, gathered
//   end:     shutdownWrite() (half-close once out() is sent; close_notify
//            first with TLS), resetOnClose(), close()
//
// Events go to the StreamHandler: Connected, Secured (the TLS handshake
// finished), Received (in() grew, or a filter finished), Eof (the peer closed its side: every byte
// before it is in in()), Drained (out() fully sent), Error (error() says why; the stream is
// unusable), Closed (close() is complete: no op in flight, fd released).
//
// Backpressure: receiving pauses while in() holds maxQueued buffers, plus
// the buffers waiting in the out() of the stream named by limitBy() (a
// relay's other side); it resumes once that total is back to half.
// refresh() re-checks (after the owner consumed from in()); the stream also
// re-checks after every event it delivers and when the limiting stream
// drains.
//
// Worker thread only. The handler must outlive the stream, and the stream
// must outlive its ops: its owner may destroy it only once closed() and
// idle() (close(), then wait for the Closed event). A handler must not
// destroy the stream (or itself) inside onStreamEvent: owners free
// themselves through Worker::deferDelete.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/byte_queue.h"
#include "common/io_context.h"
#include "common/op.h"
#include "common/proxy_protocol.h"
#include "common/timer_wheel.h"

namespace ringlb {

class Counter;
class Stream;
namespace tls {
class TlsStream;
}

enum class StreamEvent : uint8_t { Connected, Secured, Received, Eof, Drained, Error, Closed };

class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  virtual void onStreamEvent(Stream& stream, StreamEvent event) = 0;
};

class Stream final : public OpOwner, public TimerHandler {
 public:
  static constexpr uint8_t kMaxQueuedBuffers = 8;      // small (16 KiB) buffers
  static constexpr uint8_t kMaxQueuedBulkBuffers = 4;  // bulk (512 KiB) buffers
  static constexpr uint8_t kFullReadsForBulk = 4;
  static constexpr size_t kMaxIov = 8;  // pieces per sendmsg

  Stream(IoContext& io, StreamHandler& handler);
  ~Stream() override;
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // --- set-up
  // Takes an open socket (accepted, or connected elsewhere).
  void adopt(int fd);
  // Takes a fresh socket and connects it: Connected, or Error with the errno.
  void connect(int fd, const sockaddr* address, socklen_t length);
  // Cancels a connect in flight: Error with ETIMEDOUT (the owner's timer).
  void abandonConnect();
  // Ready for another adopt() or connect() (a retry on another backend):
  // only once closed() and idle(). Handler and counters stay; a TLS filter
  // goes (the retry sets a new one).
  void reset();
  void setHandler(StreamHandler& handler) { handler_ = &handler; }
  // The first bytes received are a PROXY header (v1/v2): Received once it
  // is decoded (proxyHeader()), Error (EPROTO) when it is malformed.
  void expectProxyHeader();
  // Set once the header was decoded.
  const proxy::DecodeResult* proxyHeader() const;
  // Why the header was refused (after Error), else null.
  const char* proxyHeaderError() const;
  // From now on bytes are TLS records: in() and out() hold plaintext.
  void setTls(std::unique_ptr<tls::TlsStream> tls);
  tls::TlsStream* tls();
  // Counters for the bytes on the wire (listener stats of a client stream).
  void countInto(Counter* in, Counter* out) {
    inCounter_ = in;
    outCounter_ = out;
  }
  // Receiving pauses while this stream's queued buffers plus `sink`'s
  // unsent ones reach the cap; null for in() alone.
  void limitBy(Stream* sink);

  // --- receiving
  void startReceiving();
  ByteQueue& in() { return in_; }
  void refresh();

  // --- sending
  ByteQueue& out() { return out_; }
  // Sends what out() holds (nothing to do while a send is in flight).
  void flush();
  void write(std::string_view bytes) {
    out_.append(bytes);
    flush();
  }
  // Half-close once out() is sent (close_notify first with TLS).
  void shutdownWrite();
  // The next close sends a reset, not a FIN (to pass a reset on).
  void resetOnClose();
  // Reports Error(err) from a completion soon (never re-entering the caller).
  void failSoon(int err);
  // After a failure the peer should still read about (a TLS alert, an error
  // page already sent): FIN now, then read and drop what the peer still
  // sends until its EOF, and close then, so that closing with unread bytes
  // does not reset what it was told. Works after Error too. The owner bounds
  // it with a timer that calls close(); the peer's EOF ends it sooner, with
  // the Closed event.
  void lingerClose();
  // Cancels every op and closes the socket once none is in flight: at once
  // (closed() right after) when none is, else with the Closed event.
  // `graceful`: a TLS stream sends close_notify first if the socket is free
  // (an idle keep-alive connection ends cleanly; one cut short must not).
  void close(bool graceful = false);

  // --- state
  int fd() const { return fd_; }
  bool connected() const { return fd_ >= 0 && !connecting_; }
  bool eof() const { return eof_; }
  int error() const { return error_; }
  bool closed() const { return closed_; }
  bool idle() const { return opsInFlight() == 0; }
  bool sendIdle() const;
  bool shutDown() const { return shutDone_; }
  // Application bytes (plaintext, without a PROXY header) each way.
  uint64_t bytesReceived() const { return received_; }
  uint64_t bytesSent() const { return sent_; }
  IoContext& io() { return io_; }

  void onCompletion(Op& op) override;
  void onTimer(Timer& timer) override;

 private:
  // What only filtered streams need, allocated on first use: a plain
  // stream stays small (idle connections).
  struct Filters;
  Filters& filters();

  void armRecv();
  // Submits the multishot recv on `buffers`' group (counting re-arms).
  void armRecvOp(BufferRing& buffers);
  void onRecv(Op& op);
  void onSend(Op& op);
  void onConnect(Op& op);
  void takeReceived(BufferSource source, uint16_t id, uint32_t length);
  bool decodeProxyHeader(BufferSource source, uint16_t id, uint32_t length, uint32_t& offset);
  void decrypt();
  void deliver(size_t sizeBefore, bool eofBefore);
  void sendPlain();
  void sendTls();
  void finishShutdown();
  void finishClose();
  void fail(int err);
  void countReceived(uint64_t n);
  size_t held() const;
  size_t cap() const { return bulk_ ? kMaxQueuedBulkBuffers : kMaxQueuedBuffers; }
  void emit(StreamEvent event);
  void noteReadSize(const Op& op);
  bool tlsBacklogged() const;

  IoContext& io_;
  StreamHandler* handler_;
  int fd_ = -1;
  int error_ = 0;
  ByteQueue in_;
  ByteQueue out_;
  Stream* sink_ = nullptr;    // our receiving waits for its out()
  Stream* source_ = nullptr;  // the stream whose receiving waits for our out()
  Counter* inCounter_ = nullptr;
  Counter* outCounter_ = nullptr;
  uint64_t received_ = 0;
  uint64_t sent_ = 0;
  std::unique_ptr<Filters> filters_;
  bool connecting_ = false;
  bool receiving_ = false;  // startReceiving() was called
  bool paused_ = false;     // receiving waits for room (backpressure)
  bool needRearm_ = false;  // recv ended on -ENOBUFS; the timer re-arms
  bool bulk_ = false;       // receive into the bulk ring from the next arm
  bool armedBulk_ = false;  // the ring the recv in flight uses
  bool armedOnce_ = false;  // a recv was armed on this socket (the next is a re-arm)
  bool switching_ = false;  // recv cancelled to re-arm with bulk buffers
  bool eof_ = false;
  bool shutdownWanted_ = false;
  bool shutDone_ = false;
  bool resetOnClose_ = false;
  bool closing_ = false;
  bool closed_ = false;
  bool lingering_ = false;
  uint8_t fullReads_ = 0;
  Op recvOp_{this, OpKind::Recv};
  Op sendOp_{this, OpKind::Send};
  Op connectOp_{this, OpKind::Connect};
  Op cancelOp_{this, OpKind::Cancel};
  Op wakeOp_{this, OpKind::Nop};  // brings decrypt() back into a completion
  Timer rearmTimer_{*this};
  // The sendmsg vector, which must live while the send is in flight: made
  // on the first send of several pieces (an idle connection has none).
  struct SendVector;
  std::unique_ptr<SendVector> sendVector_;
};

}  // namespace ringlb
