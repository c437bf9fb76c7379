// Extracting hash keys from a request view, and the hash itself.
#include "common/upstream/hash_key.h"

#include <gtest/gtest.h>

namespace ringlb::upstream {
namespace {

using config::HashKey;
using config::HashKeyKind;

const HeaderField kHeaders[] = {
    {"Host", "example.com"},
    {"X-User", "alice"},
    {"Cookie", "theme=dark; session = abc123 ;lang=en"},
};
const RequestKeyView kRequest{.sourceIp = "192.0.2.7", .uri = "/cart?id=3", .headers = kHeaders};

TEST(ExtractHashKey, SourceIpAndUriComeFromTheView) {
  EXPECT_EQ(extractHashKey({HashKeyKind::SourceIp, ""}, kRequest), "192.0.2.7");
  EXPECT_EQ(extractHashKey({HashKeyKind::Uri, ""}, kRequest), "/cart?id=3");
}

TEST(ExtractHashKey, HeaderNamesMatchCaseInsensitively) {
  EXPECT_EQ(extractHashKey({HashKeyKind::Header, "x-user"}, kRequest), "alice");
}

TEST(ExtractHashKey, CookieValueIsFoundAmongOthersAndTrimmed) {
  EXPECT_EQ(extractHashKey({HashKeyKind::Cookie, "session"}, kRequest), "abc123");
  EXPECT_EQ(extractHashKey({HashKeyKind::Cookie, "lang"}, kRequest), "en");
}

TEST(ExtractHashKey, MissingHeaderOrCookieGivesNoKey) {
  EXPECT_FALSE(extractHashKey({HashKeyKind::Header, "X-Tenant"}, kRequest));
  EXPECT_FALSE(extractHashKey({HashKeyKind::Cookie, "sess"}, kRequest));
}

TEST(FindCookie, IgnoresPairsWithoutValue) {
  EXPECT_EQ(findCookie("flag; id=7", "id"), "7");
  EXPECT_FALSE(findCookie("flag; id=7", "flag"));
}

TEST(HashBytes, IsStableAndSensitiveToEveryByte) {
  EXPECT_EQ(hashBytes("192.0.2.7"), hashBytes(std::string("192.0.2.7")));
  EXPECT_NE(hashBytes("192.0.2.7"), hashBytes("192.0.2.8"));
  EXPECT_NE(hashBytes("abcdefgh1"), hashBytes("abcdefgh2"));
  EXPECT_NE(hashBytes(""), hashBytes(std::string_view("\0", 1)));
}

}  // namespace
}  // namespace ringlb::upstream
