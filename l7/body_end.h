// BodyEnd: where a message body ends, for a relay that passes the body on
// as received (framing included). Fed the bytes after the head as they
// arrive, it says how many belong to the body; what follows is the next
// message (or garbage). Counts the payload for body size limits.
//
// Thread rules: a plain value owned by one session (worker thread).
#pragma once

#include <cstdint>
#include <string_view>

#include "l7/http1_parser.h"

namespace ringlb::l7 {

class BodyEnd {
 public:
  // The body framed by `head` (a response head must have had
  // setRequestMethod() on its parser: HEAD and 304 carry no body).
  explicit BodyEnd(const http::MessageHead& head, const http::ParserLimits& limits = {});

  // How many leading bytes of `bytes` belong to the body. After done() or
  // failed(), 0.
  size_t take(std::string_view bytes);
  // The whole body went by. A body delimited by the close never is.
  bool done() const;
  // A chunked body whose framing is broken.
  bool failed() const { return chunked_.failed(); }
  // Payload bytes so far (chunk data, not framing).
  uint64_t payloadBytes() const;

 private:
  http::BodyFraming framing_;
  uint64_t contentLength_;
  http::LengthBody length_;
  http::ChunkedDecoder chunked_;
};

}  // namespace ringlb::l7
