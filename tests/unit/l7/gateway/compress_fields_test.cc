// Specification of the field-value helpers of the compression phase
// (l7/gateway/compress_fields.h).
#include "l7/gateway/compress_fields.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringlb::l7 {
namespace {

std::vector<std::string> elements(std::string_view value) {
  std::vector<std::string> out;
  forEachElement(value, [&](std::string_view e) {
    out.emplace_back(e);
    return true;
  });
  return out;
}

using Strings = std::vector<std::string>;

TEST(ForEachElement, SplitsOnCommasOutsideQuotes) {
  EXPECT_EQ(elements("a, b,c"), (Strings{"a", "b", "c"}));
  EXPECT_EQ(elements(" , ,a,, "), (Strings{"a"}));
  EXPECT_EQ(elements(""), Strings{});
  EXPECT_EQ(elements("a=\"x, y\", b"), (Strings{"a=\"x, y\"", "b"}));
  EXPECT_EQ(elements("a=\"x\\\", y\", b"), (Strings{"a=\"x\\\", y\"", "b"}));
  EXPECT_EQ(elements("a=\"open, b"), (Strings{"a=\"open, b"}));
  EXPECT_EQ(elements("a=\"x\\"), (Strings{"a=\"x\\"}));  // a trailing backslash
}

TEST(ForEachElement, StopsWhenAsked) {
  int seen = 0;
  EXPECT_FALSE(forEachElement("a, b, c", [&](std::string_view) { return ++seen < 2; }));
  EXPECT_EQ(seen, 2);
}

TEST(ListHasToken, MatchesDirectiveNamesCaseInsensitively) {
  std::vector<http::HeaderView> fields = {{"Cache-Control", "max-age=60"},
                                          {"cache-control", "Private, NO-TRANSFORM"}};
  EXPECT_TRUE(listHasToken(fields, "cache-control", "no-transform"));
  EXPECT_TRUE(listHasToken(fields, "Cache-Control", "max-age"));
  EXPECT_FALSE(listHasToken(fields, "cache-control", "no-store"));
  EXPECT_FALSE(listHasToken(fields, "pragma", "private"));
}

TEST(MediaType, DropsParametersAndLowerCases) {
  EXPECT_EQ(mediaType("Text/HTML; charset=utf-8"), "text/html");
  EXPECT_EQ(mediaType("  application/json  "), "application/json");
  EXPECT_EQ(mediaType("image/svg+xml;x=\"a;b\""), "image/svg+xml");
  EXPECT_EQ(mediaType("text"), "");
  EXPECT_EQ(mediaType("text/"), "");
  EXPECT_EQ(mediaType("/html"), "");
  EXPECT_EQ(mediaType("text/html extra"), "");
  EXPECT_EQ(mediaType(""), "");
}

TEST(MediaTypeMatches, ExactMajorWildcardAndAny) {
  EXPECT_TRUE(mediaTypeMatches("text/html", "text/html"));
  EXPECT_TRUE(mediaTypeMatches("text/html", "TEXT/HTML"));
  EXPECT_TRUE(mediaTypeMatches("text/html", "text/*"));
  EXPECT_FALSE(mediaTypeMatches("texts/html", "text/*"));
  EXPECT_FALSE(mediaTypeMatches("text/", "text/*"));
  EXPECT_TRUE(mediaTypeMatches("image/png", "*/*"));
  EXPECT_FALSE(mediaTypeMatches("", "*/*"));
  EXPECT_FALSE(mediaTypeMatches("text/html", "text/plain"));
  EXPECT_FALSE(mediaTypeMatches("text/html", "*"));
}

TEST(Tokens, FollowRfc9110) {
  EXPECT_TRUE(isToken("gzip"));
  EXPECT_TRUE(isToken("x-gzip"));
  EXPECT_TRUE(isToken("*"));
  EXPECT_FALSE(isToken(""));
  EXPECT_FALSE(isToken("a b"));
  EXPECT_FALSE(isToken("a\"b"));
  EXPECT_FALSE(isToken("a;b"));
}

}  // namespace
}  // namespace ringlb::l7
