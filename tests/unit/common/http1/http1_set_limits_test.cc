// Http1Parser::setLimits: the per-listener limits (max_request_line,
// max_header_size, max_header_fields) replace the defaults on a live parser.
#include <gtest/gtest.h>

#include <string>

#include "common/http1/http1_parser.h"

namespace ringlb::http {
namespace {

std::string requestWithFields(int count) {
  std::string s = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < count; ++i) s += "X-" + std::to_string(i) + ": 1\r\n";
  return s + "\r\n";
}

TEST(Http1ParserSetLimits, LongerRequestLineIsAcceptedAfterRaisingTheLimit) {
  std::string request = "GET /" + std::string(10000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
  Http1Parser p(MessageKind::Request);
  EXPECT_EQ(p.feed(request).error, ParseError::RequestLineTooLong);
  ParserLimits limits;
  limits.maxRequestLine = 16 * 1024;
  p.setLimits(limits);
  EXPECT_EQ(p.feed(request).status, ParseStatus::HeadComplete);
}

TEST(Http1ParserSetLimits, LoweredFieldCountRejectsOneFieldMore) {
  ParserLimits limits;
  limits.maxHeaderCount = 5;  // Host and four more
  Http1Parser p(MessageKind::Request);
  p.setLimits(limits);
  EXPECT_EQ(p.feed(requestWithFields(4)).status, ParseStatus::HeadComplete);
  p.reset();
  EXPECT_EQ(p.feed(requestWithFields(5)).error, ParseError::TooManyHeaders);
}

TEST(Http1ParserSetLimits, LoweredHeaderBytesRejectsALargerHead) {
  ParserLimits limits;
  limits.maxHeaderBytes = 1024;
  Http1Parser p(MessageKind::Request);
  p.setLimits(limits);
  std::string request =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(1100, 'b') + "\r\n\r\n";
  EXPECT_EQ(p.feed(request).error, ParseError::HeadersTooLarge);
  EXPECT_EQ(httpStatusFor(ParseError::HeadersTooLarge, MessageKind::Request), 431);
}

TEST(Http1ParserSetLimits, DiscardsAHalfParsedHead) {
  Http1Parser p(MessageKind::Request);
  p.feed("GET /first HTTP/1.1\r\nHo");
  p.setLimits(ParserLimits{});
  ParseResult r = p.feed("GET /second HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_EQ(r.status, ParseStatus::HeadComplete);
  EXPECT_EQ(p.head().path, "/second");
}

}  // namespace
}  // namespace ringlb::http
