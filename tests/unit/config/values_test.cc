#include "config/values.h"

#include <gtest/gtest.h>

#include "config/suggest.h"

namespace ringlb::config {
namespace {

TEST(ParseExpectStatus, ReadsCodesAndRanges) {
  std::string error;
  auto ranges = parseExpectStatus("200,204,300-399", &error);
  ASSERT_TRUE(ranges) << error;
  ASSERT_EQ(ranges->size(), 3u);
  EXPECT_EQ((*ranges)[0].low, 200);
  EXPECT_EQ((*ranges)[0].high, 200);
  EXPECT_EQ((*ranges)[1].low, 204);
  EXPECT_EQ((*ranges)[2].low, 300);
  EXPECT_EQ((*ranges)[2].high, 399);
}

TEST(ParseExpectStatus, RejectsMalformedLists) {
  std::string error;
  for (const char* bad : {"", "abc", "200,", "200-", "99", "600", "200-700", "2 00", "200--300"}) {
    EXPECT_FALSE(parseExpectStatus(bad, &error)) << bad;
  }
  EXPECT_FALSE(parseExpectStatus("399-200", &error));
  EXPECT_EQ(error, "expect_status range \"399-200\" is reversed");
}

TEST(ParseHashKey, ReadsEveryKind) {
  std::string error;
  EXPECT_EQ(parseHashKey("source_ip", &error)->kind, HashKeyKind::SourceIp);
  EXPECT_EQ(parseHashKey("uri", &error)->kind, HashKeyKind::Uri);
  auto header = parseHashKey("header:X-User", &error);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->kind, HashKeyKind::Header);
  EXPECT_EQ(header->name, "X-User");
  EXPECT_EQ(parseHashKey("cookie:session", &error)->kind, HashKeyKind::Cookie);
}

TEST(ParseHashKey, RejectsUnknownKindsAndEmptyNames) {
  std::string error;
  EXPECT_FALSE(parseHashKey("header:", &error));
  EXPECT_FALSE(parseHashKey("cookie:a b", &error));
  EXPECT_FALSE(parseHashKey("source", &error));
}

TEST(ParseHostPattern, LowerCasesAndAcceptsOneLeadingWildcard) {
  std::string error;
  EXPECT_EQ(parseHostPattern("App.Example.COM", &error), "app.example.com");
  EXPECT_EQ(parseHostPattern("*.example.com", &error), "*.example.com");
  EXPECT_FALSE(parseHostPattern("a.*.com", &error));
  EXPECT_FALSE(parseHostPattern("*", &error));
  EXPECT_FALSE(parseHostPattern("a..b", &error));
  EXPECT_FALSE(parseHostPattern("", &error));
}

TEST(CheckDestinationPattern, AcceptsHostsAddressesAndCidrs) {
  std::string error;
  EXPECT_TRUE(checkDestinationPattern("10.0.0.0/8", &error));
  EXPECT_TRUE(checkDestinationPattern("::1/128", &error));
  EXPECT_TRUE(checkDestinationPattern("*.example.com", &error));
  EXPECT_TRUE(checkDestinationPattern("192.168.1.1", &error));
  EXPECT_FALSE(checkDestinationPattern("10.0.0.0/33", &error));
  EXPECT_FALSE(checkDestinationPattern("nothing/8", &error));
  EXPECT_FALSE(checkDestinationPattern(std::string_view("1.2.3.4\0x", 9), &error));
}

TEST(ClosestMatch, SuggestsTyposOnly) {
  std::vector<std::string_view> keys = {"balance", "backends", "retries"};
  EXPECT_EQ(closestMatch("balanse", keys), "balance");
  EXPECT_EQ(closestMatch("backend", keys), "backends");
  EXPECT_EQ(closestMatch("reteirs", keys), "retries");
  EXPECT_FALSE(closestMatch("frobnicate", keys));
  EXPECT_FALSE(closestMatch("x", keys));
}

TEST(EditDistance, CountsAdjacentSwapAsOneEdit) {
  EXPECT_EQ(editDistance("fall", "fall"), 0u);
  EXPECT_EQ(editDistance("rise", "rsie"), 1u);
  EXPECT_EQ(editDistance("", "abc"), 3u);
}

}  // namespace
}  // namespace ringlb::config
