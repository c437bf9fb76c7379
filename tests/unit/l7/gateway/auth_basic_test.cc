// Specification of Basic credential verification against crypt(3) hashes
// made here with libcrypt (bcrypt, SHA-512-crypt, yescrypt), and its cache.
#include "l7/gateway/auth_basic.h"

#include <crypt.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "tests/unit/l7/gateway/auth_test_hashes.h"

namespace ringlb::l7 {
namespace {

using testing::bcrypt;
using testing::makeHash;

config::AuthCredentials users(std::initializer_list<std::pair<std::string, std::string>> list) {
  config::AuthCredentials c;
  for (const auto& [user, hash] : list) c.users[user] = hash;
  return c;
}

TEST(BasicAuthVerify, AcceptsBcrypt) {
  std::string hash = bcrypt("s3cret");
  ASSERT_EQ(hash.substr(0, 7), "$2b$04$");
  auto creds = users({{"alice", hash}});
  BasicAuthVerifier v;
  EXPECT_EQ(v.verify(creds, "alice", "s3cret"), BasicAuthResult::Ok);
  EXPECT_EQ(v.verify(creds, "alice", "s3cret!"), BasicAuthResult::BadPassword);
  EXPECT_EQ(v.verify(creds, "alice", ""), BasicAuthResult::BadPassword);
}

TEST(BasicAuthVerify, AcceptsBcrypt2yAsHtpasswdWritesIt) {
  std::string hash = makeHash("$2y$", 4, "pw");
  ASSERT_EQ(hash.substr(0, 4), "$2y$");
  auto creds = users({{"u", hash}});
  BasicAuthVerifier v;
  EXPECT_EQ(v.verify(creds, "u", "pw"), BasicAuthResult::Ok);
}

TEST(BasicAuthVerify, AcceptsSha512Crypt) {
  std::string hash = makeHash("$6$", 1000, "pässwörd");
  ASSERT_EQ(hash.substr(0, 3), "$6$");
  auto creds = users({{"bob", hash}});
  BasicAuthVerifier v;
  EXPECT_EQ(v.verify(creds, "bob", "pässwörd"), BasicAuthResult::Ok);
  EXPECT_EQ(v.verify(creds, "bob", "passwort"), BasicAuthResult::BadPassword);
}

TEST(BasicAuthVerify, AcceptsYescrypt) {
  std::string hash = makeHash("$y$", 1, "correct horse");
  ASSERT_EQ(hash.substr(0, 3), "$y$");
  auto creds = users({{"carol", hash}});
  BasicAuthVerifier v;
  EXPECT_EQ(v.verify(creds, "carol", "correct horse"), BasicAuthResult::Ok);
  EXPECT_EQ(v.verify(creds, "carol", "correct horse "), BasicAuthResult::BadPassword);
}

TEST(BasicAuthVerify, AnUnknownUserStillCostsACryptRun) {
  auto creds = users({{"alice", bcrypt("pw")}});
  BasicAuthVerifier v;
  EXPECT_EQ(v.verify(creds, "mallory", "pw"), BasicAuthResult::UnknownUser);
  EXPECT_EQ(v.cryptRuns(), 1u);
  EXPECT_EQ(v.verify(creds, "Alice", "pw"), BasicAuthResult::UnknownUser);
  config::AuthCredentials none;
  EXPECT_EQ(v.verify(none, "alice", "pw"), BasicAuthResult::UnknownUser);
}

TEST(BasicAuthVerify, TheSecondGoodVerificationHitsTheCache) {
  auto creds = users({{"alice", bcrypt("pw")}});
  BasicAuthVerifier v;
  EXPECT_EQ(v.verify(creds, "alice", "pw"), BasicAuthResult::Ok);
  EXPECT_EQ(v.cryptRuns(), 1u);
  EXPECT_EQ(v.verify(creds, "alice", "pw"), BasicAuthResult::Ok);
  EXPECT_EQ(v.cryptRuns(), 1u);
  EXPECT_EQ(v.cacheHits(), 1u);
}

TEST(BasicAuthVerify, FailuresAreNotCached) {
  auto creds = users({{"alice", bcrypt("pw")}});
  BasicAuthVerifier v;
  EXPECT_EQ(v.verify(creds, "alice", "guess"), BasicAuthResult::BadPassword);
  EXPECT_EQ(v.verify(creds, "alice", "guess"), BasicAuthResult::BadPassword);
  EXPECT_EQ(v.cryptRuns(), 2u);
  EXPECT_EQ(v.cacheHits(), 0u);
}

TEST(BasicAuthVerify, AChangedHashMissesTheCache) {
  auto creds = users({{"alice", bcrypt("old")}});
  BasicAuthVerifier v;
  EXPECT_EQ(v.verify(creds, "alice", "old"), BasicAuthResult::Ok);
  // The password file is reloaded with a new password.
  creds.users["alice"] = bcrypt("new");
  EXPECT_EQ(v.verify(creds, "alice", "old"), BasicAuthResult::BadPassword);
  EXPECT_EQ(v.verify(creds, "alice", "new"), BasicAuthResult::Ok);
  EXPECT_EQ(v.cacheHits(), 0u);
  // The same password hashed again (a new salt) is a new entry too.
  creds.users["alice"] = bcrypt("new");
  EXPECT_EQ(v.verify(creds, "alice", "new"), BasicAuthResult::Ok);
  EXPECT_EQ(v.cacheHits(), 0u);
  EXPECT_EQ(v.cryptRuns(), 4u);
}

TEST(BasicAuthVerify, TheCacheKeySeparatesUserAndPassword) {
  // "ab" + "c" and "a" + "bc" must not share an entry.
  std::string hash = bcrypt("c");
  auto creds = users({{"ab", hash}, {"a", hash}});
  BasicAuthVerifier v;
  EXPECT_EQ(v.verify(creds, "ab", "c"), BasicAuthResult::Ok);
  EXPECT_EQ(v.verify(creds, "a", "bc"), BasicAuthResult::BadPassword);
}

TEST(BasicAuthVerify, ACacheOfZeroEntriesAlwaysHashes) {
  auto creds = users({{"alice", bcrypt("pw")}});
  BasicAuthVerifier v(0);
  EXPECT_EQ(v.verify(creds, "alice", "pw"), BasicAuthResult::Ok);
  EXPECT_EQ(v.verify(creds, "alice", "pw"), BasicAuthResult::Ok);
  EXPECT_EQ(v.cryptRuns(), 2u);
}

TEST(BasicAuthVerify, RefusesANulThatWouldCutThePassword) {
  auto creds = users({{"alice", bcrypt("pw")}});
  BasicAuthVerifier v;
  EXPECT_EQ(v.verify(creds, "alice", std::string("pw\0x", 4)), BasicAuthResult::BadPassword);
  EXPECT_EQ(v.cryptRuns(), 0u);
}

TEST(BasicAuthVerify, RefusesOverlongPasswordsUnhashed) {
  std::string longPassword(BasicAuthVerifier::kMaxPasswordSize + 1, 'a');
  auto creds = users({{"alice", makeHash("$6$", 1000, longPassword)}});
  BasicAuthVerifier v;
  EXPECT_EQ(v.verify(creds, "alice", longPassword), BasicAuthResult::BadPassword);
  EXPECT_EQ(v.cryptRuns(), 0u);
}

TEST(BasicAuthVerify, UnusableStoredHashesNeverMatch) {
  auto creds = users({{"a", "!"}, {"b", "*"}, {"c", "plaintext"}, {"d", ""}, {"e", "$2b$04$"}});
  BasicAuthVerifier v;
  for (const char* user : {"a", "b", "c", "d", "e"}) {
    EXPECT_EQ(v.verify(creds, user, "plaintext"), BasicAuthResult::BadPassword) << user;
    EXPECT_EQ(v.verify(creds, user, ""), BasicAuthResult::BadPassword) << user;
    EXPECT_EQ(v.verify(creds, user, "*"), BasicAuthResult::BadPassword) << user;
  }
}

}  // namespace
}  // namespace ringlb::l7
