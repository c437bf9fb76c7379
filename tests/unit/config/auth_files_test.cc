#include "config/auth_files.h"

#include <gtest/gtest.h>

#include "tests/unit/config/auth_test_support.h"
#include "tests/unit/config/config_test_support.h"

namespace ringlb::config {
namespace {

using testing::base64UrlEncode;
using testing::cryptHash;
using testing::kDemoKeyDigest;
using testing::TempDir;

std::string htpasswdError(const std::string& text) {
  AuthCredentials out;
  return parseHtpasswd(text, "users.htpasswd", out);
}

std::string apiKeysError(const std::string& text) {
  AuthCredentials out;
  return parseApiKeys(text, "keys.txt", out);
}

std::string jwksError(const std::string& text) {
  AuthCredentials out;
  return parseJwks(text, "jwks.json", out);
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// ---- htpasswd ----

TEST(AuthHtpasswd, AcceptsBcryptSha512CryptAndYescrypt) {
  std::string text = "# users\n\nalice:" + cryptHash("a", "$2b$") +
                     "\nbob:" + cryptHash("b", "$2y$") + "\r\ncarol:" + cryptHash("c", "$2a$") +
                     "\ndave:" + cryptHash("d", "$6$") + "\neve:" + cryptHash("e", "$6$", 10000) +
                     "\nfrank:" + cryptHash("f", "$y$") + "\n";
  AuthCredentials out;
  EXPECT_EQ(parseHtpasswd(text, "users.htpasswd", out), "");
  ASSERT_EQ(out.users.size(), 6u);
  EXPECT_TRUE(out.users.at("alice").starts_with("$2b$04$"));
  EXPECT_TRUE(out.users.at("eve").starts_with("$6$rounds=10000$"));
  EXPECT_TRUE(out.users.at("frank").starts_with("$y$"));
  // The stored hash is the one crypt(3) verifies against.
  crypt_data data{};
  EXPECT_EQ(crypt_r("f", out.users.at("frank").c_str(), &data), out.users.at("frank"));
}

TEST(AuthHtpasswd, RefusesPlainTextWithFileAndLineButNotThePassword) {
  std::string error = htpasswdError("alice:" + cryptHash("a", "$2b$") + "\nbob:hunter2\n");
  EXPECT_TRUE(
      error.starts_with("users.htpasswd:2: user \"bob\": not a password hash (plain text "
                        "is refused)"))
      << error;
  EXPECT_FALSE(contains(error, "hunter2")) << error;
}

TEST(AuthHtpasswd, RefusesOtherSchemesByName) {
  EXPECT_TRUE(contains(htpasswdError("a:$apr1$abcdefgh$0123456789012345678901\n"),
                       "users.htpasswd:1: user \"a\": APR1-MD5 ($apr1$) is refused"));
  EXPECT_TRUE(contains(htpasswdError("a:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=\n"),
                       "unsalted SHA-1 ({SHA}) is refused"));
  EXPECT_TRUE(contains(htpasswdError("a:" + cryptHash("a", "$5$") + "\n"),
                       "the crypt scheme \"$5$\" is refused"));
  EXPECT_TRUE(contains(htpasswdError("a:" + cryptHash("a", "$1$") + "\n"),
                       "the crypt scheme \"$1$\" is refused"));
}

TEST(AuthHtpasswd, RefusesCutHashes) {
  std::string bcrypt = cryptHash("a", "$2y$");
  EXPECT_EQ(htpasswdError("a:" + bcrypt.substr(0, 59) + "\n"),
            "users.htpasswd:1: user \"a\": malformed bcrypt hash (cut or edited?)");
  std::string sha = cryptHash("a", "$6$");
  EXPECT_TRUE(contains(htpasswdError("a:" + sha.substr(0, sha.size() - 1)),
                       "malformed SHA-512-crypt hash"));
  std::string yes = cryptHash("a", "$y$");
  EXPECT_TRUE(contains(htpasswdError("a:" + yes + "x"), "malformed yescrypt hash"));
}

TEST(AuthHtpasswd, RefusesMalformedLines) {
  std::string hash = cryptHash("a", "$2b$");
  EXPECT_EQ(htpasswdError("alice\n"), "users.htpasswd:1: expected user:HASH");
  EXPECT_EQ(htpasswdError(":" + hash + "\n"),
            "users.htpasswd:1: the user name is empty or has spaces or control bytes");
  EXPECT_EQ(htpasswdError("a:" + hash + "\n\na:" + hash + "\n"),
            "users.htpasswd:3: user \"a\" is listed twice");
  EXPECT_EQ(htpasswdError("# nobody\n"), "users.htpasswd: no users (lines of user:HASH)");
}

// ---- API keys ----

TEST(AuthApiKeys, ReadsDigestsWithAndWithoutNames) {
  std::string upper(kDemoKeyDigest);
  for (char& c : upper) c = static_cast<char>(toupper(c));
  std::string other(64, 'a');
  AuthCredentials out;
  EXPECT_EQ(parseApiKeys("# partners\n\ndemo:" + upper + "\n  " + other + "  \n", "keys.txt", out),
            "");
  ASSERT_EQ(out.apiKeys.size(), 2u);
  EXPECT_EQ(out.apiKeys[0].first, "demo");
  EXPECT_EQ(out.apiKeys[0].second[0], 0xc4);
  EXPECT_EQ(out.apiKeys[0].second[31], 0x5c);
  EXPECT_EQ(out.apiKeys[1].first, "");
  EXPECT_EQ(out.apiKeys[1].second[0], 0xaa);
}

TEST(AuthApiKeys, RefusesBadDigestsWithoutShowingThem) {
  std::string keys = "ok:";
  keys += kDemoKeyDigest;
  keys += "\nraw:s3cr3t-key\n";
  std::string error = apiKeysError(keys);
  EXPECT_EQ(error,
            "keys.txt:2: expected a SHA-256 hex digest (64 hex characters), got 10 characters; "
            "store the digest, not the key: printf %s KEY | sha256sum");
  EXPECT_TRUE(contains(apiKeysError(std::string(63, 'a') + "g\n"), "keys.txt:1: expected"));
  EXPECT_TRUE(contains(apiKeysError(std::string(65, 'a') + "\n"), "got 65 characters"));
}

TEST(AuthApiKeys, RefusesDuplicatesEmptyNamesAndEmptyFiles) {
  std::string digest(kDemoKeyDigest);
  EXPECT_EQ(apiKeysError("a:" + digest + "\nb:" + digest + "\n"),
            "keys.txt:2: the same digest as line 1");
  EXPECT_EQ(apiKeysError(":" + digest + "\n"),
            "keys.txt:1: the name before ':' is empty or has spaces or control bytes");
  EXPECT_EQ(apiKeysError("\n# none yet\n"),
            "keys.txt: no keys (lines of a SHA-256 hex digest, or name:digest)");
}

// ---- JWKS ----

TEST(AuthJwks, ReadsAnOctKey) {
  AuthCredentials out;
  ASSERT_EQ(parseJwks(testing::octJwks(), "jwks.json", out), "");
  ASSERT_EQ(out.jwks.size(), 1u);
  EXPECT_EQ(out.jwks[0].kid, "k1");
  EXPECT_EQ(out.jwks[0].alg, "HS256");
  EXPECT_EQ(out.jwks[0].secret, testing::kOctSecret);
  EXPECT_FALSE(out.jwks[0].publicKey);
}

TEST(AuthJwks, ReadsRsa2048AndP256KeysAsTheSamePublicKeys) {
  auto rsa = testing::rsaKey(2048);
  auto ec = testing::p256Key();
  ASSERT_TRUE(rsa && ec);
  std::string text = R"({"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "r", )" +
                     testing::rsaMembers(rsa.get()) + R"(}, {"kty": "EC", )" +
                     testing::p256Members(ec.get()) + "}]}";
  AuthCredentials out;
  ASSERT_EQ(parseJwks(text, "jwks.json", out), "");
  ASSERT_EQ(out.jwks.size(), 2u);
  EXPECT_EQ(out.jwks[0].alg, "RS256");
  EXPECT_EQ(out.jwks[0].kid, "r");
  ASSERT_TRUE(out.jwks[0].publicKey);
  EXPECT_EQ(EVP_PKEY_eq(out.jwks[0].publicKey.get(), rsa.get()), 1);
  EXPECT_EQ(out.jwks[1].alg, "ES256");
  EXPECT_EQ(out.jwks[1].kid, "");
  ASSERT_TRUE(out.jwks[1].publicKey);
  EXPECT_EQ(EVP_PKEY_eq(out.jwks[1].publicKey.get(), ec.get()), 1);
}

TEST(AuthJwks, RefusesANumberTooLargeForADoubleWithoutThrowing) {
  // Found by tests/fuzz/gateway_auth_fuzz.cc: nlohmann throws out_of_range.
  EXPECT_TRUE(contains(jwksError(R"({"keys": 7E77777})"), "jwks.json: not a usable JSON document"));
}

TEST(AuthJwks, RefusesRsaKeysUnder2048Bits) {
  auto rsa = testing::rsaKey(1024);
  ASSERT_TRUE(rsa);
  EXPECT_EQ(jwksError(R"({"keys": [{"kty": "RSA", )" + testing::rsaMembers(rsa.get()) + "}]}"),
            "jwks.json: keys[0]: an RS256 key needs 2048 to 16384 bits (this one has 1024)");
}

TEST(AuthJwks, RefusesAnEcPointOffTheCurve) {
  std::string x = base64UrlEncode(std::string(32, '\x01'));
  EXPECT_EQ(jwksError(R"({"keys": [{"kty": "EC", "crv": "P-256", "x": ")" + x + R"(", "y": ")" + x +
                      "\"}]}"),
            "jwks.json: keys[0]: \"x\" and \"y\" are not a point on P-256");
  EXPECT_EQ(jwksError(R"({"keys": [{"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}]})"),
            "jwks.json: keys[0]: EC keys must have \"crv\": \"P-256\" (ES256)");
}

TEST(AuthJwks, RefusesAnAlgThatDoesNotGoWithTheKty) {
  std::string k = base64UrlEncode(std::string(testing::kOctSecret));
  EXPECT_EQ(
      jwksError(R"({"keys": [{"kty": "oct", "kid": "a", "alg": "RS256", "k": ")" + k + "\"}]}"),
      "jwks.json: keys[0] (kid \"a\"): \"alg\" \"RS256\" does not go with \"kty\" \"oct\" "
      "(only HS256)");
  EXPECT_TRUE(contains(jwksError(R"({"keys": [{"kty": "oct", "alg": "none", "k": ")" + k + "\"}]}"),
                       "\"alg\" \"none\" does not go with"));
  EXPECT_TRUE(
      contains(jwksError(R"({"keys": [{"kty": "oct", "alg": "HS512", "k": ")" + k + "\"}]}"),
               "\"alg\" \"HS512\" does not go with"));
}

TEST(AuthJwks, RefusesBadBase64AndShortSecrets) {
  EXPECT_EQ(jwksError(R"({"keys": [{"kty": "oct", "k": "ab$d"}]})"),
            "jwks.json: keys[0]: \"k\" is not valid base64url");
  EXPECT_EQ(jwksError(R"({"keys": [{"kty": "oct", "k": "abcde"}]})"),
            "jwks.json: keys[0]: \"k\" is not valid base64url");
  EXPECT_EQ(jwksError(R"({"keys": [{"kty": "oct", "k": 5}]})"),
            "jwks.json: keys[0]: needs \"k\" (a base64url string)");
  EXPECT_EQ(jwksError(R"({"keys": [{"kty": "oct", "k": ")" + base64UrlEncode("short") + "\"}]}"),
            "jwks.json: keys[0]: an HS256 key needs at least 32 bytes (this one has 5)");
}

TEST(AuthJwks, RefusesNonJsonWithTheLine) {
  EXPECT_EQ(jwksError("{\"keys\": [\n  {\"kty\": oct}\n]}"),
            "jwks.json:2: not valid JSON: syntax error while parsing value - invalid literal");
  EXPECT_TRUE(jwksError("").starts_with("jwks.json:1: not valid JSON:"));
}

TEST(AuthJwks, SurvivesDeepNesting) {
  std::string open(500000, '[');
  EXPECT_TRUE(jwksError(open).starts_with("jwks.json:1: not valid JSON:"));
  std::string deep =
      R"({"x": )" + open + std::string(open.size(), ']') + ", " + testing::octJwks().substr(1);
  AuthCredentials out;
  EXPECT_EQ(parseJwks(deep, "jwks.json", out), "");
}

TEST(AuthJwks, RefusesDocumentsWithoutKeys) {
  EXPECT_EQ(jwksError(R"({"kty": "oct"})"),
            "jwks.json: expected a JWKS document: {\"keys\": [...]}");
  EXPECT_EQ(jwksError("[]"), "jwks.json: expected a JWKS document: {\"keys\": [...]}");
  EXPECT_EQ(jwksError(R"({"keys": []})"),
            "jwks.json: no usable key (oct, RSA or EC P-256 with \"use\": \"sig\" or no use)");
}

TEST(AuthJwks, RefusesUnknownKty) {
  EXPECT_EQ(jwksError(R"({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA"}]})"),
            "jwks.json: keys[0]: \"kty\" \"OKP\" is not supported (oct, RSA or EC)");
  EXPECT_EQ(jwksError(R"({"keys": [{"k": "AA"}]})"),
            "jwks.json: keys[0]: needs \"kty\" (oct, RSA or EC)");
  EXPECT_EQ(jwksError(R"({"keys": ["oct"]})"), "jwks.json: keys[0]: is not a JSON object");
}

TEST(AuthJwks, SkipsKeysNotForSignatures) {
  auto rsa = testing::rsaKey(2048);
  ASSERT_TRUE(rsa);
  std::string enc =
      R"({"kty": "RSA", "use": "enc", "alg": "RSA-OAEP", )" + testing::rsaMembers(rsa.get()) + "}";
  EXPECT_EQ(jwksError(R"({"keys": [)" + enc + "]}"),
            "jwks.json: no usable key (oct, RSA or EC P-256 with \"use\": \"sig\" or no use)");
  std::string oct = testing::octJwks();
  AuthCredentials out;
  EXPECT_EQ(parseJwks(R"({"keys": [)" + enc + ", " + oct.substr(10), "jwks.json", out), "");
  EXPECT_EQ(out.jwks.size(), 1u);
}

TEST(AuthJwks, RefusesTwoKeysWithTheSameKid) {
  std::string k = base64UrlEncode(std::string(testing::kOctSecret));
  std::string key = R"({"kty": "oct", "kid": "same", "k": ")" + k + "\"}";
  EXPECT_EQ(jwksError(R"({"keys": [)" + key + ", " + key + "]}"),
            "jwks.json: keys[1] (kid \"same\"): another key has the same \"kid\" and algorithm");
}

// ---- files ----

TEST(AuthFiles, ReadsEachKindFromDisk) {
  TempDir dir;
  auto users = readAuthFile(
      AuthType::Basic, dir.write("users.htpasswd", "demo:" + cryptHash("demo", "$2y$") + "\n"));
  ASSERT_EQ(users.error, "");
  EXPECT_EQ(users.credentials->users.count("demo"), 1u);
  auto keys = readAuthFile(AuthType::ApiKey, dir.write("keys.txt", std::string(kDemoKeyDigest)));
  ASSERT_EQ(keys.error, "");
  EXPECT_EQ(keys.credentials->apiKeys.size(), 1u);
  auto jwks = readAuthFile(AuthType::Jwt, dir.write("jwks.json", testing::octJwks()));
  ASSERT_EQ(jwks.error, "");
  EXPECT_EQ(jwks.credentials->jwks.size(), 1u);
}

TEST(AuthFiles, NamesTheFileInEveryError) {
  TempDir dir;
  std::string file = dir.write("users.htpasswd", "\nbob:secret\n");
  auto result = readAuthFile(AuthType::Basic, file);
  EXPECT_FALSE(result.credentials);
  EXPECT_TRUE(result.error.starts_with(file + ":2: user \"bob\"")) << result.error;
  auto missing = readAuthFile(AuthType::Basic, (dir.path() / "none").string());
  EXPECT_TRUE(contains(missing.error, "cannot open: No such file or directory")) << missing.error;
}

TEST(AuthFiles, RefusesAJwksOverOneMebibyte) {
  TempDir dir;
  std::string big = testing::octJwks();
  big.insert(1, std::string(1 << 20, ' '));
  auto result = readAuthFile(AuthType::Jwt, dir.write("jwks.json", big));
  EXPECT_FALSE(result.credentials);
  EXPECT_TRUE(contains(result.error, "jwks.json: larger than 1MiB")) << result.error;
}

}  // namespace
}  // namespace ringlb::config
