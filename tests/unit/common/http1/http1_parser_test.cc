// Specification of the request/response head parser: accepted forms, every
// rejection rule with its exact error and status, and incremental feeding.
#include "common/http1/http1_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringlb::http {

// Readable gtest failure messages.
void PrintTo(ParseError e, std::ostream* os) { *os << errorName(e); }

namespace {

using namespace std::string_literals;

ParseResult feedAll(Http1Parser& p, std::string_view in) { return p.feed(in); }

ParseResult feedBytes(Http1Parser& p, std::string_view in) {
  ParseResult last;
  size_t consumed = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    last = p.feed(in.substr(i, 1));
    if (last.status == ParseStatus::Error) return last;
    consumed += last.consumed;
    if (last.status == ParseStatus::HeadComplete) {
      last.consumed = consumed;
      return last;
    }
  }
  last.consumed = consumed;
  return last;
}

template <typename T>
std::string nameOf(const ::testing::TestParamInfo<T>& p) {
  return p.param.name;
}

// ------------------------------------------------------------- valid requests

struct ValidRequest {
  const char* name;
  std::string raw;
  Method method;
  std::string_view target;
  TargetForm form;
  std::string_view authority;
  std::string_view path;
  Version version;
  BodyFraming framing;
  uint64_t contentLength;
  bool keepAlive;
};

std::ostream& operator<<(std::ostream& os, const ValidRequest& v) { return os << v.name; }

class ValidRequestTest : public ::testing::TestWithParam<ValidRequest> {};

const ValidRequest kValidRequests[] = {
    {"simple_get", "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n", Method::Get, "/",
     TargetForm::Origin, "a.example", "/", Version::Http11, BodyFraming::None, 0, true},
    {"query_and_port", "GET /p?q=1&r=%20 HTTP/1.1\r\nHost: a.example:8080\r\n\r\n", Method::Get,
     "/p?q=1&r=%20", TargetForm::Origin, "a.example:8080", "/p?q=1&r=%20", Version::Http11,
     BodyFraming::None, 0, true},
    {"absolute_form", "GET http://b.example:81/x?y HTTP/1.1\r\nHost: ignored.example\r\n\r\n",
     Method::Get, "http://b.example:81/x?y", TargetForm::Absolute, "b.example:81", "/x?y",
     Version::Http11, BodyFraming::None, 0, true},
    {"absolute_form_no_path", "GET http://b.example HTTP/1.1\r\nHost: b.example\r\n\r\n",
     Method::Get, "http://b.example", TargetForm::Absolute, "b.example", "", Version::Http11,
     BodyFraming::None, 0, true},
    {"connect_authority_form", "CONNECT c.example:443 HTTP/1.1\r\nHost: c.example:443\r\n\r\n",
     Method::Connect, "c.example:443", TargetForm::Authority, "c.example:443", "", Version::Http11,
     BodyFraming::None, 0, true},
    {"connect_ipv6", "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n", Method::Connect,
     "[::1]:443", TargetForm::Authority, "[::1]:443", "", Version::Http11, BodyFraming::None, 0,
     true},
    {"options_asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", Method::Options, "*",
     TargetForm::Asterisk, "a", "", Version::Http11, BodyFraming::None, 0, true},
    {"post_content_length", "POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n",
     Method::Post, "/u", TargetForm::Origin, "a", "/u", Version::Http11, BodyFraming::ContentLength,
     42, true},
    {"post_chunked", "POST /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
     Method::Post, "/u", TargetForm::Origin, "a", "/u", Version::Http11, BodyFraming::Chunked, 0,
     true},
    {"gzip_then_chunked", "PUT /u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n",
     Method::Put, "/u", TargetForm::Origin, "a", "/u", Version::Http11, BodyFraming::Chunked, 0,
     true},
    {"http10_no_host", "GET / HTTP/1.0\r\n\r\n", Method::Get, "/", TargetForm::Origin, "", "/",
     Version::Http10, BodyFraming::None, 0, false},
    {"http10_keep_alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", Method::Get, "/",
     TargetForm::Origin, "", "/", Version::Http10, BodyFraming::None, 0, true},
    {"http11_close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", Method::Get, "/",
     TargetForm::Origin, "a", "/", Version::Http11, BodyFraming::None, 0, false},
    {"higher_minor_is_11", "GET / HTTP/1.7\r\nHost: a\r\n\r\n", Method::Get, "/",
     TargetForm::Origin, "a", "/", Version::Http11, BodyFraming::None, 0, true},
    {"leading_empty_lines", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", Method::Get, "/",
     TargetForm::Origin, "a", "/", Version::Http11, BodyFraming::None, 0, true},
    {"unknown_method_token", "PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n", Method::Other, "/x",
     TargetForm::Origin, "a", "/x", Version::Http11, BodyFraming::None, 0, true},
    {"ows_and_obs_text", "GET / HTTP/1.1\r\nHost:a\r\nX-A: \t v\xe9 w \t\r\nX-Empty:\r\n\r\n",
     Method::Get, "/", TargetForm::Origin, "a", "/", Version::Http11, BodyFraming::None, 0, true},
    {"zero_content_length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 000\r\n\r\n",
     Method::Post, "/", TargetForm::Origin, "a", "/", Version::Http11, BodyFraming::ContentLength,
     0, true},
};

TEST_P(ValidRequestTest, ParsesWholeBuffer) {
  const ValidRequest& v = GetParam();
  Http1Parser p(MessageKind::Request);
  ParseResult r = feedAll(p, v.raw);
  ASSERT_EQ(r.status, ParseStatus::HeadComplete) << errorName(r.error);
  EXPECT_EQ(r.consumed, v.raw.size());
  const MessageHead& h = p.head();
  EXPECT_EQ(h.method, v.method);
  EXPECT_EQ(h.target, v.target);
  EXPECT_EQ(h.targetForm, v.form);
  EXPECT_EQ(h.authority, v.authority);
  EXPECT_EQ(h.path, v.path);
  EXPECT_EQ(h.version, v.version);
  EXPECT_EQ(h.framing, v.framing);
  if (v.framing == BodyFraming::ContentLength) {
    EXPECT_EQ(h.contentLength, v.contentLength);
  }
  EXPECT_EQ(h.keepAlive, v.keepAlive);
}

TEST_P(ValidRequestTest, ByteAtATimeEqualsWholeBuffer) {
  const ValidRequest& v = GetParam();
  Http1Parser whole(MessageKind::Request);
  Http1Parser bytes(MessageKind::Request);
  ParseResult a = feedAll(whole, v.raw);
  ParseResult b = feedBytes(bytes, v.raw);
  ASSERT_EQ(b.status, a.status);
  EXPECT_EQ(b.consumed, a.consumed);
  EXPECT_EQ(bytes.head().target, whole.head().target);
  EXPECT_EQ(bytes.head().authority, whole.head().authority);
  ASSERT_EQ(bytes.head().headers.size(), whole.head().headers.size());
  for (size_t i = 0; i < whole.head().headers.size(); ++i) {
    EXPECT_EQ(bytes.head().headers[i].name, whole.head().headers[i].name);
    EXPECT_EQ(bytes.head().headers[i].value, whole.head().headers[i].value);
  }
  EXPECT_EQ(bytes.rawHead(), whole.rawHead());
}

INSTANTIATE_TEST_SUITE_P(Table, ValidRequestTest, ::testing::ValuesIn(kValidRequests),
                         nameOf<ValidRequest>);

// --------------------------------------------------------- rejected requests

struct Rejection {
  const char* name;
  std::string raw;
  ParseError error;
  uint16_t status;
};

std::ostream& operator<<(std::ostream& os, const Rejection& r) { return os << r.name; }

class RejectedRequestTest : public ::testing::TestWithParam<Rejection> {};

#define H "Host: a\r\n"
const Rejection kRejectedRequests[] = {
    {"differing_content_lengths",
     "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 6\r\n\r\n",
     ParseError::DuplicateContentLength, 400},
    {"identical_content_lengths",
     "POST / HTTP/1.1\r\n" H "Content-Length: 5\r\nContent-Length: 5\r\n\r\n",
     ParseError::DuplicateContentLength, 400},
    {"content_length_list", "POST / HTTP/1.1\r\n" H "Content-Length: 5, 5\r\n\r\n",
     ParseError::DuplicateContentLength, 400},
    {"content_length_sign", "POST / HTTP/1.1\r\n" H "Content-Length: +5\r\n\r\n",
     ParseError::BadContentLength, 400},
    {"content_length_empty", "POST / HTTP/1.1\r\n" H "Content-Length:\r\n\r\n",
     ParseError::BadContentLength, 400},
    {"content_length_huge", "POST / HTTP/1.1\r\n" H "Content-Length: 99999999999999999999\r\n\r\n",
     ParseError::BadContentLength, 400},
    {"te_and_content_length",
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
     ParseError::ContentLengthWithTransferEncoding, 400},
    {"te_not_chunked_final", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: gzip\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"te_chunked_twice", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked, chunked\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"te_chunked_then_gzip",
     "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"te_with_parameter", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: chunked;q=1\r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"te_empty", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: \r\n\r\n",
     ParseError::BadTransferEncoding, 400},
    {"te_unknown_coding", "POST / HTTP/1.1\r\n" H "Transfer-Encoding: foo, chunked\r\n\r\n",
     ParseError::UnknownTransferCoding, 501},
    {"te_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
     ParseError::TransferEncodingInHttp10, 400},
    {"bare_cr_in_value", "GET / HTTP/1.1\r\n" H "X: a\rb\r\n\r\n", ParseError::BareCr, 400},
    {"bare_cr_in_request_line", "GET /\r HTTP/1.1\r\n" H "\r\n", ParseError::BareCr, 400},
    {"bare_lf_request_line", "GET / HTTP/1.1\n" H "\r\n", ParseError::BareLf, 400},
    {"bare_lf_field", "GET / HTTP/1.1\r\nHost: a\n\r\n", ParseError::BareLf, 400},
    {"bare_lf_end_of_head", "GET / HTTP/1.1\r\n" H "\n", ParseError::BareLf, 400},
    {"obs_fold", "GET / HTTP/1.1\r\n" H "X: a\r\n b\r\n\r\n", ParseError::ObsFold, 400},
    {"whitespace_before_first_field", "GET / HTTP/1.1\r\n\tHost: a\r\n\r\n", ParseError::ObsFold,
     400},
    {"space_before_colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", ParseError::SpaceBeforeColon, 400},
    {"tab_before_colon", "GET / HTTP/1.1\r\n" H "X\t: a\r\n\r\n", ParseError::SpaceBeforeColon,
     400},
    {"non_tchar_field_name", "GET / HTTP/1.1\r\n" H "X(y): a\r\n\r\n", ParseError::BadFieldName,
     400},
    {"empty_field_name", "GET / HTTP/1.1\r\n" H ": a\r\n\r\n", ParseError::BadFieldName, 400},
    {"field_without_colon", "GET / HTTP/1.1\r\n" H "Xyz\r\n\r\n", ParseError::BadFieldName, 400},
    {"nul_in_value", "GET / HTTP/1.1\r\n" H "X: a\0b\r\n\r\n"s, ParseError::BadFieldValue, 400},
    {"del_in_value", "GET / HTTP/1.1\r\n" H "X: a\x7f\r\n\r\n", ParseError::BadFieldValue, 400},
    {"ctl_in_value", "GET / HTTP/1.1\r\n" H "X: a\x01\r\n\r\n", ParseError::BadFieldValue, 400},
    {"missing_host", "GET / HTTP/1.1\r\nX: y\r\n\r\n", ParseError::MissingHost, 400},
    {"repeated_host", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", ParseError::DuplicateHost,
     400},
    {"host_with_space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", ParseError::BadHost, 400},
    {"host_with_userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", ParseError::BadHost, 400},
    {"host_bad_port", "GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", ParseError::BadHost, 400},
    {"host_empty", "GET / HTTP/1.1\r\nHost:\r\n\r\n", ParseError::BadHost, 400},
    {"host_slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", ParseError::BadHost, 400},
    {"method_with_slash", "GE/T / HTTP/1.1\r\n" H "\r\n", ParseError::BadMethod, 400},
    {"empty_method", " / HTTP/1.1\r\n" H "\r\n", ParseError::BadMethod, 400},
    {"method_tab_separator", "GET\t/ HTTP/1.1\r\n" H "\r\n", ParseError::BadMethod, 400},
    {"target_with_space", "GET /a b HTTP/1.1\r\n" H "\r\n", ParseError::BadTarget, 400},
    {"double_space", "GET  / HTTP/1.1\r\n" H "\r\n", ParseError::BadTarget, 400},
    {"target_with_ctl", "GET /a\x01 HTTP/1.1\r\n" H "\r\n", ParseError::BadTarget, 400},
    {"target_with_obs_text", "GET /\xff HTTP/1.1\r\n" H "\r\n", ParseError::BadTarget, 400},
    {"target_with_fragment", "GET /a#b HTTP/1.1\r\n" H "\r\n", ParseError::BadTarget, 400},
    {"target_relative", "GET a/b HTTP/1.1\r\n" H "\r\n", ParseError::BadTarget, 400},
    {"asterisk_not_options", "GET * HTTP/1.1\r\n" H "\r\n", ParseError::BadTarget, 400},
    {"connect_origin_form", "CONNECT / HTTP/1.1\r\n" H "\r\n", ParseError::BadTarget, 400},
    {"connect_no_port", "CONNECT a.example HTTP/1.1\r\n" H "\r\n", ParseError::BadTarget, 400},
    {"absolute_with_userinfo", "GET http://u:p@a/ HTTP/1.1\r\n" H "\r\n", ParseError::BadTarget,
     400},
    {"absolute_empty_authority", "GET http:///x HTTP/1.1\r\n" H "\r\n", ParseError::BadTarget, 400},
    {"lower_case_version", "GET / http/1.1\r\n" H "\r\n", ParseError::BadVersion, 400},
    {"version_garbage", "GET / HTTP/1.1x\r\n" H "\r\n", ParseError::BadVersion, 400},
    {"missing_version", "GET /\r\n" H "\r\n", ParseError::BadVersion, 400},
    {"trailing_space_after_version", "GET / HTTP/1.1 \r\n" H "\r\n", ParseError::BadTarget, 400},
    {"http2_version", "GET / HTTP/2.0\r\n" H "\r\n", ParseError::UnsupportedVersion, 505},
    {"http09_version", "GET / HTTP/0.9\r\n" H "\r\n", ParseError::UnsupportedVersion, 505},
    {"request_line_too_long", "GET /" + std::string(8200, 'a') + " HTTP/1.1\r\n" H "\r\n",
     ParseError::RequestLineTooLong, 414},
    {"header_block_too_large", "GET / HTTP/1.1\r\n" H "X: " + std::string(33000, 'a') + "\r\n\r\n",
     ParseError::HeadersTooLarge, 431},
    {"bad_connection_token", "GET / HTTP/1.1\r\n" H "Connection: a b\r\n\r\n",
     ParseError::BadConnectionHeader, 400},
};
#undef H

TEST_P(RejectedRequestTest, FailsWithExactErrorAndStatus) {
  const Rejection& v = GetParam();
  Http1Parser p(MessageKind::Request);
  ParseResult r = p.feed(v.raw);
  ASSERT_EQ(r.status, ParseStatus::Error);
  EXPECT_EQ(r.error, v.error) << errorName(r.error);
  EXPECT_EQ(httpStatusFor(r.error, MessageKind::Request), v.status);
}

TEST_P(RejectedRequestTest, FailsTheSameWayByteAtATime) {
  const Rejection& v = GetParam();
  Http1Parser p(MessageKind::Request);
  ParseResult r = feedBytes(p, v.raw);
  ASSERT_EQ(r.status, ParseStatus::Error);
  EXPECT_EQ(r.error, v.error) << errorName(r.error);
}

INSTANTIATE_TEST_SUITE_P(Table, RejectedRequestTest, ::testing::ValuesIn(kRejectedRequests),
                         nameOf<Rejection>);

TEST(Http1ParserLimits, MoreThanMaxFieldsIs431) {
  std::string raw = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 100; ++i) raw += "X-" + std::to_string(i) + ": v\r\n";
  raw += "\r\n";
  Http1Parser p(MessageKind::Request);
  ParseResult r = p.feed(raw);
  ASSERT_EQ(r.status, ParseStatus::Error);
  EXPECT_EQ(r.error, ParseError::TooManyHeaders);
  EXPECT_EQ(httpStatusFor(r.error, MessageKind::Request), 431);
}

TEST(Http1ParserLimits, ExactlyMaxFieldsIsAccepted) {
  std::string raw = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 99; ++i) raw += "X-" + std::to_string(i) + ": v\r\n";
  raw += "\r\n";
  Http1Parser p(MessageKind::Request);
  EXPECT_EQ(p.feed(raw).status, ParseStatus::HeadComplete);
  EXPECT_EQ(p.head().headers.size(), 100u);
}

TEST(Http1ParserLimits, RequestLineAtLimitIsAcceptedAndOneMoreByteIs414) {
  ParserLimits limits;
  limits.maxRequestLine = 64;
  std::string line = "GET /" + std::string(64 - 14, 'a') + " HTTP/1.1";
  ASSERT_EQ(line.size(), 64u);
  Http1Parser ok(MessageKind::Request, limits);
  EXPECT_EQ(ok.feed(line + "\r\nHost: a\r\n\r\n").status, ParseStatus::HeadComplete);
  Http1Parser tooLong(MessageKind::Request, limits);
  ParseResult r = tooLong.feed("GET /a" + line.substr(5) + "\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.error, ParseError::RequestLineTooLong);
}

TEST(Http1ParserLimits, EndlessRequestLineFailsBeforeItsEnd) {
  Http1Parser p(MessageKind::Request);
  ParseResult r = p.feed("GET /" + std::string(9000, 'a'));
  EXPECT_EQ(r.error, ParseError::RequestLineTooLong);
}

TEST(Http1ParserLimits, ConfiguredHeaderBytesLimitApplies) {
  ParserLimits limits;
  limits.maxHeaderBytes = 32;
  Http1Parser p(MessageKind::Request, limits);
  ParseResult r = p.feed("GET / HTTP/1.1\r\nHost: a\r\nX-Long: 0123456789abcdef\r\n\r\n");
  EXPECT_EQ(r.error, ParseError::HeadersTooLarge);
}

// ------------------------------------------------------------- behaviour

TEST(Http1Parser, PipelinedRequestsStartAtConsumedOffset) {
  std::string buf =
      "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
      "GET /three HTTP/1.1\r\nHost: a\r\n\r\n";
  Http1Parser p(MessageKind::Request);
  std::string_view rest = buf;
  std::vector<std::string> targets;
  while (!rest.empty()) {
    ParseResult r = p.feed(rest);
    ASSERT_EQ(r.status, ParseStatus::HeadComplete);
    targets.emplace_back(p.head().target);
    rest.remove_prefix(r.consumed);
    LengthBody body(p.head().framing == BodyFraming::ContentLength ? p.head().contentLength : 0);
    rest.remove_prefix(body.take(rest.size()));
    ASSERT_TRUE(body.done());
    p.reset();
  }
  EXPECT_EQ(targets, (std::vector<std::string>{"/one", "/two", "/three"}));
}

TEST(Http1Parser, FeedAfterCompleteConsumesNothing) {
  Http1Parser p(MessageKind::Request);
  ASSERT_EQ(p.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\n").status, ParseStatus::HeadComplete);
  ParseResult r = p.feed("GET /");
  EXPECT_EQ(r.status, ParseStatus::HeadComplete);
  EXPECT_EQ(r.consumed, 0u);
}

TEST(Http1Parser, NeedMoreConsumesAllInput) {
  Http1Parser p(MessageKind::Request);
  ParseResult r = p.feed("GET / HTTP/1.1\r\nHo");
  EXPECT_EQ(r.status, ParseStatus::NeedMore);
  EXPECT_EQ(r.consumed, 18u);
}

TEST(Http1Parser, EverySplitPointGivesTheSameHead) {
  std::string raw =
      "POST /api/v1/items?x=1 HTTP/1.1\r\nHost: api.example\r\nContent-Type: application/json\r\n"
      "Content-Length: 17\r\nConnection: keep-alive, X-Hop\r\nExpect: 100-continue\r\n\r\n";
  for (size_t cut = 0; cut <= raw.size(); ++cut) {
    Http1Parser p(MessageKind::Request);
    ParseResult a = p.feed(std::string_view(raw).substr(0, cut));
    size_t consumed = a.consumed;
    if (a.status == ParseStatus::NeedMore) {
      ParseResult b = p.feed(std::string_view(raw).substr(cut));
      ASSERT_EQ(b.status, ParseStatus::HeadComplete) << cut;
      consumed += b.consumed;
    }
    EXPECT_EQ(consumed, raw.size()) << cut;
    EXPECT_EQ(p.head().contentLength, 17u);
    EXPECT_EQ(p.head().headers.size(), 5u);
    EXPECT_TRUE(p.head().expectContinue);
  }
}

TEST(Http1Parser, FindIsCaseInsensitiveAndCountsRepeats) {
  Http1Parser p(MessageKind::Request);
  ASSERT_EQ(p.feed("GET / HTTP/1.1\r\nHost: a\r\nAccept: x\r\nACCEPT: y\r\n\r\n").status,
            ParseStatus::HeadComplete);
  const HeaderView* h = p.head().find("accept");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->value, "x");
  EXPECT_EQ(p.head().count("Accept"), 2u);
  EXPECT_EQ(p.head().find("missing"), nullptr);
}

TEST(Http1Parser, ConnectionTokensMarkHopByHopFields) {
  Http1Parser p(MessageKind::Request);
  ASSERT_EQ(p.feed("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, X-Secret,, \r\n"
                   "Upgrade: websocket\r\n\r\n")
                .status,
            ParseStatus::HeadComplete);
  const MessageHead& h = p.head();
  EXPECT_TRUE(h.connectionUpgrade);
  EXPECT_TRUE(h.wantsUpgrade());
  EXPECT_EQ(h.upgrade, "websocket");
  ASSERT_EQ(h.connectionTokens.size(), 2u);
  EXPECT_TRUE(h.isHopByHop("x-secret"));
  EXPECT_TRUE(h.isHopByHop("Keep-Alive"));
  EXPECT_TRUE(h.isHopByHop("transfer-encoding"));
  EXPECT_FALSE(h.isHopByHop("Host"));
}

TEST(Http1Parser, ExpectContinueIsIgnoredInHttp10) {
  Http1Parser p(MessageKind::Request);
  ASSERT_EQ(p.feed("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").status,
            ParseStatus::HeadComplete);
  EXPECT_FALSE(p.head().expectContinue);
}

TEST(Http1Parser, OtherExpectationIsSurfaced) {
  Http1Parser p(MessageKind::Request);
  ASSERT_EQ(p.feed("GET / HTTP/1.1\r\nHost: a\r\nExpect: fancy\r\n\r\n").status,
            ParseStatus::HeadComplete);
  EXPECT_FALSE(p.head().expectContinue);
  EXPECT_TRUE(p.head().expectOther);
}

TEST(Http1Parser, ResetAllowsReuseWithoutLeakingState) {
  Http1Parser p(MessageKind::Request);
  ASSERT_EQ(p.feed("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").status, ParseStatus::Error);
  p.reset();
  ASSERT_EQ(p.feed("GET /ok HTTP/1.1\r\nHost: b\r\n\r\n").status, ParseStatus::HeadComplete);
  EXPECT_EQ(p.head().host, "b");
  EXPECT_EQ(p.head().headers.size(), 1u);
}

TEST(Http1Parser, RawHeadExcludesLeadingEmptyLines) {
  Http1Parser p(MessageKind::Request);
  ASSERT_EQ(p.feed("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").status, ParseStatus::HeadComplete);
  EXPECT_EQ(p.rawHead(), "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
}

}  // namespace
}  // namespace ringlb::http
