#include "l7/http/body_relay.h"

namespace ringlb::l7 {

BodyRelay::BodyRelay(const http::MessageHead& head, bool dechunk, uint64_t payloadLimit,
                     const http::ParserLimits& limits)
    : framing_(head.framing),
      length_(head.framing == http::BodyFraming::ContentLength ? head.contentLength : 0),
      chunked_(limits),
      payloadLimit_(payloadLimit),
      dechunk_(dechunk && head.framing == http::BodyFraming::Chunked) {}

BodyRelay BodyRelay::tunnel() {
  BodyRelay b;
  b.framing_ = http::BodyFraming::Tunnel;
  return b;
}

bool BodyRelay::done() const {
  switch (framing_) {
    case http::BodyFraming::None: return true;
    case http::BodyFraming::ContentLength: return length_.done();
    case http::BodyFraming::Chunked: return chunked_.done();
    case http::BodyFraming::UntilClose:
    case http::BodyFraming::Tunnel: return closeSeen_;
  }
  return true;
}

void BodyRelay::transfer(ByteQueue& from, ByteQueue& to, size_t n) {
  if (!copy_) {
    from.moveTo(to, n);
    return;
  }
  to.append(from.front().substr(0, n));  // n never goes past the front buffer
  from.consume(n);
}

size_t BodyRelay::pump(ByteQueue& from, ByteQueue& to, size_t max) {
  size_t total = 0;
  while (!done() && !from.empty() && !failed() && !overLimit_ && total < max) {
    std::string_view avail = from.front().substr(0, max - total);
    size_t n = 0;
    switch (framing_) {
      case http::BodyFraming::None: return total;
      case http::BodyFraming::ContentLength:
        n = length_.take(avail.size());
        transfer(from, to, n);
        break;
      case http::BodyFraming::UntilClose:
      case http::BodyFraming::Tunnel:
        n = avail.size();
        transfer(from, to, n);
        break;
      case http::BodyFraming::Chunked:
        if (dechunk_) {
          // One segment at a time: payload moves, framing and trailers drop.
          http::BodySegment seg = chunked_.next(avail);
          n = seg.length;
          if (seg.kind == http::BodySegmentKind::Data) {
            transfer(from, to, n);
          } else {
            if (seg.kind == http::BodySegmentKind::Trailer) trailers_.append(avail.substr(0, n));
            from.consume(n);
          }
        } else {
          n = classifyChunked(avail);
          transfer(from, to, n);
        }
        break;
    }
    if (n == 0) break;
    taken_ += n;
    total += n;
  }
  return total;
}

// The prefix of `avail` that belongs to the body, framing as received.
size_t BodyRelay::classifyChunked(std::string_view avail) {
  size_t taken = 0;
  while (taken < avail.size() && !chunked_.done()) {
    http::BodySegment seg = chunked_.next(avail.substr(taken));
    if (seg.kind == http::BodySegmentKind::Error || seg.kind == http::BodySegmentKind::End) break;
    if (payloadLimit_ != 0 && chunked_.payloadBytes() > payloadLimit_) {
      overLimit_ = true;  // nothing of the crossing chunk goes out
      break;
    }
    taken += seg.length;
  }
  return taken;
}

}  // namespace ringlb::l7
