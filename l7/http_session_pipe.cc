// HttpSession, body relay: each Pipe sends its owned head bytes, then body
// bytes straight out of the received buffers, classified by the framing
// (length, chunked, until close) so that nothing past the message leaks.
#include "common/worker.h"
#include "l7/http_service.h"
#include "l7/http_session.h"
#include "l7/tls_conn.h"

namespace ringlb::l7 {
namespace {

// Body bytes copied behind a head so that both leave in one send.
constexpr size_t kCoalesceLimit = 16 * 1024;

}  // namespace

std::string_view HttpSession::frontBytes(ChunkQueue& q) {
  Chunk& c = q.front();
  const char* base = nullptr;
  switch (c.origin) {
    case Origin::Ring: base = service_.worker().buffers().data(c.id); break;
    case Origin::Tls: base = tls_->plain.data(c.id); break;
    case Origin::Early: base = early_.data(); break;
  }
  return {base + c.off, c.len - c.off};
}

void HttpSession::consume(ChunkQueue& q, size_t n) {
  Chunk& c = q.front();
  c.off += static_cast<uint32_t>(n);
  if (c.off == c.len) {
    release(c);
    q.pop();
  }
}

void HttpSession::recycleAll(ChunkQueue& q) {
  while (!q.empty()) {
    release(q.front());
    q.pop();
  }
}

void HttpSession::release(const Chunk& c) {
  switch (c.origin) {
    case Origin::Ring: service_.worker().buffers().recycle(c.id); break;
    case Origin::Tls: tls_->plain.release(c.id); break;
    case Origin::Early: std::string().swap(early_); break;  // once per connection: free it
  }
}

void HttpSession::queueHead(Pipe& p, std::string_view bytes) {
  if (p.sendingHead && p.sendOp.inFlight()) {
    p.headNext.append(bytes);  // `head` is being read by the kernel: do not move it
    return;
  }
  if (p.headSent == p.head.size()) {
    p.head.clear();
    p.headSent = 0;
  }
  p.head.append(bytes);
}

void HttpSession::pump(Pipe& p, int fd) {
  if (p.sendOp.inFlight() || fd < 0 || state_ == State::Closing) return;
  if (p.headSent < p.head.size()) {
    coalesceBody(p);
    if (p.framingError || p.overLimit) return;
    p.sendingHead = true;
    sendToClient(p, fd, p.head.data() + p.headSent, p.head.size() - p.headSent);
    return;
  }
  while (p.sendable == 0 && !p.bodyDone && !p.in.empty()) {
    bool forward = true;
    size_t n = classify(p, frontBytes(p.in), forward);
    if (p.framingError || p.overLimit) return;
    if (n == 0) break;
    p.bodyStarted = true;
    p.bodyBytes += n;
    if (forward) {
      p.sendable = static_cast<uint32_t>(n);
    } else {
      consume(p.in, n);
    }
  }
  if (p.sendable == 0) return;
  p.sendingHead = false;
  std::string_view bytes = frontBytes(p.in);
  sendToClient(p, fd, bytes.data(), p.sendable);
}

void HttpSession::coalesceBody(Pipe& p) {
  // Body bytes already received go out in the same send as the head: one
  // syscall and one packet for a small message instead of two.
  while (p.sendable == 0 && !p.bodyDone && !p.in.empty() && p.head.size() < kCoalesceLimit) {
    std::string_view bytes = frontBytes(p.in).substr(0, kCoalesceLimit - p.head.size());
    bool forward = true;
    size_t n = classify(p, bytes, forward);
    if (p.framingError || p.overLimit || n == 0) return;
    p.bodyStarted = true;
    p.bodyBytes += n;
    if (forward) p.head.append(bytes.data(), n);
    consume(p.in, n);
  }
}

size_t HttpSession::classify(Pipe& p, std::string_view avail, bool& forward) {
  switch (p.framing) {
    case Framing::Length: {
      size_t n = p.length.take(avail.size());
      p.bodyDone = p.length.done();
      return n;
    }
    case Framing::Chunked: {
      if (p.dropFraming) {  // one segment at a time: payload is sent, framing skipped
        http::BodySegment seg = p.chunked.next(avail);
        p.framingError = seg.kind == http::BodySegmentKind::Error;
        p.bodyDone = p.chunked.done();
        forward = seg.kind == http::BodySegmentKind::Data;
        return seg.length;
      }
      // Relay the framing as received: every segment up to the end of the body.
      size_t taken = 0;
      while (taken < avail.size() && !p.chunked.done()) {
        http::BodySegment seg = p.chunked.next(avail.substr(taken));
        if (seg.kind == http::BodySegmentKind::Error) {
          p.framingError = true;
          return 0;
        }
        if (seg.kind == http::BodySegmentKind::End) break;
        if (p.bodyLimit != 0 && p.chunked.payloadBytes() > p.bodyLimit) {
          p.overLimit = true;  // nothing of the crossing chunk goes out
          return taken;
        }
        taken += seg.length;
      }
      p.bodyDone = p.chunked.done();
      return taken;
    }
    case Framing::All: return avail.size();
    case Framing::None: p.bodyDone = true; return 0;
  }
  return 0;
}

void HttpSession::onPipeSent(Pipe& p, int result) {
  bool toClient = &p == &resp_;
  if (state_ == State::Closing) return;
  if (!toClient && conn_ == nullptr) return;  // the connection was dropped meanwhile
  if (result < 0) {
    if (toClient) {
      close();
    } else {
      upError_ = -result;  // handled like a reset from the backend
    }
    return;
  }
  size_t n = static_cast<size_t>(result);
  if (toClient) {
    stats_.bytesOut.add(n);
    respSentBytes_ += n;
  }
  touch();
  if (p.sendingHead) {
    p.headSent += n;
    if (p.headSent == p.head.size()) {
      p.head.clear();
      p.headSent = 0;
      p.head.swap(p.headNext);
    }
    p.sendingHead = false;
  } else {
    p.sendable -= static_cast<uint32_t>(n);
    consume(p.in, n);
  }
  if (!toClient && !respHeadDone_) {
    // The backend is receiving: the response timeout counts from its last progress.
    Worker& worker = service_.worker();
    worker.timers().schedule(upstreamTimer_, worker.now() + listener_->responseTimeout);
  }
}

}  // namespace ringlb::l7
