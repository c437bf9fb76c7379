// Specification of the CORS phase (l7/gateway/cors.h): preflight answers,
// the fields added to actual responses, and hostile input.
#include "l7/gateway/cors.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace ringlb::l7 {
namespace {

// A request head parsed from `fields` (CRLF-terminated lines); the parser
// keeps the views alive.
class Request {
 public:
  explicit Request(std::string_view method, std::string_view fields = "") {
    std::string raw = std::string(method) + " /api HTTP/1.1\r\nHost: api.example.com\r\n";
    raw.append(fields).append("\r\n");
    auto result = parser_.feed(raw);
    EXPECT_EQ(result.status, http::ParseStatus::HeadComplete) << raw.substr(0, 200);
  }
  const http::MessageHead& head() const { return parser_.head(); }

 private:
  http::Http1Parser parser_{http::MessageKind::Request};
};

std::string preflightFields(std::string_view origin, std::string_view method,
                            std::string_view headers = "") {
  std::string out = "Origin: " + std::string(origin) + "\r\n";
  out += "Access-Control-Request-Method: " + std::string(method) + "\r\n";
  if (!headers.empty()) out += "Access-Control-Request-Headers: " + std::string(headers) + "\r\n";
  return out;
}

config::CorsConfig appConfig() {
  config::CorsConfig c;
  c.origins = {"https://app.example.com"};
  c.methods = {"GET", "PUT", "DELETE"};
  c.headers = {"content-type", "x-request-id"};
  c.maxAge = std::chrono::minutes(10);
  return c;
}

// The value of field `name`, or "<absent>".
std::string field(const std::vector<config::HeaderEdit>& fields, std::string_view name) {
  for (const auto& f : fields) {
    if (f.name == name) return f.value;
  }
  return "<absent>";
}

bool hasAccessControlField(const std::vector<config::HeaderEdit>& fields) {
  for (const auto& f : fields) {
    if (f.name.starts_with("Access-Control-")) return true;
  }
  return false;
}

CorsPreflightAnswer preflight(const config::CorsConfig& c, std::string_view origin,
                              std::string_view method, std::string_view headers = "") {
  Request r("OPTIONS", preflightFields(origin, method, headers));
  EXPECT_TRUE(isPreflight(r.head()));
  return preflightAnswer(c, r.head());
}

TEST(CorsIsPreflight, NeedsOptionsOriginAndRequestMethod) {
  EXPECT_TRUE(isPreflight(Request("OPTIONS", preflightFields("https://a.example", "PUT")).head()));
  EXPECT_FALSE(isPreflight(Request("OPTIONS", "Origin: https://a.example\r\n").head()));
  EXPECT_FALSE(isPreflight(Request("OPTIONS", "Access-Control-Request-Method: PUT\r\n").head()));
  EXPECT_FALSE(isPreflight(Request("GET", preflightFields("https://a.example", "PUT")).head()));
}

TEST(CorsPreflight, AnAllowedPreflightGetsEveryAllowField) {
  auto answer = preflight(appConfig(), "https://app.example.com", "PUT", "x-request-id");
  EXPECT_TRUE(answer.allowed);
  EXPECT_EQ(answer.status, 204);
  EXPECT_EQ(field(answer.headers, "Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(field(answer.headers, "Access-Control-Allow-Methods"), "GET, PUT, DELETE");
  EXPECT_EQ(field(answer.headers, "Access-Control-Allow-Headers"), "content-type, x-request-id");
  EXPECT_EQ(field(answer.headers, "Access-Control-Max-Age"), "600");
  EXPECT_EQ(field(answer.headers, "Access-Control-Allow-Credentials"), "<absent>");
  EXPECT_EQ(field(answer.headers, "Vary"),
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
}

TEST(CorsPreflight, ARefusedOriginGets204WithVaryOnly) {
  auto answer = preflight(appConfig(), "https://evil.example", "PUT");
  EXPECT_FALSE(answer.allowed);
  EXPECT_EQ(answer.status, 204);
  EXPECT_FALSE(hasAccessControlField(answer.headers));
  EXPECT_EQ(field(answer.headers, "Vary"),
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
}

TEST(CorsPreflight, AMethodNotConfiguredIsRefused) {
  EXPECT_FALSE(preflight(appConfig(), "https://app.example.com", "PATCH").allowed);
}

TEST(CorsPreflight, MethodsCompareCaseSensitivelyAsInFetch) {
  EXPECT_FALSE(preflight(appConfig(), "https://app.example.com", "put").allowed);
}

TEST(CorsPreflight, ASafelistedMethodIsAllowedAndNamed) {
  auto c = appConfig();
  c.methods = {"PUT"};
  auto answer = preflight(c, "https://app.example.com", "POST");
  EXPECT_TRUE(answer.allowed);
  EXPECT_EQ(field(answer.headers, "Access-Control-Allow-Methods"), "PUT, POST");
}

TEST(CorsPreflight, AWildcardMethodAllowsAnyTokenAndNamesIt) {
  auto c = appConfig();
  c.methods = {"*"};
  auto answer = preflight(c, "https://app.example.com", "PROPFIND");
  EXPECT_TRUE(answer.allowed);
  EXPECT_EQ(field(answer.headers, "Access-Control-Allow-Methods"), "PROPFIND");
}

TEST(CorsPreflight, ARequestMethodThatIsNotATokenIsRefused) {
  auto c = appConfig();
  c.methods = {"*"};
  EXPECT_FALSE(preflight(c, "https://app.example.com", "GET POST").allowed);
  EXPECT_FALSE(preflight(c, "https://app.example.com", "GE(T").allowed);
}

TEST(CorsPreflight, AHeaderNotConfiguredIsRefused) {
  EXPECT_FALSE(
      preflight(appConfig(), "https://app.example.com", "PUT", "x-request-id,x-secret").allowed);
}

TEST(CorsPreflight, HeaderNamesCompareCaseInsensitivelyAndAreAnsweredLowerCase) {
  auto c = appConfig();
  c.headers = {"X-Request-Id"};
  auto answer = preflight(c, "https://app.example.com", "PUT", "X-REQUEST-ID");
  EXPECT_TRUE(answer.allowed);
  EXPECT_EQ(field(answer.headers, "Access-Control-Allow-Headers"), "x-request-id");
}

TEST(CorsPreflight, AListWithSpacesAndEmptyElementsIsRead) {
  auto answer =
      preflight(appConfig(), "https://app.example.com", "PUT", " , x-request-id ,,\tcontent-type,");
  EXPECT_TRUE(answer.allowed);
}

TEST(CorsPreflight, NamesFromTwoRequestHeadersFieldsAreAllChecked) {
  std::string fields = preflightFields("https://app.example.com", "PUT", "x-request-id");
  fields += "Access-Control-Request-Headers: x-secret\r\n";
  Request r("OPTIONS", fields);
  EXPECT_FALSE(preflightAnswer(appConfig(), r.head()).allowed);
}

TEST(CorsPreflight, ASafelistedHeaderIsAllowedAndNamed) {
  auto c = appConfig();
  c.headers = {};
  auto answer = preflight(c, "https://app.example.com", "PUT", "content-type, accept-language");
  EXPECT_TRUE(answer.allowed);
  EXPECT_EQ(field(answer.headers, "Access-Control-Allow-Headers"), "content-type, accept-language");
}

TEST(CorsPreflight, NoHeadersConfiguredOrAskedForOmitsAllowHeaders) {
  auto c = appConfig();
  c.headers = {};
  auto answer = preflight(c, "https://app.example.com", "PUT");
  EXPECT_TRUE(answer.allowed);
  EXPECT_EQ(field(answer.headers, "Access-Control-Allow-Headers"), "<absent>");
}

TEST(CorsPreflight, AWildcardHeaderAllowsAnyNameButAuthorization) {
  auto c = appConfig();
  c.headers = {"*"};
  auto answer = preflight(c, "https://app.example.com", "PUT", "x-one, x-two");
  EXPECT_TRUE(answer.allowed);
  EXPECT_EQ(field(answer.headers, "Access-Control-Allow-Headers"), "x-one, x-two");
  EXPECT_FALSE(preflight(c, "https://app.example.com", "PUT", "authorization").allowed);
  c.headers = {"*", "authorization"};
  EXPECT_TRUE(preflight(c, "https://app.example.com", "PUT", "authorization").allowed);
}

TEST(CorsPreflight, AHeaderNameThatIsNotATokenIsRefused) {
  auto c = appConfig();
  c.headers = {"*"};
  EXPECT_FALSE(preflight(c, "https://app.example.com", "PUT", "x-one x-two").allowed);
  EXPECT_FALSE(preflight(c, "https://app.example.com", "PUT", "x-one;q=1").allowed);
}

TEST(CorsPreflight, AtMostTheMaximumNumberOfNamesIsAccepted) {
  auto c = appConfig();
  c.headers = {"*"};
  std::string names;
  for (size_t i = 0; i < kMaxRequestedHeaders; ++i)
    names.append("x-h").append(std::to_string(i)).append(",");
  EXPECT_TRUE(preflight(c, "https://app.example.com", "PUT", names).allowed);
  names += "x-one-too-many";
  EXPECT_FALSE(preflight(c, "https://app.example.com", "PUT", names).allowed);
}

TEST(CorsPreflight, AHugeListIsRefusedWithoutTrouble) {
  auto c = appConfig();
  c.headers = {"*"};
  std::string names;
  while (names.size() < 24 * 1024) names += "x-a,";
  auto answer = preflight(c, "https://app.example.com", "PUT", names);
  EXPECT_FALSE(answer.allowed);
  EXPECT_FALSE(hasAccessControlField(answer.headers));
}

TEST(CorsPreflight, AHugeListOfEmptyElementsIsAllowed) {
  std::string names(24 * 1024, ',');
  names += "x-request-id";
  EXPECT_TRUE(preflight(appConfig(), "https://app.example.com", "PUT", names).allowed);
}

TEST(CorsPreflight, TwoOriginFieldsAreRefused) {
  std::string fields = preflightFields("https://app.example.com", "PUT");
  fields += "Origin: https://app.example.com\r\n";
  Request r("OPTIONS", fields);
  EXPECT_FALSE(preflightAnswer(appConfig(), r.head()).allowed);
}

TEST(CorsPreflight, TwoRequestMethodFieldsAreRefused) {
  std::string fields = preflightFields("https://app.example.com", "PUT");
  fields += "Access-Control-Request-Method: GET\r\n";
  Request r("OPTIONS", fields);
  EXPECT_FALSE(preflightAnswer(appConfig(), r.head()).allowed);
}

TEST(CorsPreflight, AWildcardWithoutCredentialsAnswersStar) {
  auto c = appConfig();
  c.origins = {"*"};
  auto answer = preflight(c, "https://anyone.example", "PUT");
  EXPECT_TRUE(answer.allowed);
  EXPECT_EQ(field(answer.headers, "Access-Control-Allow-Origin"), "*");
}

TEST(CorsPreflight, AWildcardWithCredentialsReflectsTheOrigin) {
  auto c = appConfig();
  c.origins = {"*"};
  c.credentials = true;
  auto answer = preflight(c, "https://anyone.example", "PUT");
  EXPECT_TRUE(answer.allowed);
  EXPECT_EQ(field(answer.headers, "Access-Control-Allow-Origin"), "https://anyone.example");
  EXPECT_EQ(field(answer.headers, "Access-Control-Allow-Credentials"), "true");
}

TEST(CorsPreflight, MaxAgeIsInWholeSecondsAndNeverNegative) {
  auto c = appConfig();
  c.maxAge = std::chrono::milliseconds(90'900);
  EXPECT_EQ(field(preflight(c, "https://app.example.com", "PUT").headers, "Access-Control-Max-Age"),
            "90");
  c.maxAge = std::chrono::milliseconds(-5000);
  EXPECT_EQ(field(preflight(c, "https://app.example.com", "PUT").headers, "Access-Control-Max-Age"),
            "0");
}

TEST(CorsOrigin, AConfiguredOriginMatchesIgnoringCase) {
  auto c = appConfig();
  EXPECT_TRUE(corsOriginAllowed(c, "https://app.example.com"));
  EXPECT_TRUE(corsOriginAllowed(c, "HTTPS://App.Example.COM"));
  c.origins = {"https://App.Example.com"};
  EXPECT_TRUE(corsOriginAllowed(c, "https://app.example.com"));
}

TEST(CorsOrigin, SchemeHostAndPortMustAllMatch) {
  auto c = appConfig();
  EXPECT_FALSE(corsOriginAllowed(c, "http://app.example.com"));
  EXPECT_FALSE(corsOriginAllowed(c, "https://app.example.com:8443"));
  EXPECT_FALSE(corsOriginAllowed(c, "https://app.example.com.evil.example"));
  EXPECT_FALSE(corsOriginAllowed(c, "https://evilapp.example.com"));
  EXPECT_FALSE(corsOriginAllowed(c, ""));
}

TEST(CorsOrigin, AnOriginWithAPathNeverMatches) {
  auto c = appConfig();
  EXPECT_FALSE(corsOriginAllowed(c, "https://app.example.com/"));
  c.origins = {"*"};
  EXPECT_FALSE(corsOriginAllowed(c, "https://app.example.com/x"));
  EXPECT_FALSE(corsOriginAllowed(c, "https://app.example.com?x"));
}

TEST(CorsOrigin, NullIsAllowedOnlyWhenListedLiterally) {
  auto c = appConfig();
  c.origins = {"*"};
  EXPECT_FALSE(corsOriginAllowed(c, "null"));
  c.origins = {"https://app.example.com"};
  EXPECT_FALSE(corsOriginAllowed(c, "null"));
  c.origins = {"null"};
  EXPECT_TRUE(corsOriginAllowed(c, "null"));
}

TEST(CorsOrigin, ANullOriginListedLiterallyIsReflected) {
  auto c = appConfig();
  c.origins = {"null"};
  auto answer = preflight(c, "null", "PUT");
  EXPECT_TRUE(answer.allowed);
  EXPECT_EQ(field(answer.headers, "Access-Control-Allow-Origin"), "null");
}

TEST(CorsOrigin, AWildcardAcceptsOnlyWellFormedOrigins) {
  config::CorsConfig c;
  c.origins = {"*"};
  EXPECT_TRUE(corsOriginAllowed(c, "https://a.example"));
  EXPECT_TRUE(corsOriginAllowed(c, "http://localhost:3000"));
  EXPECT_TRUE(corsOriginAllowed(c, "https://[2001:db8::1]"));
  EXPECT_TRUE(corsOriginAllowed(c, "https://[2001:db8::1]:8443"));
  EXPECT_TRUE(corsOriginAllowed(c, "chrome-extension://abcdef"));
  for (std::string_view bad :
       {"", "https://", "://a.example", "1https://a.example", "https//a.example", "a.example",
        "https://a.example https://b.example", "https://a.example,https://b.example",
        "https://user@a.example", "https://a.example:", "https://a.example:123456",
        "https://a.example:80x", "https://[::1", "https://[]", "https://[::1]x", "javascript:1",
        "https://a\"b.example", "https://a<b>.example"}) {
    EXPECT_FALSE(corsOriginAllowed(c, bad)) << bad;
  }
}

TEST(CorsActualResponse, AnAllowedOriginGetsAllowOriginAndVary) {
  Request r("GET", "Origin: https://app.example.com\r\n");
  auto fields = actualResponseHeaders(appConfig(), r.head());
  EXPECT_EQ(field(fields, "Access-Control-Allow-Origin"), "https://app.example.com");
  EXPECT_EQ(field(fields, "Access-Control-Allow-Credentials"), "<absent>");
  EXPECT_EQ(field(fields, "Vary"), "Origin");
}

TEST(CorsActualResponse, CredentialsAreAnnouncedWhenConfigured) {
  auto c = appConfig();
  c.credentials = true;
  Request r("POST", "Origin: https://app.example.com\r\nContent-Length: 0\r\n");
  auto fields = actualResponseHeaders(c, r.head());
  EXPECT_EQ(field(fields, "Access-Control-Allow-Credentials"), "true");
}

TEST(CorsActualResponse, ARefusedOriginGetsVaryOnly) {
  Request r("GET", "Origin: https://evil.example\r\n");
  auto fields = actualResponseHeaders(appConfig(), r.head());
  EXPECT_FALSE(hasAccessControlField(fields));
  EXPECT_EQ(field(fields, "Vary"), "Origin");
}

TEST(CorsActualResponse, ARequestWithoutOriginGetsVaryOnly) {
  Request r("GET");
  auto fields = actualResponseHeaders(appConfig(), r.head());
  EXPECT_FALSE(hasAccessControlField(fields));
  EXPECT_EQ(field(fields, "Vary"), "Origin");
}

TEST(CorsActualResponse, AWildcardWithoutCredentialsGivesStar) {
  auto c = appConfig();
  c.origins = {"*"};
  Request r("GET", "Origin: https://anyone.example\r\n");
  EXPECT_EQ(field(actualResponseHeaders(c, r.head()), "Access-Control-Allow-Origin"), "*");
}

TEST(CorsActualResponse, AnOptionsRequestWithoutRequestMethodIsAnActualRequest) {
  Request r("OPTIONS", "Origin: https://app.example.com\r\n");
  EXPECT_FALSE(isPreflight(r.head()));
  auto fields = actualResponseHeaders(appConfig(), r.head());
  EXPECT_EQ(field(fields, "Access-Control-Allow-Origin"), "https://app.example.com");
}

}  // namespace
}  // namespace ringlb::l7
