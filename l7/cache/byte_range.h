// Range requests answered from a complete stored response (RFC 9110
// section 14): one byte range becomes a 206 with Content-Range; several
// ranges, another unit or a syntax error get the whole response (200, as the
// RFC allows); a range wholly past the end gets 416.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>

#include "common/http1/http1_parser.h"

namespace ringlb::l7::cache {

struct RangeAnswer {
  enum Kind : uint8_t { Whole, Partial, Unsatisfiable } kind = Whole;
  uint64_t first = 0;  // Partial: inclusive offsets into the body
  uint64_t last = 0;
  // "bytes 0-99/1234" for Partial, "bytes */1234" for Unsatisfiable.
  std::string contentRange;
};

// `request`'s Range (GET only; HEAD and others: Whole) against a body of
// `size` bytes: "bytes=A-B", "bytes=A-", "bytes=-N" (the last N; N = 0 is
// unsatisfiable). A last offset past the end is clamped. Whitespace around
// the range is allowed (OWS).
RangeAnswer rangeAnswer(const http::MessageHead& request, uint64_t size);

}  // namespace ringlb::l7::cache
