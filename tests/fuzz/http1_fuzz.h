// Shared body of the HTTP/1 fuzz targets (request and response): parse
// whole versus in two pieces and check the invariants.
// Invariants: no crash, consumed <= size, feeding in two pieces gives the
// same result as feeding the whole, views stay inside the head buffer,
// chunked bodies decode the same whatever the split.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/http1/http1_parser.h"

namespace ringlb::http::fuzz {

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

struct Outcome {
  ParseStatus status;
  ParseError error;
  size_t consumed;
};

inline Outcome feedSplit(Http1Parser& p, std::string_view in, size_t cut) {
  ParseResult a = p.feed(in.substr(0, cut));
  FUZZ_CHECK(a.consumed <= cut);
  if (a.status != ParseStatus::NeedMore) return {a.status, a.error, a.consumed};
  FUZZ_CHECK(a.consumed == cut);
  ParseResult b = p.feed(in.substr(cut));
  FUZZ_CHECK(b.consumed <= in.size() - cut);
  return {b.status, b.error, cut + b.consumed};
}

inline bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

inline void checkHeadsEqual(const Http1Parser& x, const Http1Parser& y) {
  const MessageHead& a = x.head();
  const MessageHead& b = y.head();
  FUZZ_CHECK(x.rawHead() == y.rawHead());
  FUZZ_CHECK(a.method == b.method && a.target == b.target && a.targetForm == b.targetForm);
  FUZZ_CHECK(a.authority == b.authority && a.path == b.path && a.version == b.version);
  FUZZ_CHECK(a.status == b.status && a.reason == b.reason);
  FUZZ_CHECK(a.framing == b.framing && a.contentLength == b.contentLength);
  FUZZ_CHECK(a.keepAlive == b.keepAlive && a.expectContinue == b.expectContinue);
  FUZZ_CHECK(a.headers.size() == b.headers.size());
  for (size_t i = 0; i < a.headers.size(); ++i) {
    FUZZ_CHECK(a.headers[i].name == b.headers[i].name);
    FUZZ_CHECK(a.headers[i].value == b.headers[i].value);
    FUZZ_CHECK(inside(a.headers[i].name, x.rawHead()) && inside(a.headers[i].value, x.rawHead()));
  }
  FUZZ_CHECK(a.connectionTokens.size() == b.connectionTokens.size());
  FUZZ_CHECK(inside(a.target, x.rawHead()) && inside(a.host, x.rawHead()));
}

struct BodyOutcome {
  std::string payload;
  size_t consumed = 0;
  bool done = false;
  ParseError error = ParseError::None;
};

inline BodyOutcome decodeChunked(std::string_view in, size_t cut) {
  ChunkedDecoder d;
  BodyOutcome out;
  std::string_view pieces[2] = {in.substr(0, cut), in.substr(cut)};
  for (std::string_view piece : pieces) {
    while (!piece.empty() && !d.done() && !d.failed()) {
      BodySegment s = d.next(piece);
      FUZZ_CHECK(s.length <= piece.size());
      if (s.kind == BodySegmentKind::Error) break;
      FUZZ_CHECK(s.length > 0);
      if (s.kind == BodySegmentKind::Data) out.payload.append(piece.data(), s.length);
      out.consumed += s.length;
      piece.remove_prefix(s.length);
    }
  }
  FUZZ_CHECK(d.payloadBytes() == out.payload.size());
  out.done = d.done();
  out.error = d.error();
  FUZZ_CHECK(d.failed() == (out.error != ParseError::None));
  return out;
}

// Parses up to four messages in a row from the input, checking each
// invariant. data[0] picks the request method (for responses), data[1] the cut.
inline void fuzzMessages(const uint8_t* data, size_t size, MessageKind kind) {
  if (size < 2) return;
  ParserLimits limits;
  limits.maxRequestLine = 512;  // small limits reach the limit paths quickly
  limits.maxHeaderBytes = 1024;
  limits.maxHeaderCount = 20;
  limits.maxChunkLine = 64;
  limits.maxTrailerBytes = 256;
  Method method = static_cast<Method>(data[0] % 10);
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);

  // Several messages may follow one another (pipelining); stop at the first
  // that fails or needs more.
  for (int message = 0; message < 4 && !in.empty(); ++message) {
    size_t cut = (static_cast<size_t>(data[1]) * 131 + message) % (in.size() + 1);
    Http1Parser whole(kind, limits);
    Http1Parser split(kind, limits);
    whole.setRequestMethod(method);
    split.setRequestMethod(method);
    ParseResult w = whole.feed(in);
    FUZZ_CHECK(w.consumed <= in.size());
    Outcome s = feedSplit(split, in, cut);
    FUZZ_CHECK(w.status == s.status);
    FUZZ_CHECK(w.error == s.error);
    if (w.status != ParseStatus::HeadComplete) return;
    FUZZ_CHECK(w.consumed == s.consumed);
    // Only skipped leading CRLFs are consumed without being stored.
    FUZZ_CHECK(w.consumed >= whole.rawHead().size());
    FUZZ_CHECK((w.consumed - whole.rawHead().size()) % 2 == 0);
    checkHeadsEqual(whole, split);
    FUZZ_CHECK(httpStatusFor(w.error, kind) == 200);
    in.remove_prefix(w.consumed);

    const MessageHead& h = whole.head();
    if (h.framing == BodyFraming::Chunked) {
      BodyOutcome a = decodeChunked(in, 0);
      BodyOutcome b = decodeChunked(in, cut % (in.size() + 1));
      FUZZ_CHECK(a.payload == b.payload && a.done == b.done && a.error == b.error);
      FUZZ_CHECK(a.consumed <= in.size());
      if (!a.done) return;
      FUZZ_CHECK(a.consumed == b.consumed);
      in.remove_prefix(a.consumed);
    } else if (h.framing == BodyFraming::ContentLength) {
      LengthBody body(h.contentLength);
      in.remove_prefix(body.take(in.size()));
      if (!body.done()) return;
    } else if (h.framing != BodyFraming::None) {
      return;  // until close or tunnel: nothing more to parse
    }
  }
}

}  // namespace ringlb::http::fuzz
