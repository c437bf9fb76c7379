#include "l7/body_end.h"

namespace ringlb::l7 {

BodyEnd::BodyEnd(const http::MessageHead& head, const http::ParserLimits& limits)
    : framing_(head.framing),
      contentLength_(head.framing == http::BodyFraming::ContentLength ? head.contentLength : 0),
      length_(contentLength_),
      chunked_(limits) {}

size_t BodyEnd::take(std::string_view bytes) {
  switch (framing_) {
    case http::BodyFraming::None: return 0;
    case http::BodyFraming::ContentLength: return length_.take(bytes.size());
    case http::BodyFraming::Chunked: {
      size_t taken = 0;
      while (taken < bytes.size() && !chunked_.done() && !chunked_.failed()) {
        http::BodySegment seg = chunked_.next(bytes.substr(taken));
        if (seg.kind == http::BodySegmentKind::End || seg.kind == http::BodySegmentKind::Error) {
          break;
        }
        taken += seg.length;
      }
      return taken;
    }
    case http::BodyFraming::UntilClose:
    case http::BodyFraming::Tunnel: return bytes.size();
  }
  return 0;
}

bool BodyEnd::done() const {
  switch (framing_) {
    case http::BodyFraming::None: return true;
    case http::BodyFraming::ContentLength: return length_.done();
    case http::BodyFraming::Chunked: return chunked_.done();
    default: return false;
  }
}

uint64_t BodyEnd::payloadBytes() const {
  if (framing_ == http::BodyFraming::Chunked) return chunked_.payloadBytes();
  return contentLength_ - length_.remaining();
}

}  // namespace ringlb::l7
