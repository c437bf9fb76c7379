// Specification of the admin endpoint's POST /cache/purge
// (common/admin/admin_http.h, docs/cache.md): the query parameters reach
// the purge callback decoded, and the answer is {"purged": N}.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/admin/admin_http.h"
#include "tests/unit/common/admin/admin_fixtures.h"

namespace ringlb::admin {
namespace {

struct Call {
  std::string host;
  std::string prefix;
  bool operator==(const Call&) const = default;
};

// Parses `request` and answers it; the purge callback records its arguments
// and reports `purged`.
struct AdminPurge : ::testing::Test {
  std::vector<Call> calls;
  size_t purged = 0;
  int snapshots = 0;

  AdminReply answer(std::string_view request) {
    http::Http1Parser parser(http::MessageKind::Request);
    auto r = parser.feed(request);
    EXPECT_EQ(r.status, http::ParseStatus::HeadComplete) << request;
    return answerAdminRequest(
        parser.head(),
        [this] {
          ++snapshots;
          return testing::sampleSnapshot();
        },
        [this](std::string_view host, std::string_view prefix) {
          calls.push_back({std::string(host), std::string(prefix)});
          return purged;
        });
  }
  AdminReply post(std::string_view target) {
    return answer("POST " + std::string(target) +
                  " HTTP/1.1\r\nHost: admin\r\nContent-Length: 0\r\n\r\n");
  }
};

TEST_F(AdminPurge, PostPurgesAndAnswersTheCountAsJson) {
  purged = 7;
  AdminReply r = post("/cache/purge?host=example.com&path_prefix=/static/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.contentType, "application/json");
  EXPECT_EQ(r.body, "{\"purged\": 7}\n");
  EXPECT_TRUE(r.allow.empty());
  EXPECT_EQ(calls, (std::vector<Call>{{"example.com", "/static/"}}));
  EXPECT_EQ(snapshots, 0);
}

TEST_F(AdminPurge, TheReplyOnTheWireIsJsonAndNotCached) {
  purged = 3;
  std::string wire = formatAdminReply(post("/cache/purge"), false, true);
  EXPECT_EQ(wire.rfind("HTTP/1.1 200 ", 0), 0u) << wire;
  EXPECT_NE(wire.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(wire.find("\r\nCache-Control: no-store\r\n"), std::string::npos);
  EXPECT_EQ(wire.substr(wire.find("\r\n\r\n") + 4), "{\"purged\": 3}\n");
}

TEST_F(AdminPurge, ZeroPurgedIsStillA200) {
  AdminReply r = post("/cache/purge?host=nothing.example");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"purged\": 0}\n");
}

TEST_F(AdminPurge, MissingParametersAreEmpty) {
  post("/cache/purge");
  post("/cache/purge?host=a.example");
  post("/cache/purge?path_prefix=/p");
  post("/cache/purge?");
  post("/cache/purge?other=1&x");
  EXPECT_EQ(calls,
            (std::vector<Call>{{"", ""}, {"a.example", ""}, {"", "/p"}, {"", ""}, {"", ""}}));
}

TEST_F(AdminPurge, AParameterWithoutAValueIsEmpty) {
  post("/cache/purge?host&path_prefix=");
  EXPECT_EQ(calls, (std::vector<Call>{{"", ""}}));
}

TEST_F(AdminPurge, ParametersMayComeInAnyOrder) {
  post("/cache/purge?path_prefix=/a&foo=bar&host=h");
  EXPECT_EQ(calls, (std::vector<Call>{{"h", "/a"}}));
}

TEST_F(AdminPurge, NamesMustMatchWhole) {
  post("/cache/purge?hostname=x&xhost=y&path_prefix_2=/z");
  EXPECT_EQ(calls, (std::vector<Call>{{"", ""}}));
}

TEST_F(AdminPurge, ValuesArePercentDecoded) {
  post("/cache/purge?host=%5B%3a%3A1%5d%3A8080&path_prefix=%2Fa%20b%2fc%25d");
  EXPECT_EQ(calls, (std::vector<Call>{{"[::1]:8080", "/a b/c%d"}}));
}

TEST_F(AdminPurge, PlusIsASpace) {
  post("/cache/purge?path_prefix=/a+b%2B");
  EXPECT_EQ(calls, (std::vector<Call>{{"", "/a b+"}}));
}

TEST_F(AdminPurge, AnEscapeAtTheVeryEndIsDecoded) {
  post("/cache/purge?path_prefix=/x%41");
  EXPECT_EQ(calls, (std::vector<Call>{{"", "/xA"}}));
}

TEST_F(AdminPurge, ABadPercentEscapeIs400) {
  for (std::string_view target :
       {"/cache/purge?host=a%", "/cache/purge?host=a%4", "/cache/purge?host=a%zz",
        "/cache/purge?host=%G0", "/cache/purge?path_prefix=/a%2", "/cache/purge?path_prefix=/%x1b",
        "/cache/purge?host=ok&path_prefix=/%"}) {
    AdminReply r = post(target);
    EXPECT_EQ(r.status, 400) << target;
    EXPECT_TRUE(r.contentType.starts_with("text/plain")) << target;
  }
  EXPECT_TRUE(calls.empty());
}

TEST_F(AdminPurge, APathPrefixNotStartingWithASlashIs400) {
  for (std::string_view target :
       {"/cache/purge?path_prefix=static/", "/cache/purge?path_prefix=*",
        "/cache/purge?path_prefix=%20/a", "/cache/purge?host=h&path_prefix=+/"}) {
    EXPECT_EQ(post(target).status, 400) << target;
  }
  EXPECT_TRUE(calls.empty());
}

TEST_F(AdminPurge, AnEncodedSlashStartsThePrefix) {
  EXPECT_EQ(post("/cache/purge?path_prefix=%2Fa").status, 200);
  EXPECT_EQ(calls, (std::vector<Call>{{"", "/a"}}));
}

TEST_F(AdminPurge, GetIs405AllowingPost) {
  for (std::string_view request :
       {"GET /cache/purge HTTP/1.1\r\nHost: a\r\n\r\n",
        "HEAD /cache/purge?host=a HTTP/1.1\r\nHost: a\r\n\r\n",
        "PUT /cache/purge HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        "DELETE /cache/purge HTTP/1.1\r\nHost: a\r\n\r\n"}) {
    AdminReply r = answer(request);
    EXPECT_EQ(r.status, 405) << request;
    EXPECT_EQ(r.allow, "POST") << request;
    std::string wire = formatAdminReply(r, false, false);
    EXPECT_NE(wire.find("\r\nAllow: POST\r\n"), std::string::npos) << request;
  }
  EXPECT_TRUE(calls.empty());
}

TEST_F(AdminPurge, PostToOtherPathsIs405AllowingGetAndHead) {
  for (std::string_view target : {"/", "/status", "/metrics", "/healthz", "/nope", "/cache",
                                  "/cache/purge/", "/cache/purgeall"}) {
    AdminReply r = post(target);
    EXPECT_EQ(r.status, 405) << target;
    EXPECT_EQ(r.allow, "GET, HEAD") << target;
  }
  EXPECT_TRUE(calls.empty());
  EXPECT_EQ(snapshots, 0);
}

TEST_F(AdminPurge, GetOfOtherPathsIsUnchanged) {
  EXPECT_EQ(answer("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  EXPECT_EQ(answer("GET /cache HTTP/1.1\r\nHost: a\r\n\r\n").status, 404);
  EXPECT_TRUE(calls.empty());
}

TEST_F(AdminPurge, WithoutACallbackNothingIsPurged) {
  http::Http1Parser parser(http::MessageKind::Request);
  ASSERT_EQ(parser.feed("POST /cache/purge?host=a HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
                .status,
            http::ParseStatus::HeadComplete);
  AdminReply r = answerAdminRequest(parser.head(), [] { return testing::sampleSnapshot(); });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{\"purged\": 0}\n");
}

TEST_F(AdminPurge, AnAbsoluteFormTargetIsPurgedToo) {
  post("http://admin:9901/cache/purge?host=h&path_prefix=/p");
  EXPECT_EQ(calls, (std::vector<Call>{{"h", "/p"}}));
}

}  // namespace
}  // namespace ringlb::admin
