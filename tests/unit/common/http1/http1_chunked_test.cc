// Specification of the chunked body decoder: payload vs framing bytes, chunk
// extensions, trailers, every rejection rule, and splits at every position.
#include <gtest/gtest.h>

#include <string>

#include "common/http1/http1_parser.h"

namespace ringlb::http {
namespace {

struct Decoded {
  std::string payload;
  std::string framing;
  std::string trailer;
  bool done = false;
  ParseError error = ParseError::None;
  size_t consumed = 0;
};

// Feeds `in` in pieces cut at the given positions, collecting each kind.
Decoded decode(std::string_view in, std::vector<size_t> cuts = {}) {
  ChunkedDecoder d;
  Decoded out;
  cuts.push_back(in.size());
  size_t start = 0;
  for (size_t cut : cuts) {
    std::string_view piece = in.substr(start, cut - start);
    start = cut;
    while (!piece.empty() && !d.done() && !d.failed()) {
      BodySegment s = d.next(piece);
      if (s.kind == BodySegmentKind::Error) break;
      std::string_view bytes = piece.substr(0, s.length);
      if (s.kind == BodySegmentKind::Data) out.payload += bytes;
      if (s.kind == BodySegmentKind::Framing) out.framing += bytes;
      if (s.kind == BodySegmentKind::Trailer) out.trailer += bytes;
      out.consumed += s.length;
      piece.remove_prefix(s.length);
    }
  }
  out.done = d.done();
  out.error = d.error();
  return out;
}

TEST(ChunkedDecoder, SeparatesPayloadFromFraming) {
  Decoded d = decode("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.payload, "hello world");
  EXPECT_EQ(d.framing, "5\r\n\r\n6\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(d.trailer, "");
}

TEST(ChunkedDecoder, StopsAtTheEndOfTheBody) {
  std::string body = "3\r\nabc\r\n0\r\n\r\n";
  Decoded d = decode(body + "GET / HTTP/1.1\r\n");
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.consumed, body.size());
}

TEST(ChunkedDecoder, ReportsTrailerLinesSeparately) {
  Decoded d = decode("1\r\na\r\n0\r\nChecksum: abc\r\nX-T: 1\r\n\r\n");
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.payload, "a");
  EXPECT_EQ(d.trailer, "Checksum: abc\r\nX-T: 1\r\n");
  EXPECT_EQ(d.framing, "1\r\n\r\n0\r\n\r\n");
}

TEST(ChunkedDecoder, AcceptsValidChunkExtensions) {
  Decoded d = decode("A;name=value ; q=\"a \\\" b\";flag\r\n0123456789\r\n0 ;last\r\n\r\n");
  EXPECT_TRUE(d.done) << errorName(d.error);
  EXPECT_EQ(d.payload, "0123456789");
}

TEST(ChunkedDecoder, AcceptsHexCaseAndLeadingZeros) {
  Decoded d = decode("000a\r\n0123456789\r\n0000\r\n\r\n");
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.payload.size(), 10u);
}

TEST(ChunkedDecoder, CountsPayloadBytes) {
  ChunkedDecoder d;
  std::string_view in = "4\r\nabcd\r\n0\r\n\r\n";
  while (!in.empty() && !d.done()) in.remove_prefix(d.next(in).length);
  EXPECT_EQ(d.payloadBytes(), 4u);
}

TEST(ChunkedDecoder, EverySplitPositionGivesTheSameResult) {
  std::string body =
      "4;e=\"x\"\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nT: v\r\n\r\n";
  Decoded whole = decode(body);
  ASSERT_TRUE(whole.done);
  for (size_t i = 0; i <= body.size(); ++i) {
    for (size_t j = i; j <= body.size(); j += 7) {
      Decoded split = decode(body, {i, j});
      ASSERT_TRUE(split.done) << i << "," << j;
      EXPECT_EQ(split.payload, whole.payload);
      EXPECT_EQ(split.framing, whole.framing);
      EXPECT_EQ(split.trailer, whole.trailer);
    }
  }
}

TEST(ChunkedDecoder, ByteAtATimeGivesTheSameResult) {
  std::string body = "4\r\nWiki\r\n3;a=b\r\nped\r\n0\r\nX: y\r\n\r\n";
  std::vector<size_t> cuts;
  for (size_t i = 1; i < body.size(); ++i) cuts.push_back(i);
  Decoded bytes = decode(body, cuts);
  Decoded whole = decode(body);
  EXPECT_TRUE(bytes.done);
  EXPECT_EQ(bytes.payload, whole.payload);
  EXPECT_EQ(bytes.framing, whole.framing);
  EXPECT_EQ(bytes.trailer, whole.trailer);
}

TEST(ChunkedDecoder, NeedsMoreUntilTheFinalCrlf) {
  Decoded d = decode("0\r\n\r");
  EXPECT_FALSE(d.done);
  EXPECT_EQ(d.error, ParseError::None);
}

struct BadChunked {
  const char* name;
  std::string raw;
  ParseError error;
};

std::ostream& operator<<(std::ostream& os, const BadChunked& c) { return os << c.name; }

std::string nameOf(const ::testing::TestParamInfo<BadChunked>& p) { return p.param.name; }

class BadChunkedTest : public ::testing::TestWithParam<BadChunked> {};

const BadChunked kBadChunked[] = {
    {"empty_size", "\r\n", ParseError::BadChunkSize},
    {"non_hex_size", "g\r\n", ParseError::BadChunkSize},
    {"negative_size", "-1\r\n", ParseError::BadChunkSize},
    {"size_with_0x", "0x5\r\n", ParseError::BadChunkSize},
    {"overflow_64_bits", "10000000000000000\r\n", ParseError::ChunkSizeOverflow},
    {"absurd_size", "1000000000000000\r\n", ParseError::ChunkSizeOverflow},
    {"bare_lf_after_size", "5\nhello\r\n", ParseError::BareLf},
    {"bare_lf_after_data", "5\r\nhello\n0\r\n\r\n", ParseError::BareLf},
    {"bare_lf_final", "0\r\n\n", ParseError::BareLf},
    {"bare_lf_in_extension", "5;a\n", ParseError::BareLf},
    {"bare_cr_after_size", "5\rx", ParseError::BareCr},
    {"data_longer_than_size", "3\r\nabcd\r\n", ParseError::BadChunkFraming},
    {"trailing_space_no_extension", "5 \r\nhello\r\n", ParseError::BadChunkExtension},
    {"extension_without_name", "5;\r\n", ParseError::BadChunkExtension},
    {"extension_bad_name", "5;a@b\r\n", ParseError::BadChunkExtension},
    {"extension_empty_value", "5;a=\r\n", ParseError::BadChunkExtension},
    {"extension_unterminated_quote", "5;a=\"x\r\n", ParseError::BareCr},
    {"extension_ctl_in_quote", "5;a=\"\x01\"\r\n", ParseError::BadChunkExtension},
    {"extension_trailing_space", "5;a \r\n", ParseError::BadChunkExtension},
    {"chunk_line_too_long", "5;a=" + std::string(5000, 'b') + "\r\n", ParseError::ChunkLineTooLong},
    {"trailer_obs_fold", "0\r\nA: b\r\n c\r\n\r\n", ParseError::ObsFold},
    {"trailer_space_before_colon", "0\r\nA : b\r\n\r\n", ParseError::SpaceBeforeColon},
    {"trailer_no_colon", "0\r\nAb\r\n\r\n", ParseError::BadFieldName},
    {"trailer_bad_value", "0\r\nA: \x7f\r\n\r\n", ParseError::BadFieldValue},
    {"trailer_bare_lf", "0\r\nA: b\n\r\n", ParseError::BareLf},
    {"trailer_too_large", "0\r\nA: " + std::string(20000, 'b') + "\r\n\r\n",
     ParseError::TrailersTooLarge},
};

TEST_P(BadChunkedTest, FailsWithExactError) {
  const BadChunked& c = GetParam();
  Decoded d = decode(c.raw);
  EXPECT_FALSE(d.done);
  EXPECT_EQ(errorName(d.error), errorName(c.error));
  EXPECT_EQ(httpStatusFor(d.error, MessageKind::Request), 400);
}

TEST_P(BadChunkedTest, FailsTheSameWayByteAtATime) {
  const BadChunked& c = GetParam();
  std::vector<size_t> cuts;
  for (size_t i = 1; i < c.raw.size(); ++i) cuts.push_back(i);
  EXPECT_EQ(errorName(decode(c.raw, cuts).error), errorName(c.error));
}

INSTANTIATE_TEST_SUITE_P(Table, BadChunkedTest, ::testing::ValuesIn(kBadChunked), nameOf);

TEST(ChunkedDecoder, ErrorIsSticky) {
  ChunkedDecoder d;
  EXPECT_EQ(d.next("z").kind, BodySegmentKind::Error);
  EXPECT_EQ(d.next("0\r\n\r\n").kind, BodySegmentKind::Error);
  EXPECT_TRUE(d.failed());
}

TEST(ChunkedDecoder, ResetStartsANewBody) {
  ChunkedDecoder d;
  std::string_view in = "0\r\n\r\n";
  while (!in.empty()) in.remove_prefix(d.next(in).length);
  ASSERT_TRUE(d.done());
  d.reset();
  EXPECT_FALSE(d.done());
  EXPECT_EQ(d.next("1\r\n").kind, BodySegmentKind::Framing);
}

TEST(LengthBody, TakesOnlyItsOwnBytes) {
  LengthBody b(5);
  EXPECT_EQ(b.take(3), 3u);
  EXPECT_FALSE(b.done());
  EXPECT_EQ(b.take(10), 2u);
  EXPECT_TRUE(b.done());
  EXPECT_EQ(b.take(10), 0u);
}

}  // namespace
}  // namespace ringlb::http
