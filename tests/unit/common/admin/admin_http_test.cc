#include "common/admin/admin_http.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/common/admin/admin_fixtures.h"

namespace ringlb::admin {
namespace {

// Parses `request` and answers it with the sample snapshot.
AdminReply answer(std::string_view request, int* snapshots = nullptr) {
  http::Http1Parser parser(http::MessageKind::Request);
  auto r = parser.feed(request);
  EXPECT_EQ(r.status, http::ParseStatus::HeadComplete);
  return answerAdminRequest(parser.head(), [snapshots] {
    if (snapshots != nullptr) ++*snapshots;
    return testing::sampleSnapshot();
  });
}

TEST(AdminHttpTest, HealthzAnswersOk) {
  AdminReply r = answer("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
}

TEST(AdminHttpTest, HealthzTakesNoSnapshot) {
  int snapshots = 0;
  answer("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", &snapshots);
  EXPECT_EQ(snapshots, 0);
}

TEST(AdminHttpTest, MetricsUseThePrometheusTextContentType) {
  AdminReply r = answer("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.contentType, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(r.body.find("ringlb_backend_up"), std::string::npos);
}

TEST(AdminHttpTest, StatusIsJson) {
  AdminReply r = answer("GET /status HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.contentType, "application/json");
  EXPECT_EQ(r.body.front(), '{');
}

TEST(AdminHttpTest, RootIsTheHtmlPage) {
  AdminReply r = answer("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(r.contentType, "text/html; charset=utf-8");
}

TEST(AdminHttpTest, QueryStringIsIgnored) {
  EXPECT_EQ(answer("GET /metrics?name[]=x HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
}

TEST(AdminHttpTest, UnknownPathIs404) {
  EXPECT_EQ(answer("GET /nope HTTP/1.1\r\nHost: a\r\n\r\n").status, 404);
}

TEST(AdminHttpTest, PostIs405WithAllow) {
  AdminReply r = answer("POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(r.status, 405);
  std::string wire = formatAdminReply(r, false, false);
  EXPECT_NE(wire.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos);
}

TEST(AdminHttpTest, HeadReplyHasTheLengthButNoBody) {
  AdminReply r = answer("HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
  std::string wire = formatAdminReply(r, true, true);
  EXPECT_NE(wire.find("Content-Length: 3\r\n"), std::string::npos);
  EXPECT_EQ(wire.substr(wire.size() - 4), "\r\n\r\n");
}

TEST(AdminHttpTest, ReplySaysWhetherTheConnectionStaysOpen) {
  AdminReply r = answer("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_NE(formatAdminReply(r, false, true).find("Connection: keep-alive\r\n"), std::string::npos);
  EXPECT_NE(formatAdminReply(r, false, false).find("Connection: close\r\n"), std::string::npos);
}

TEST(AdminHttpTest, ParseErrorsMapToTheirStatus) {
  EXPECT_EQ(answerParseError(http::ParseError::RequestLineTooLong).status, 414);
  EXPECT_EQ(answerParseError(http::ParseError::BareLf).status, 400);
}

}  // namespace
}  // namespace ringlb::admin
