// Specification of the strict base64 decoders used by JWT and Basic auth.
#include <gtest/gtest.h>

#include <string>

#include "l7/gateway/base64url.h"

namespace ringlb::l7 {
namespace {

TEST(Base64UrlDecode, DecodesUnpaddedText) {
  EXPECT_EQ(decodeBase64Url(""), "");
  EXPECT_EQ(decodeBase64Url("Zg"), "f");
  EXPECT_EQ(decodeBase64Url("Zm8"), "fo");
  EXPECT_EQ(decodeBase64Url("Zm9v"), "foo");
  EXPECT_EQ(decodeBase64Url("-_8"), "\xfb\xff");
}

TEST(Base64UrlDecode, RefusesPaddingAndOtherAlphabets) {
  EXPECT_FALSE(decodeBase64Url("Zg=="));
  EXPECT_FALSE(decodeBase64Url("Zm8="));
  EXPECT_FALSE(decodeBase64Url("+/8"));
  EXPECT_FALSE(decodeBase64Url("Zm9v "));
  EXPECT_FALSE(decodeBase64Url("Zm\n9v"));
  EXPECT_FALSE(decodeBase64Url(std::string("Zm\0v", 4)));
}

TEST(Base64UrlDecode, RefusesImpossibleLengths) {
  EXPECT_FALSE(decodeBase64Url("Z"));
  EXPECT_FALSE(decodeBase64Url("Zm9vY"));
}

TEST(Base64UrlDecode, RefusesNonZeroTrailingBits) {
  // "Zh" and "Zm9" would also decode to "f" / "fo" if the spare bits were ignored.
  EXPECT_FALSE(decodeBase64Url("Zh"));
  EXPECT_FALSE(decodeBase64Url("Zm9"));
  EXPECT_TRUE(decodeBase64Url("Zm8"));
}

TEST(Base64UrlEncode, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); len += 37) {
    std::string in = all.substr(0, len);
    std::string encoded = encodeBase64Url(in);
    EXPECT_EQ(encoded.find('='), std::string::npos);
    EXPECT_EQ(decodeBase64Url(encoded), in);
  }
  EXPECT_EQ(encodeBase64Url("fo"), "Zm8");
}

TEST(Base64Decode, DecodesPaddedText) {
  EXPECT_EQ(decodeBase64(""), "");
  EXPECT_EQ(decodeBase64("Zg=="), "f");
  EXPECT_EQ(decodeBase64("Zm8="), "fo");
  EXPECT_EQ(decodeBase64("Zm9v"), "foo");
  EXPECT_EQ(decodeBase64("+/8="), "\xfb\xff");
  EXPECT_EQ(decodeBase64("dXNlcjpwYXNz"), "user:pass");
}

TEST(Base64Decode, RefusesMissingOrWrongPadding) {
  EXPECT_FALSE(decodeBase64("Zg"));
  EXPECT_FALSE(decodeBase64("Zg="));
  EXPECT_FALSE(decodeBase64("Zg==="));
  EXPECT_FALSE(decodeBase64("Z==="));
  EXPECT_FALSE(decodeBase64("===="));
  EXPECT_FALSE(decodeBase64("Zg==Zg=="));
  EXPECT_FALSE(decodeBase64("Z=g="));
}

TEST(Base64Decode, RefusesJunkAndTheUrlAlphabet) {
  EXPECT_FALSE(decodeBase64("-_8="));
  EXPECT_FALSE(decodeBase64("Zm9v\r\n"));
  EXPECT_FALSE(decodeBase64(" Zm9v"));
  EXPECT_FALSE(decodeBase64("Zm9*"));
}

TEST(Base64Decode, RefusesNonZeroTrailingBits) {
  EXPECT_FALSE(decodeBase64("Zh=="));
  EXPECT_FALSE(decodeBase64("Zm9="));
}

}  // namespace
}  // namespace ringlb::l7
