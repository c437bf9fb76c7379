// Specification of Accept-Encoding parsing and the choice of a coding
// (RFC 9110 section 12.5.3; l7/gateway/accept_encoding.h).
#include "l7/gateway/accept_encoding.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace ringlb::l7 {
namespace {

using config::ContentCoding;
constexpr ContentCoding kZstd = ContentCoding::Zstd;
constexpr ContentCoding kBr = ContentCoding::Brotli;
constexpr ContentCoding kGzip = ContentCoding::Gzip;

const std::vector<ContentCoding> kDefaultOrder = {kZstd, kBr, kGzip};

AcceptEncoding parsed(std::string_view value) {
  AcceptEncoding accept;
  accept.add(value);
  return accept;
}

std::optional<ContentCoding> choose(std::string_view value,
                                    const std::vector<ContentCoding>& order = kDefaultOrder) {
  return chooseCoding(parsed(value), order);
}

TEST(ParseQValue, AcceptsZeroToOneWithUpToThreeDecimals) {
  EXPECT_EQ(parseQValue("0"), 0);
  EXPECT_EQ(parseQValue("1"), 1000);
  EXPECT_EQ(parseQValue("0."), 0);
  EXPECT_EQ(parseQValue("1."), 1000);
  EXPECT_EQ(parseQValue("0.5"), 500);
  EXPECT_EQ(parseQValue("0.25"), 250);
  EXPECT_EQ(parseQValue("0.125"), 125);
  EXPECT_EQ(parseQValue("0.001"), 1);
  EXPECT_EQ(parseQValue("1.000"), 1000);
}

TEST(ParseQValue, RefusesEverythingElse) {
  for (std::string_view bad : {"", "2", "1.5", "1.001", "0.0001", "-0.5", ".5", "0,5", "0.5 ",
                               " 0.5", "0x1", "01", "0.a", "1.0000", "q", "0.5.5"}) {
    EXPECT_FALSE(parseQValue(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(AcceptEncoding, AbsentHeaderMeansNoCompression) {
  AcceptEncoding none;
  EXPECT_FALSE(none.present());
  EXPECT_EQ(chooseCoding(none, kDefaultOrder), std::nullopt);
}

TEST(AcceptEncoding, EmptyValueMeansIdentityOnly) {
  AcceptEncoding accept = parsed("");
  EXPECT_TRUE(accept.present());
  EXPECT_EQ(chooseCoding(accept, kDefaultOrder), std::nullopt);
}

TEST(AcceptEncoding, TokensMapToCodings) {
  EXPECT_EQ(choose("gzip"), kGzip);
  EXPECT_EQ(choose("x-gzip"), kGzip);
  EXPECT_EQ(choose("br"), kBr);
  EXPECT_EQ(choose("zstd"), kZstd);
  EXPECT_EQ(choose("deflate, compress"), std::nullopt);
  EXPECT_EQ(choose("identity"), std::nullopt);
}

TEST(AcceptEncoding, TokensAndTheQAreCaseInsensitive) {
  EXPECT_EQ(choose("GZIP"), kGzip);
  EXPECT_EQ(choose("Br;Q=0.5, GZip;q=0.4"), kBr);
  EXPECT_EQ(choose("X-Gzip"), kGzip);
}

TEST(AcceptEncoding, TheRouteOrderBreaksTies) {
  EXPECT_EQ(choose("gzip, deflate, br, zstd"), kZstd);
  EXPECT_EQ(choose("gzip, br"), kBr);
  EXPECT_EQ(choose("gzip, br", {kGzip, kBr}), kGzip);
  EXPECT_EQ(choose("br;q=0.8, gzip;q=0.8", {kGzip, kBr, kZstd}), kGzip);
}

TEST(AcceptEncoding, TheHighestQWins) {
  EXPECT_EQ(choose("zstd;q=0.5, br;q=0.9, gzip;q=0.7"), kBr);
  EXPECT_EQ(choose("zstd;q=0.001, gzip;q=0.002"), kGzip);
  EXPECT_EQ(choose("zstd;q=1.0, gzip"), kZstd);
}

TEST(AcceptEncoding, OnlyTheRoutesCodingsCount) {
  EXPECT_EQ(choose("zstd, gzip;q=0.1", {kGzip}), kGzip);
  EXPECT_EQ(choose("zstd, br", {kGzip}), std::nullopt);
  EXPECT_EQ(choose("gzip", {}), std::nullopt);
}

TEST(AcceptEncoding, QZeroMeansNotAcceptable) {
  EXPECT_EQ(choose("zstd;q=0, br;q=0.0, gzip;q=0.000"), std::nullopt);
  EXPECT_EQ(choose("zstd;q=0, gzip;q=0.1"), kGzip);
  EXPECT_EQ(choose("gzip;q=0, *"), kZstd);
  EXPECT_EQ(choose("gzip;q=0, *", {kGzip}), std::nullopt);
}

TEST(AcceptEncoding, StarCoversCodingsNotListed) {
  EXPECT_EQ(choose("*"), kZstd);
  EXPECT_EQ(choose("*;q=0.5, gzip"), kGzip);  // gzip 1 beats zstd and br at 0.5
  EXPECT_EQ(choose("*;q=0"), std::nullopt);
  EXPECT_EQ(choose("*;q=0, br"), kBr);
  EXPECT_EQ(parsed("*;q=0.3, zstd;q=0.2").qvalue(kZstd), 200);
  EXPECT_EQ(parsed("*;q=0.3, zstd;q=0.2").qvalue(kGzip), 300);
}

TEST(AcceptEncoding, AnIdentityPreferredAboveEveryCodingWins) {
  EXPECT_EQ(choose("identity, gzip;q=0.5"), std::nullopt);
  EXPECT_EQ(choose("identity;q=0.5, gzip;q=0.5"), kGzip);  // a tie: compress
  EXPECT_EQ(choose("identity;q=0.5, gzip"), kGzip);
  EXPECT_EQ(choose("identity;q=0, gzip"), kGzip);
}

TEST(AcceptEncoding, WhitespaceAndEmptyElementsAreTolerated) {
  EXPECT_EQ(choose("  gzip  "), kGzip);
  EXPECT_EQ(choose("\tbr\t;\tq=0.5 ,gzip ;q=0.4"), kBr);
  EXPECT_EQ(choose(",,, ,gzip,,"), kGzip);
  EXPECT_EQ(choose(","), std::nullopt);
}

TEST(AcceptEncoding, MalformedElementsAreIgnored) {
  // Each bad element is as if absent; the good ones still count.
  EXPECT_EQ(choose("br;q=2, gzip"), kGzip);
  EXPECT_EQ(choose("br;q=0.0001, gzip"), kGzip);
  EXPECT_EQ(choose("br;q=, gzip"), kGzip);
  EXPECT_EQ(choose("br;q, gzip"), kGzip);
  EXPECT_EQ(choose("br;, gzip"), kGzip);
  EXPECT_EQ(choose("br;level=1, gzip"), kGzip);
  EXPECT_EQ(choose("br;q=0.5;q=0.6, gzip"), kGzip);
  EXPECT_EQ(choose("br;q = 0.5, gzip"), kGzip);
  EXPECT_EQ(choose("b r, gzip;q=0.1"), kGzip);
  EXPECT_EQ(choose("\"br\", gzip"), kGzip);
  EXPECT_EQ(choose("br\x01, gzip"), kGzip);
  EXPECT_EQ(choose(";q=1, gzip"), kGzip);
  EXPECT_EQ(choose("br;q=2"), std::nullopt);
}

TEST(AcceptEncoding, ACommaInsideQuotesDoesNotStartAnElement) {
  EXPECT_EQ(choose("foo;x=\"a, br, b\", gzip"), kGzip);
  EXPECT_EQ(choose("foo;x=\"a, br"), std::nullopt);  // unterminated: runs to the end
  EXPECT_EQ(choose("foo;x=\"a\\\", br\", gzip"), kGzip);
}

TEST(AcceptEncoding, ARepeatedCodingKeepsItsLowestQ) {
  EXPECT_EQ(choose("br, br;q=0, gzip;q=0.1"), kGzip);
  EXPECT_EQ(choose("gzip;q=0, x-gzip"), std::nullopt);
  EXPECT_EQ(parsed("zstd;q=0.9, zstd;q=0.3, zstd").qvalue(kZstd), 300);
}

TEST(AcceptEncoding, SeveralFieldsCombine) {
  std::vector<http::HeaderView> fields = {{"Host", "a"},
                                          {"Accept-Encoding", "gzip;q=0.5"},
                                          {"accept-encoding", "br;q=0.8"},
                                          {"ACCEPT-ENCODING", "zstd;q=0"}};
  AcceptEncoding accept = parseAcceptEncoding(fields);
  EXPECT_TRUE(accept.present());
  EXPECT_EQ(chooseCoding(accept, kDefaultOrder), kBr);
  EXPECT_FALSE(parseAcceptEncoding(std::span(fields).first(1)).present());
}

TEST(AcceptEncoding, AVeryLongFieldIsParsedWithoutTrouble) {
  std::string value;
  for (int i = 0; i < 2000; ++i) value.append("foo").append(std::to_string(i)).append(";q=0.1, ");
  value += "gzip;q=0.2";
  EXPECT_GT(value.size(), 10000u);
  EXPECT_EQ(choose(value), kGzip);
  std::string junk(10000, ';');
  EXPECT_EQ(choose(junk), std::nullopt);
  std::string quotes(10001, '"');
  EXPECT_EQ(choose(quotes + ", br"), std::nullopt);  // odd quotes: all one element
  std::string commas(10000, ',');
  EXPECT_EQ(choose(commas + "br" + commas), kBr);
}

// Random values over the characters that matter never break the parser, and
// whatever it picks is one the client did not refuse.
TEST(AcceptEncoding, RandomValuesAreHandled) {
  static constexpr char kChars[] = "gzipbrstdx-*;q=01.5, \t\"\\identity\0\xff";
  constexpr std::string_view kAlphabet(kChars, sizeof kChars - 1);  // with the NUL
  std::mt19937 rng(1);
  for (int round = 0; round < 20000; ++round) {
    std::string value(rng() % 64, ' ');
    for (char& c : value) c = kAlphabet[rng() % kAlphabet.size()];
    AcceptEncoding accept = parsed(value);
    std::optional<ContentCoding> coding = chooseCoding(accept, kDefaultOrder);
    if (coding) {
      ASSERT_TRUE(accept.qvalue(*coding).has_value()) << value;
      ASSERT_GT(*accept.qvalue(*coding), 0) << value;
    }
  }
}

TEST(AcceptEncoding, CodingTokens) {
  EXPECT_EQ(codingToken(kZstd), "zstd");
  EXPECT_EQ(codingToken(kBr), "br");
  EXPECT_EQ(codingToken(kGzip), "gzip");
}

}  // namespace
}  // namespace ringlb::l7
