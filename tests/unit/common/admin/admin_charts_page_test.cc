// The status page's charts around the HTTP layer: GET /status/history, the
// page's Content-Security-Policy (its inline script and style by hash,
// nothing from elsewhere) and what the page holds with and without script.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <string>

#include "common/admin/admin_http.h"
#include "common/admin/status_page.h"
#include "tests/unit/common/admin/admin_fixtures.h"

namespace ringlb::admin {
namespace {

using testing::sampleSnapshot;

AdminReply answer(std::string_view request, const HistoryJson& history) {
  http::Http1Parser parser(http::MessageKind::Request);
  EXPECT_EQ(parser.feed(request).status, http::ParseStatus::HeadComplete);
  return answerAdminRequest(
      parser.head(), [] { return sampleSnapshot(); }, {}, history);
}

TEST(AdminChartsHttp, StatusHistoryAnswersTheHistoryAsJson) {
  AdminReply r = answer("GET /status/history HTTP/1.1\r\nHost: a\r\n\r\n",
                        [] { return std::string("{\"t\": []}\n"); });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.contentType, "application/json");
  EXPECT_EQ(r.body, "{\"t\": []}\n");
}

TEST(AdminChartsHttp, WithoutAHistoryThePathIsNotFound) {
  EXPECT_EQ(answer("GET /status/history HTTP/1.1\r\nHost: a\r\n\r\n", {}).status, 404);
}

TEST(AdminChartsHttp, OnlyThePageCarriesAContentSecurityPolicy) {
  auto history = [] { return std::string("{}"); };
  AdminReply page = answer("GET / HTTP/1.1\r\nHost: a\r\n\r\n", history);
  EXPECT_EQ(page.contentSecurityPolicy, statusPageContentSecurityPolicy());
  std::string head = formatAdminReply(page, true, true);
  EXPECT_NE(head.find(std::string("\r\nContent-Security-Policy: ") +
                      std::string(statusPageContentSecurityPolicy()) + "\r\n"),
            std::string::npos)
      << head;
  AdminReply status = answer("GET /status HTTP/1.1\r\nHost: a\r\n\r\n", history);
  EXPECT_EQ(formatAdminReply(status, true, true).find("Content-Security-Policy"),
            std::string::npos);
}

TEST(AdminChartsPage, ThePolicyAllowsNothingFromElsewhere) {
  const std::string csp(statusPageContentSecurityPolicy());
  EXPECT_EQ(csp.rfind("default-src 'none'; ", 0), 0u) << csp;
  EXPECT_NE(csp.find("connect-src 'self'"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
  EXPECT_EQ(csp.find("http"), std::string::npos) << csp;
}

// The text between `open` and the next `close` in `page`.
std::string between(const std::string& page, const std::string& open, const std::string& close) {
  auto from = page.find(open);
  if (from == std::string::npos) return "";
  from += open.size();
  return page.substr(from, page.find(close, from) - from);
}

std::string sha256Source(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr);
  unsigned char b64[64];
  int n = EVP_EncodeBlock(b64, digest, static_cast<int>(size));
  return std::string("'sha256-") + std::string(reinterpret_cast<char*>(b64), n) + "'";
}

TEST(AdminChartsPage, ThePolicyHashesAreThoseOfTheInlineScriptAndStyle) {
  const std::string csp(statusPageContentSecurityPolicy());
  const std::string page = renderStatusPage(sampleSnapshot());
  const std::string script = between(page, "<script id=\"charts-js\">", "</script>");
  const std::string style = between(page, "<style>", "</style>");
  ASSERT_FALSE(script.empty());
  ASSERT_FALSE(style.empty());
  EXPECT_NE(csp.find(std::string("script-src ") + sha256Source(script) + ";"), std::string::npos)
      << csp;
  EXPECT_NE(csp.find(std::string("style-src ") + sha256Source(style) + ";"), std::string::npos)
      << csp;
}

TEST(AdminChartsPage, LoadsNothingFromElsewhere) {
  const std::string page = renderStatusPage(sampleSnapshot());
  EXPECT_EQ(page.find(" src="), std::string::npos);
  EXPECT_EQ(page.find("<link"), std::string::npos);
  EXPECT_EQ(page.find("@import"), std::string::npos);
  EXPECT_EQ(page.find("url("), std::string::npos);
  // No URL with a host: absolute or scheme-relative.
  EXPECT_EQ(page.find("http://"), std::string::npos);
  EXPECT_EQ(page.find("https://"), std::string::npos);
  EXPECT_EQ(page.find("\"//"), std::string::npos);
  EXPECT_EQ(page.find("'//"), std::string::npos);
}

TEST(AdminChartsPage, HasTheChartsSectionAndItsScript) {
  const std::string page = renderStatusPage(sampleSnapshot());
  EXPECT_NE(page.find("<section id=\"charts\""), std::string::npos);
  EXPECT_NE(page.find("<script id=\"charts-js\">"), std::string::npos);
  EXPECT_NE(page.find("status/history"), std::string::npos);
  // Without JavaScript the page still reloads itself and has its tables.
  EXPECT_NE(page.find("<noscript><meta http-equiv=\"refresh\""), std::string::npos);
  EXPECT_NE(page.find("<div id=\"tables\">"), std::string::npos);
}

}  // namespace
}  // namespace ringlb::admin
