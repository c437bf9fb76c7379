// Specification of Authorization field parsing (Basic and Bearer).
#include "l7/gateway/auth_header.h"

#include <gtest/gtest.h>

#include <string>

namespace ringlb::l7 {
namespace {

TEST(AuthorizationHeader, BasicIsDecodedIntoUserAndPassword) {
  Authorization a = parseAuthorization("Basic dXNlcjpwYXNz");  // user:pass
  EXPECT_EQ(a.error, AuthHeaderError::None);
  EXPECT_EQ(a.scheme, AuthScheme::Basic);
  EXPECT_EQ(a.user, "user");
  EXPECT_EQ(a.password, "pass");
}

TEST(AuthorizationHeader, TheSchemeIsCaseInsensitiveAndMaySpaceOut) {
  Authorization a = parseAuthorization("bAsIc   dXNlcjpwYXNz");
  EXPECT_EQ(a.error, AuthHeaderError::None);
  EXPECT_EQ(a.scheme, AuthScheme::Basic);
  EXPECT_EQ(a.schemeName, "bAsIc");
  EXPECT_EQ(a.user, "user");
}

TEST(AuthorizationHeader, ThePasswordMayHoldColonsAndBeEmpty) {
  Authorization a = parseAuthorization("Basic dTphOmI6");  // u:a:b:
  EXPECT_EQ(a.error, AuthHeaderError::None);
  EXPECT_EQ(a.user, "u");
  EXPECT_EQ(a.password, "a:b:");
  a = parseAuthorization("Basic dTo=");  // u:
  EXPECT_EQ(a.error, AuthHeaderError::None);
  EXPECT_EQ(a.password, "");
}

TEST(AuthorizationHeader, Utf8IsAllowed) {
  Authorization a = parseAuthorization("Basic w6lsw6h2ZTpww6Fzcw==");  // élève:páss
  EXPECT_EQ(a.error, AuthHeaderError::None);
  EXPECT_EQ(a.user, "\xc3\xa9l\xc3\xa8ve");
}

TEST(AuthorizationHeader, BasicRefusesBadBase64) {
  EXPECT_EQ(parseAuthorization("Basic dXNlcjpwYXNz=").error, AuthHeaderError::BadBase64);
  EXPECT_EQ(parseAuthorization("Basic dTo").error, AuthHeaderError::BadBase64);   // no padding
  EXPECT_EQ(parseAuthorization("Basic dTp=").error, AuthHeaderError::BadBase64);  // trailing bits
  EXPECT_EQ(parseAuthorization("Basic dXN-cjpw").error,
            AuthHeaderError::BadBase64);  // url alphabet
  EXPECT_EQ(parseAuthorization("Basic dXNl cjpw").error, AuthHeaderError::BadToken68);
  EXPECT_EQ(parseAuthorization("Basic dXNl,cjpw").error, AuthHeaderError::BadToken68);
  EXPECT_EQ(parseAuthorization("Basic ====").error, AuthHeaderError::BadToken68);
}

TEST(AuthorizationHeader, BasicRefusesAMissingColon) {
  EXPECT_EQ(parseAuthorization("Basic dXNlcg==").error, AuthHeaderError::NoColon);  // user
  EXPECT_EQ(parseAuthorization("Basic ").error, AuthHeaderError::NoCredentials);
  EXPECT_EQ(parseAuthorization("Basic").error, AuthHeaderError::NoCredentials);
}

TEST(AuthorizationHeader, BasicRefusesControlCharacters) {
  EXPECT_EQ(parseAuthorization("Basic dXNlcjpwAGFzcw==").error,  // user:p\0ass
            AuthHeaderError::ControlChar);
  EXPECT_EQ(parseAuthorization("Basic dQ06cGFzcw==").error,  // u\r:pass
            AuthHeaderError::ControlChar);
  EXPECT_EQ(parseAuthorization("Basic dTpwfw==").error,  // u:p\x7f
            AuthHeaderError::ControlChar);
}

TEST(AuthorizationHeader, BearerYieldsItsToken68) {
  Authorization a = parseAuthorization("Bearer abc.DEF-_~+/ghi==");
  EXPECT_EQ(a.error, AuthHeaderError::None);
  EXPECT_EQ(a.scheme, AuthScheme::Bearer);
  EXPECT_EQ(a.credentials, "abc.DEF-_~+/ghi==");
  EXPECT_EQ(parseAuthorization("bearer x").scheme, AuthScheme::Bearer);
}

TEST(AuthorizationHeader, BearerRefusesWhatIsNotToken68) {
  EXPECT_EQ(parseAuthorization("Bearer").error, AuthHeaderError::NoCredentials);
  EXPECT_EQ(parseAuthorization("Bearer a b").error, AuthHeaderError::BadToken68);
  EXPECT_EQ(parseAuthorization("Bearer a=b").error, AuthHeaderError::BadToken68);
  EXPECT_EQ(parseAuthorization("Bearer a\"b").error, AuthHeaderError::BadToken68);
  EXPECT_EQ(parseAuthorization("Bearer =").error, AuthHeaderError::BadToken68);
}

TEST(AuthorizationHeader, OtherSchemesAreReportedUnjudged) {
  Authorization a = parseAuthorization("Digest username=\"a\", realm=\"b\"");
  EXPECT_EQ(a.error, AuthHeaderError::None);
  EXPECT_EQ(a.scheme, AuthScheme::Other);
  EXPECT_EQ(a.schemeName, "Digest");
  EXPECT_EQ(parseAuthorization("Basicx dXNlcjpwYXNz").scheme, AuthScheme::Other);
}

TEST(AuthorizationHeader, RefusesABadScheme) {
  EXPECT_EQ(parseAuthorization("").error, AuthHeaderError::BadScheme);
  EXPECT_EQ(parseAuthorization(" Basic dTo=").error, AuthHeaderError::BadScheme);
  EXPECT_EQ(parseAuthorization("Ba\"sic dTo=").error, AuthHeaderError::BadScheme);
  EXPECT_EQ(parseAuthorization("Basic\tdTo=").error, AuthHeaderError::BadScheme);
}

}  // namespace
}  // namespace ringlb::l7
