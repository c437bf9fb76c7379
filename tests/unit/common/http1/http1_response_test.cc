// Specification of response heads: status line, interim responses and the
// body framing rules of RFC 9112 section 6.3. Every violation is a bad
// response, which the proxy answers with 502.
#include <gtest/gtest.h>

#include <string>

#include "common/http1/http1_parser.h"

namespace ringlb::http::http1_response_test {
namespace {

struct ResponseCase {
  const char* name;
  Method requestMethod;
  std::string raw;
  uint16_t status;
  BodyFraming framing;
  bool keepAlive;
};

std::ostream& operator<<(std::ostream& os, const ResponseCase& c) { return os << c.name; }

std::string nameOf(const ::testing::TestParamInfo<ResponseCase>& p) { return p.param.name; }

class ResponseFramingTest : public ::testing::TestWithParam<ResponseCase> {};

const ResponseCase kResponses[] = {
    {"ok_content_length", Method::Get, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 200,
     BodyFraming::ContentLength, true},
    {"ok_chunked", Method::Get, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 200,
     BodyFraming::Chunked, true},
    {"ok_until_close", Method::Get, "HTTP/1.1 200 OK\r\n\r\n", 200, BodyFraming::UntilClose, false},
    {"empty_reason", Method::Get, "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 200,
     BodyFraming::ContentLength, true},
    {"no_reason_no_space", Method::Get, "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", 404,
     BodyFraming::ContentLength, true},
    {"head_response_has_no_body", Method::Head, "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n",
     200, BodyFraming::None, true},
    {"no_content_has_no_body", Method::Get, "HTTP/1.1 204 No Content\r\n\r\n", 204,
     BodyFraming::None, true},
    {"not_modified_has_no_body", Method::Get,
     "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n", 304, BodyFraming::None, true},
    {"continue_is_interim", Method::Post, "HTTP/1.1 100 Continue\r\n\r\n", 100, BodyFraming::None,
     true},
    {"early_hints_is_interim", Method::Get, "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n", 103,
     BodyFraming::None, true},
    {"switching_protocols_is_tunnel", Method::Get,
     "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n", 101,
     BodyFraming::Tunnel, false},
    {"connect_2xx_is_tunnel", Method::Connect, "HTTP/1.1 200 Connection Established\r\n\r\n", 200,
     BodyFraming::Tunnel, false},
    {"connect_407_has_body", Method::Connect,
     "HTTP/1.1 407 Proxy Auth\r\nContent-Length: 3\r\n\r\n", 407, BodyFraming::ContentLength, true},
    {"http10_default_close", Method::Get, "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", 200,
     BodyFraming::ContentLength, false},
    {"http10_keep_alive", Method::Get,
     "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", 200,
     BodyFraming::ContentLength, true},
    {"connection_close", Method::Get,
     "HTTP/1.1 500 Oops\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", 500,
     BodyFraming::ContentLength, false},
    {"reason_with_obs_text", Method::Get, "HTTP/1.1 200 \xc3\xa9t\xc3\xa9\r\n\r\n", 200,
     BodyFraming::UntilClose, false},
};

TEST_P(ResponseFramingTest, FollowsMessageBodyLengthRules) {
  const ResponseCase& c = GetParam();
  Http1Parser p(MessageKind::Response);
  p.setRequestMethod(c.requestMethod);
  ParseResult r = p.feed(c.raw);
  ASSERT_EQ(r.status, ParseStatus::HeadComplete) << errorName(r.error);
  EXPECT_EQ(r.consumed, c.raw.size());
  EXPECT_EQ(p.head().status, c.status);
  EXPECT_EQ(p.head().framing, c.framing);
  EXPECT_EQ(p.head().keepAlive, c.keepAlive);
  EXPECT_EQ(p.head().isInterim(), c.status < 200);
}

INSTANTIATE_TEST_SUITE_P(Table, ResponseFramingTest, ::testing::ValuesIn(kResponses), nameOf);

struct BadResponse {
  const char* name;
  std::string raw;
  ParseError error;
};

std::ostream& operator<<(std::ostream& os, const BadResponse& c) { return os << c.name; }

std::string badName(const ::testing::TestParamInfo<BadResponse>& p) { return p.param.name; }

class BadResponseTest : public ::testing::TestWithParam<BadResponse> {};

const BadResponse kBadResponses[] = {
    {"two_digit_status", "HTTP/1.1 20 OK\r\n\r\n", ParseError::BadStatusCode},
    {"four_digit_status", "HTTP/1.1 2000 OK\r\n\r\n", ParseError::BadStatusCode},
    {"status_below_100", "HTTP/1.1 099 X\r\n\r\n", ParseError::BadStatusCode},
    {"status_above_599", "HTTP/1.1 600 X\r\n\r\n", ParseError::BadStatusCode},
    {"missing_space", "HTTP/1.1200 OK\r\n\r\n", ParseError::BadStatusLine},
    {"lower_case_version", "http/1.1 200 OK\r\n\r\n", ParseError::BadVersion},
    {"http2_version", "HTTP/2.0 200 OK\r\n\r\n", ParseError::UnsupportedVersion},
    {"ctl_in_reason", "HTTP/1.1 200 O\x01K\r\n\r\n", ParseError::BadStatusLine},
    {"leading_empty_line", "\r\nHTTP/1.1 200 OK\r\n\r\n", ParseError::LeadingWhitespace},
    {"bare_lf", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", ParseError::BareLf},
    {"bare_cr", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", ParseError::BareCr},
    {"obs_fold", "HTTP/1.1 200 OK\r\nX: a\r\n  b\r\n\r\n", ParseError::ObsFold},
    {"space_before_colon", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n",
     ParseError::SpaceBeforeColon},
    {"duplicate_content_length",
     "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
     ParseError::DuplicateContentLength},
    {"te_and_content_length",
     "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
     ParseError::ContentLengthWithTransferEncoding},
    {"te_not_chunked_final", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
     ParseError::BadTransferEncoding},
    {"te_in_http10", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
     ParseError::TransferEncodingInHttp10},
    {"bad_content_length_on_204", "HTTP/1.1 204 No\r\nContent-Length: x\r\n\r\n",
     ParseError::BadContentLength},
    {"status_line_too_long", "HTTP/1.1 200 " + std::string(9000, 'a') + "\r\n\r\n",
     ParseError::BadStatusLine},
};

TEST_P(BadResponseTest, IsRejectedAsBadGateway) {
  const BadResponse& c = GetParam();
  Http1Parser p(MessageKind::Response);
  ParseResult r = p.feed(c.raw);
  ASSERT_EQ(r.status, ParseStatus::Error);
  EXPECT_EQ(errorName(r.error), errorName(c.error));
  EXPECT_EQ(httpStatusFor(r.error, MessageKind::Response), 502);
}

INSTANTIATE_TEST_SUITE_P(Table, BadResponseTest, ::testing::ValuesIn(kBadResponses), badName);

TEST(Http1Response, HeadersTooLargeFromUpstreamIsStill502) {
  Http1Parser p(MessageKind::Response);
  ParseResult r = p.feed("HTTP/1.1 200 OK\r\nX: " + std::string(40000, 'a') + "\r\n\r\n");
  EXPECT_EQ(r.error, ParseError::HeadersTooLarge);
  EXPECT_EQ(httpStatusFor(r.error, MessageKind::Response), 502);
}

TEST(Http1Response, InterimThenFinalOnOneConnection) {
  std::string buf =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
  Http1Parser p(MessageKind::Response);
  p.setRequestMethod(Method::Post);
  ParseResult first = p.feed(buf);
  ASSERT_EQ(first.status, ParseStatus::HeadComplete);
  EXPECT_TRUE(p.head().isInterim());
  p.reset();
  p.setRequestMethod(Method::Post);
  ParseResult second = p.feed(std::string_view(buf).substr(first.consumed));
  ASSERT_EQ(second.status, ParseStatus::HeadComplete);
  EXPECT_EQ(p.head().status, 201);
  EXPECT_EQ(first.consumed + second.consumed, buf.size());
}

TEST(Http1Response, ReasonPhraseIsExposed) {
  Http1Parser p(MessageKind::Response);
  ASSERT_EQ(p.feed("HTTP/1.1 418 I'm a teapot\r\n\r\n").status, ParseStatus::HeadComplete);
  EXPECT_EQ(p.head().reason, "I'm a teapot");
}

TEST(Http1Response, HostIsNotRequiredOrCheckedInResponses) {
  Http1Parser p(MessageKind::Response);
  EXPECT_EQ(p.feed("HTTP/1.1 200 OK\r\nHost: a b\r\nHost: c\r\n\r\n").status,
            ParseStatus::HeadComplete);
}

}  // namespace
}  // namespace ringlb::http::http1_response_test
