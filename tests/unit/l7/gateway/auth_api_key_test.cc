// Specification of API key verification against SHA-256 digests.
#include "l7/gateway/auth_api_key.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <string>

#include "tests/unit/l7/gateway/auth_test_hashes.h"

namespace ringlb::l7 {
namespace {

using testing::sha256;

config::AuthCredentials keys() {
  config::AuthCredentials c;
  c.apiKeys.emplace_back("ci", sha256("key-one"));
  c.apiKeys.emplace_back("", sha256("key-two"));
  c.apiKeys.emplace_back("deploy", sha256("key-three"));
  return c;
}

TEST(ApiKeyVerify, NamesTheMatchingKey) {
  auto creds = keys();
  EXPECT_EQ(verifyApiKey(creds, "key-one"), "ci");
  EXPECT_EQ(verifyApiKey(creds, "key-three"), "deploy");
  auto unnamed = verifyApiKey(creds, "key-two");
  ASSERT_TRUE(unnamed);
  EXPECT_EQ(*unnamed, "");
}

TEST(ApiKeyVerify, RefusesOtherKeys) {
  auto creds = keys();
  EXPECT_FALSE(verifyApiKey(creds, "key-four"));
  EXPECT_FALSE(verifyApiKey(creds, "key-one "));
  EXPECT_FALSE(verifyApiKey(creds, "KEY-ONE"));
  EXPECT_FALSE(verifyApiKey(creds, std::string("key-one\0", 8)));
}

TEST(ApiKeyVerify, RefusesAnEmptyKey) {
  auto creds = keys();
  creds.apiKeys.emplace_back("empty", sha256(""));
  EXPECT_FALSE(verifyApiKey(creds, ""));
}

TEST(ApiKeyVerify, NoKeysConfiguredRefusesAll) {
  config::AuthCredentials none;
  EXPECT_FALSE(verifyApiKey(none, "key-one"));
}

TEST(ApiKeyVerify, TheFirstOfDuplicateDigestsNamesTheKey) {
  auto creds = keys();
  creds.apiKeys.emplace_back("again", sha256("key-one"));
  EXPECT_EQ(verifyApiKey(creds, "key-one"), "ci");
}

}  // namespace
}  // namespace ringlb::l7
