// Specification of conditional requests answered from a stored response
// (RFC 9110 section 13, entity-tag comparison in 8.8.3):
// l7/cache/conditional.h.
#include "l7/cache/conditional.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace ringlb::l7::cache {
namespace {

using http::Method;

struct Request {
  Request(Method method, std::vector<http::HeaderView> f) : fields(std::move(f)) {
    head.method = method;
    head.headers = fields;
  }
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;
  std::vector<http::HeaderView> fields;
  http::MessageHead head;
};

constexpr std::string_view kLastModified = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr std::string_view kEarlier = "Sat, 05 Nov 1994 08:49:37 GMT";
constexpr std::string_view kLater = "Mon, 07 Nov 1994 08:49:37 GMT";

bool is304(std::vector<http::HeaderView> fields, std::string_view etag = R"("abc")",
           std::string_view lastModified = kLastModified, Method method = Method::Get) {
  Request r(method, std::move(fields));
  return notModified(r.head, etag, lastModified);
}

bool rangeOk(std::vector<http::HeaderView> fields, std::string_view etag = R"("abc")",
             std::string_view lastModified = kLastModified) {
  Request r(Method::Get, std::move(fields));
  return ifRangeAllows(r.head, etag, lastModified);
}

// --- notModified: If-None-Match ---------------------------------------------

TEST(NotModified, NoConditionalFieldsGiveTheFullAnswer) { EXPECT_FALSE(is304({})); }

TEST(NotModified, IfNoneMatchSameTag) {
  EXPECT_TRUE(is304({{"If-None-Match", R"("abc")"}}));
  EXPECT_FALSE(is304({{"If-None-Match", R"("abd")"}}));
  EXPECT_FALSE(is304({{"If-None-Match", R"("ABC")"}}));
}

TEST(NotModified, IfNoneMatchComparesWeakly) {
  EXPECT_TRUE(is304({{"If-None-Match", R"(W/"abc")"}}));
  EXPECT_TRUE(is304({{"If-None-Match", R"("abc")"}}, R"(W/"abc")"));
  EXPECT_TRUE(is304({{"If-None-Match", R"(W/"abc")"}}, R"(W/"abc")"));
}

TEST(NotModified, IfNoneMatchListAndSeveralFields) {
  EXPECT_TRUE(is304({{"If-None-Match", R"("x", W/"y" ,"abc")"}}));
  EXPECT_TRUE(is304({{"If-None-Match", R"("x")"}, {"if-none-match", R"("abc")"}}));
  EXPECT_FALSE(is304({{"If-None-Match", R"("x", "y")"}}));
}

TEST(NotModified, IfNoneMatchTagsMayHoldCommasAndBackslashes) {
  EXPECT_TRUE(is304({{"If-None-Match", R"("x", "a,b")"}}, R"("a,b")"));
  EXPECT_TRUE(is304({{"If-None-Match", R"("a\", "b")"}}, R"("b")"));
  EXPECT_FALSE(is304({{"If-None-Match", R"("a,b")"}}, R"("a")"));
}

TEST(NotModified, IfNoneMatchStarMatchesAStoredResponse) {
  EXPECT_TRUE(is304({{"If-None-Match", "*"}}));
  EXPECT_TRUE(is304({{"If-None-Match", "*"}}, "", ""));
}

TEST(NotModified, IfNoneMatchNeedsAStoredETag) {
  EXPECT_FALSE(is304({{"If-None-Match", R"("abc")"}}, ""));
  EXPECT_FALSE(is304({{"If-None-Match", R"("abc")"}}, "abc"));  // stored one malformed
}

TEST(NotModified, IfNoneMatchDecidesOverIfModifiedSince) {
  EXPECT_FALSE(is304({{"If-None-Match", R"("other")"}, {"If-Modified-Since", kLater}}));
  EXPECT_TRUE(is304({{"If-None-Match", R"("abc")"}, {"If-Modified-Since", kEarlier}}));
}

TEST(NotModified, MalformedIfNoneMatchIsIgnored) {
  for (std::string_view bad : {"abc", R"("abc)", R"("abc" "def")", R"(w/"abc")", R"("a"b")", "",
                               ",", R"("a" x)", "W/", "\"a\x01\""}) {
    EXPECT_FALSE(is304({{"If-None-Match", bad}})) << bad;
    EXPECT_TRUE(is304({{"If-None-Match", bad}, {"If-Modified-Since", kLastModified}})) << bad;
  }
}

TEST(NotModified, OnlyGetAndHead) {
  EXPECT_TRUE(is304({{"If-None-Match", R"("abc")"}}, R"("abc")", kLastModified, Method::Head));
  for (Method m : {Method::Post, Method::Put, Method::Delete, Method::Other}) {
    EXPECT_FALSE(is304({{"If-None-Match", "*"}}, R"("abc")", kLastModified, m));
    EXPECT_FALSE(is304({{"If-Modified-Since", kLater}}, R"("abc")", kLastModified, m));
  }
}

// --- notModified: If-Modified-Since -----------------------------------------

TEST(NotModified, IfModifiedSinceAtOrAfterLastModified) {
  EXPECT_TRUE(is304({{"If-Modified-Since", kLastModified}}));
  EXPECT_TRUE(is304({{"If-Modified-Since", kLater}}));
  EXPECT_FALSE(is304({{"If-Modified-Since", kEarlier}}));
}

TEST(NotModified, IfModifiedSinceInObsoleteForms) {
  EXPECT_TRUE(is304({{"If-Modified-Since", "Sunday, 06-Nov-94 08:49:37 GMT"}}));
  EXPECT_TRUE(is304({{"If-Modified-Since", "Sun Nov  6 08:49:37 1994"}}));
}

TEST(NotModified, MalformedIfModifiedSinceIsIgnored) {
  for (std::string_view bad : {"", "yesterday", "0", "Sun, 06 Nov 1994 08:49:37 GMT, x",
                               "Sun, 06 Nov 99999 08:49:37 GMT"}) {
    EXPECT_FALSE(is304({{"If-Modified-Since", bad}})) << bad;
  }
}

TEST(NotModified, RepeatedIfModifiedSinceIsIgnored) {
  EXPECT_FALSE(is304({{"If-Modified-Since", kLater}, {"If-Modified-Since", kLater}}));
}

TEST(NotModified, IfModifiedSinceNeedsAValidLastModified) {
  EXPECT_FALSE(is304({{"If-Modified-Since", kLater}}, R"("abc")", ""));
  EXPECT_FALSE(is304({{"If-Modified-Since", kLater}}, R"("abc")", "garbage"));
}

// --- ifRangeAllows ----------------------------------------------------------

TEST(IfRange, AbsentAllows) { EXPECT_TRUE(rangeOk({})); }

TEST(IfRange, StrongETagMatch) {
  EXPECT_TRUE(rangeOk({{"If-Range", R"("abc")"}}));
  EXPECT_FALSE(rangeOk({{"If-Range", R"("abd")"}}));
}

TEST(IfRange, WeakTagsNeverMatch) {
  EXPECT_FALSE(rangeOk({{"If-Range", R"(W/"abc")"}}));
  EXPECT_FALSE(rangeOk({{"If-Range", R"("abc")"}}, R"(W/"abc")"));
  EXPECT_FALSE(rangeOk({{"If-Range", R"(W/"abc")"}}, R"(W/"abc")"));
}

TEST(IfRange, ETagNeedsAStoredETag) { EXPECT_FALSE(rangeOk({{"If-Range", R"("abc")"}}, "")); }

TEST(IfRange, DateMustEqualLastModified) {
  EXPECT_TRUE(rangeOk({{"If-Range", kLastModified}}));
  EXPECT_TRUE(rangeOk({{"If-Range", "Sunday, 06-Nov-94 08:49:37 GMT"}}));
  EXPECT_FALSE(rangeOk({{"If-Range", kLater}}));
  EXPECT_FALSE(rangeOk({{"If-Range", kEarlier}}));
  EXPECT_FALSE(rangeOk({{"If-Range", kLastModified}}, R"("abc")", ""));
}

TEST(IfRange, MalformedOrRepeatedRefuses) {
  for (std::string_view bad : {"", "abc", R"("abc)", R"("abc", "abc")", "tomorrow"}) {
    EXPECT_FALSE(rangeOk({{"If-Range", bad}})) << bad;
  }
  EXPECT_FALSE(rangeOk({{"If-Range", R"("abc")"}, {"if-range", R"("abc")"}}));
}

// --- isConditional ----------------------------------------------------------

TEST(IsConditional, AnyOfTheFiveFields) {
  for (std::string_view name :
       {"If-None-Match", "if-modified-since", "IF-MATCH", "If-Unmodified-Since", "If-Range"}) {
    Request r(Method::Get, {{name, "x"}});
    EXPECT_TRUE(isConditional(r.head)) << name;
  }
}

TEST(IsConditional, OtherFieldsAreNot) {
  Request r(Method::Get, {{"Range", "bytes=0-1"}, {"If", "x"}, {"X-If-Match", "y"}});
  EXPECT_FALSE(isConditional(r.head));
}

}  // namespace
}  // namespace ringlb::l7::cache
