// Specification of JWT verification: tokens signed here with keys made here.
#include "l7/gateway/jwt.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "l7/gateway/base64url.h"
#include "l7/gateway/jwt_sign.h"

namespace ringlb::l7::jwt_test {
namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

constexpr int64_t kNow = 1'700'000'000;
const system_clock::time_point now{seconds(kNow)};

std::shared_ptr<EVP_PKEY> owned(EVP_PKEY* pkey) { return {pkey, EVP_PKEY_free}; }

std::shared_ptr<EVP_PKEY> rsaKey() {
  static auto key = owned(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  return key;
}

std::shared_ptr<EVP_PKEY> ecKey() {
  static auto key = owned(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  return key;
}

std::string publicDer(EVP_PKEY* pkey) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey, &der);
  std::string out(reinterpret_cast<char*>(der), len > 0 ? len : 0);
  OPENSSL_free(der);
  return out;
}

std::string publicPem(EVP_PKEY* pkey) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), pkey);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, len);
}

// What the JWKS loader would hold: the public half only.
std::shared_ptr<EVP_PKEY> publicOnly(EVP_PKEY* pkey) {
  std::string der = publicDer(pkey);
  auto p = reinterpret_cast<const unsigned char*>(der.data());
  return owned(d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size())));
}

config::JsonWebKey hsKey(std::string kid, std::string secret) {
  return {std::move(kid), "HS256", std::move(secret), nullptr};
}
config::JsonWebKey signerOf(JwsAlg alg, std::shared_ptr<EVP_PKEY> pkey) {
  return {"", std::string(jwsAlgName(alg)), "", std::move(pkey)};
}

class JwtVerify : public ::testing::Test {
 protected:
  JwtVerify() {
    keys_.push_back(hsKey("hs1", "first secret, long enough"));
    keys_.push_back(hsKey("hs2", "second secret"));
    keys_.push_back({"rsa1", "RS256", "", publicOnly(rsaKey().get())});
    keys_.push_back({"ec1", "ES256", "", publicOnly(ecKey().get())});
  }

  JwtVerdict verify(const std::string& token) { return verifyJwt(token, keys_, policy_, now); }

  std::string hs(const std::string& header, const std::string& payload,
                 const std::string& secret = "first secret, long enough") {
    return signJws(JwsAlg::HS256, hsKey("", secret), header, payload);
  }

  std::vector<config::JsonWebKey> keys_;
  JwtPolicy policy_;
};

TEST_F(JwtVerify, AcceptsHs256) {
  JwtVerdict v = verify(hs(R"({"alg":"HS256","kid":"hs1","typ":"JWT"})", R"({"sub":"alice"})"));
  EXPECT_EQ(v.error, JwtError::None);
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.subject, "alice");
}

TEST_F(JwtVerify, AcceptsRs256SignedWithTheRsaPrivateKey) {
  std::string token = signJws(JwsAlg::RS256, signerOf(JwsAlg::RS256, rsaKey()),
                              R"({"alg":"RS256","kid":"rsa1"})", R"({"sub":"bob"})");
  JwtVerdict v = verify(token);
  EXPECT_EQ(v.error, JwtError::None);
  EXPECT_EQ(v.subject, "bob");
}

TEST_F(JwtVerify, AcceptsEs256WithRawSignature) {
  std::string token = signJws(JwsAlg::ES256, signerOf(JwsAlg::ES256, ecKey()),
                              R"({"alg":"ES256","kid":"ec1"})", R"({"sub":"carol"})");
  std::string sig = *decodeBase64Url(token.substr(token.rfind('.') + 1));
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_EQ(verify(token).error, JwtError::None);
}

TEST_F(JwtVerify, RefusesEs256WithADerSignature) {
  std::string token = signJws(JwsAlg::RS256, signerOf(JwsAlg::RS256, ecKey()),
                              R"({"alg":"ES256","kid":"ec1"})", "{}");  // DER ECDSA
  ASSERT_FALSE(token.empty());
  EXPECT_EQ(verify(token).error, JwtError::BadSignature);
}

TEST_F(JwtVerify, WithoutKidEveryKeyOfTheAlgIsTried) {
  EXPECT_EQ(verify(hs(R"({"alg":"HS256"})", "{}", "second secret")).error, JwtError::None);
  EXPECT_EQ(verify(hs(R"({"alg":"HS256"})", "{}", "nobody's")).error, JwtError::BadSignature);
}

TEST_F(JwtVerify, TheKidChoosesTheKey) {
  EXPECT_EQ(verify(hs(R"({"alg":"HS256","kid":"hs2"})", "{}", "second secret")).error,
            JwtError::None);
  // Right secret of another kid: only hs1's key is used.
  EXPECT_EQ(verify(hs(R"({"alg":"HS256","kid":"hs1"})", "{}", "second secret")).error,
            JwtError::BadSignature);
}

TEST_F(JwtVerify, RefusesAnUnknownKid) {
  EXPECT_EQ(verify(hs(R"({"alg":"HS256","kid":"nope"})", "{}")).error, JwtError::UnknownKid);
  EXPECT_EQ(verify(hs(R"({"alg":"HS256","kid":""})", "{}")).error, JwtError::UnknownKid);
  EXPECT_EQ(verify(hs(R"({"alg":"HS256","kid":7})", "{}")).error, JwtError::Malformed);
}

TEST_F(JwtVerify, RefusesHs256SignedWithAnRsaPublicKeysBytes) {
  // The classic confusion: the verifier's public key used as an HMAC secret.
  for (const std::string& secret : {publicPem(rsaKey().get()), publicDer(rsaKey().get())}) {
    EXPECT_EQ(verify(hs(R"({"alg":"HS256","kid":"rsa1"})", "{}", secret)).error,
              JwtError::AlgRefused);
  }
  // Without a kid only HS256 keys are tried.
  keys_.erase(keys_.begin(), keys_.begin() + 2);
  EXPECT_EQ(verify(hs(R"({"alg":"HS256"})", "{}", publicPem(rsaKey().get()))).error,
            JwtError::AlgRefused);
}

TEST_F(JwtVerify, RefusesAKeyWhoseMaterialDoesNotFitItsAlg) {
  // A JWKS entry claiming ES256 for an RSA key never verifies.
  keys_ = {{"k", "ES256", "", publicOnly(rsaKey().get())}, {"h", "HS256", "", nullptr}};
  std::string token = signJws(JwsAlg::RS256, signerOf(JwsAlg::RS256, rsaKey()),
                              R"({"alg":"ES256","kid":"k"})", "{}");
  EXPECT_EQ(verify(token).error, JwtError::BadSignature);
  // An empty HMAC secret never verifies either.
  EXPECT_EQ(verify(hs(R"({"alg":"HS256","kid":"h"})", "{}", "")).error, JwtError::BadSignature);
}

TEST_F(JwtVerify, RefusesAlgNoneAndOthers) {
  std::string header = encodeBase64Url(R"({"alg":"none"})");
  std::string payload = encodeBase64Url(R"({"sub":"admin"})");
  EXPECT_EQ(verify(header + "." + payload + ".").error, JwtError::AlgRefused);
  EXPECT_EQ(verify(hs(R"({"alg":"none"})", "{}")).error, JwtError::AlgRefused);
  EXPECT_EQ(verify(hs(R"({"alg":"hs256"})", "{}")).error, JwtError::AlgRefused);
  EXPECT_EQ(verify(hs(R"({"alg":"HS512"})", "{}")).error, JwtError::AlgRefused);
  EXPECT_EQ(verify(hs(R"({"alg":"PS256"})", "{}")).error, JwtError::AlgRefused);
  EXPECT_EQ(verify(hs(R"({"typ":"JWT"})", "{}")).error, JwtError::Malformed);
  EXPECT_EQ(verify(hs(R"({"alg":null})", "{}")).error, JwtError::Malformed);
}

TEST_F(JwtVerify, RefusesWrongPartCounts) {
  std::string token = hs(R"({"alg":"HS256"})", "{}");
  EXPECT_EQ(verify(token).error, JwtError::None);
  EXPECT_EQ(verify(token.substr(0, token.rfind('.'))).error, JwtError::Malformed);
  EXPECT_EQ(verify(token + ".").error, JwtError::Malformed);
  EXPECT_EQ(verify(token + ".x").error, JwtError::Malformed);
  EXPECT_EQ(verify("").error, JwtError::Malformed);
  EXPECT_EQ(verify("..").error, JwtError::Malformed);
  EXPECT_EQ(verify("abc").error, JwtError::Malformed);
}

TEST_F(JwtVerify, RefusesBadBase64Url) {
  std::string token = hs(R"({"alg":"HS256"})", "{}");
  EXPECT_EQ(verify(token + "=").error, JwtError::Malformed);
  ASSERT_EQ(token.size() - token.rfind('.') - 1, 43u);           // 32 bytes
  EXPECT_EQ(verify(token + "xx").error, JwtError::Malformed);    // 45: impossible length
  EXPECT_EQ(verify(token + "x").error, JwtError::BadSignature);  // 33 bytes
  EXPECT_EQ(verify(std::string("+").append(token)).error, JwtError::Malformed);
  std::string padded = token;
  padded.insert(padded.find('.'), 1, '=');
  EXPECT_EQ(verify(padded).error, JwtError::Malformed);
}

TEST_F(JwtVerify, RefusesTooLargeTokens) {
  std::string pad(kMaxJwtSize, 'a');
  std::string token = hs(R"({"alg":"HS256"})", R"({"pad":")" + pad + R"("})");
  EXPECT_GT(token.size(), kMaxJwtSize);
  EXPECT_EQ(verify(token).error, JwtError::Malformed);
}

std::string nested(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST_F(JwtVerify, LimitsTheNestingOfTheHeader) {
  // The top-level object is level 1.
  std::string ok = R"({"alg":"HS256","x":)" + nested(kMaxJsonDepth - 1) + "}";
  std::string deep = R"({"alg":"HS256","x":)" + nested(kMaxJsonDepth) + "}";
  std::string huge = R"({"alg":"HS256","x":)" + nested(2800) + "}";
  EXPECT_EQ(verify(hs(ok, "{}")).error, JwtError::None);
  EXPECT_EQ(verify(hs(deep, "{}")).error, JwtError::Malformed);
  std::string hugeToken = hs(huge, "{}");
  EXPECT_LE(hugeToken.size(), kMaxJwtSize);
  EXPECT_EQ(verify(hugeToken).error, JwtError::Malformed);
}

TEST_F(JwtVerify, LimitsTheNestingOfThePayload) {
  std::string deep = R"({"x":)" + std::string(kMaxJsonDepth, '{') + "}" +
                     std::string(kMaxJsonDepth - 1, '}') + "}";
  EXPECT_EQ(verify(hs(R"({"alg":"HS256"})", deep)).error, JwtError::Malformed);
}

TEST_F(JwtVerify, RefusesHeadersAndPayloadsThatAreNotObjects) {
  EXPECT_EQ(verify(hs(R"(["alg","HS256"])", "{}")).error, JwtError::Malformed);
  EXPECT_EQ(verify(hs(R"("HS256")", "{}")).error, JwtError::Malformed);
  EXPECT_EQ(verify(hs(R"({"alg":"HS256"} x)", "{}")).error, JwtError::Malformed);
  EXPECT_EQ(verify(hs(R"({"alg":"HS256"})", "[]")).error, JwtError::Malformed);
  EXPECT_EQ(verify(hs(R"({"alg":"HS256"})", "")).error, JwtError::Malformed);
  EXPECT_EQ(verify(hs(R"({"alg":"HS256"})", "{\"sub\":\"\xff\"}")).error, JwtError::Malformed);
}

TEST_F(JwtVerify, RefusesCriticalExtensions) {
  EXPECT_EQ(verify(hs(R"({"alg":"HS256","crit":["exp"],"exp":1})", "{}")).error,
            JwtError::Malformed);
}

TEST_F(JwtVerify, TheLastOfDuplicateMembersCounts) {
  EXPECT_EQ(verify(hs(R"({"alg":"HS256","alg":"none"})", "{}")).error, JwtError::AlgRefused);
  JwtVerdict v = verify(hs(R"({"alg":"none","alg":"HS256"})", R"({"sub":"a","sub":"b"})"));
  EXPECT_EQ(v.error, JwtError::None);
  EXPECT_EQ(v.subject, "b");
}

TEST_F(JwtVerify, RefusesEveryAlteredCharacter) {
  std::string token = hs(R"({"alg":"HS256","kid":"hs1"})", R"({"sub":"alice","adm":false})");
  for (size_t i = 0; i < token.size(); ++i) {
    for (char c : {'A', 'B', 'g', '-', '_', '.', '='}) {
      if (token[i] == c) continue;
      std::string altered = token;
      altered[i] = c;
      EXPECT_FALSE(verify(altered).ok()) << altered;
    }
  }
}

TEST_F(JwtVerify, RefusesAnAlteredPayloadWithBadSignature) {
  std::string token = hs(R"({"alg":"HS256"})", R"({"sub":"alice"})");
  std::string forged = hs(R"({"alg":"HS256"})", R"({"sub":"admin"})");
  std::string spliced = token.substr(0, token.find('.')) +
                        forged.substr(forged.find('.'), forged.rfind('.') - forged.find('.')) +
                        token.substr(token.rfind('.'));
  EXPECT_EQ(verify(spliced).error, JwtError::BadSignature);
}

TEST_F(JwtVerify, ChecksExpWithSkew) {
  auto at = [&](int64_t exp) {
    return verify(hs(R"({"alg":"HS256"})", R"({"exp":)" + std::to_string(exp) + "}")).error;
  };
  EXPECT_EQ(at(kNow + 3600), JwtError::None);
  EXPECT_EQ(at(kNow - 30), JwtError::None);  // within the 60 s skew
  EXPECT_EQ(at(kNow - 60), JwtError::Expired);
  EXPECT_EQ(at(kNow - 3600), JwtError::Expired);
  EXPECT_EQ(verify(hs(R"({"alg":"HS256"})", R"({"exp":"soon"})")).error, JwtError::Malformed);
  EXPECT_EQ(verify(hs(R"({"alg":"HS256"})", R"({"exp":1.6e9})")).error, JwtError::Expired);
  EXPECT_EQ(verify(hs(R"({"alg":"HS256"})", R"({"exp":1.7e9})")).error, JwtError::None);
}

TEST_F(JwtVerify, ChecksNbfWithSkew) {
  auto at = [&](int64_t nbf) {
    return verify(hs(R"({"alg":"HS256"})", R"({"nbf":)" + std::to_string(nbf) + "}")).error;
  };
  EXPECT_EQ(at(kNow - 10), JwtError::None);
  EXPECT_EQ(at(kNow + 60), JwtError::None);
  EXPECT_EQ(at(kNow + 61), JwtError::NotYetValid);
  EXPECT_EQ(verify(hs(R"({"alg":"HS256"})", R"({"nbf":true})")).error, JwtError::Malformed);
}

TEST_F(JwtVerify, ChecksTheIssuerWhenConfigured) {
  std::string token = hs(R"({"alg":"HS256"})", R"({"iss":"https://id.example.com"})");
  EXPECT_EQ(verify(token).error, JwtError::None);
  policy_.issuer = "https://id.example.com";
  EXPECT_EQ(verify(token).error, JwtError::None);
  policy_.issuer = "https://evil.example.com";
  EXPECT_EQ(verify(token).error, JwtError::WrongIssuer);
  policy_.issuer = "https://id.example.com";
  EXPECT_EQ(verify(hs(R"({"alg":"HS256"})", "{}")).error, JwtError::WrongIssuer);
  EXPECT_EQ(verify(hs(R"({"alg":"HS256"})", R"({"iss":["https://id.example.com"]})")).error,
            JwtError::WrongIssuer);
}

TEST_F(JwtVerify, ChecksTheAudienceWhenConfigured) {
  policy_.audience = "api";
  auto with = [&](const std::string& payload) {
    return verify(hs(R"({"alg":"HS256"})", payload)).error;
  };
  EXPECT_EQ(with(R"({"aud":"api"})"), JwtError::None);
  EXPECT_EQ(with(R"({"aud":["web",1,"api"]})"), JwtError::None);
  EXPECT_EQ(with(R"({"aud":"web"})"), JwtError::WrongAudience);
  EXPECT_EQ(with(R"({"aud":["web"]})"), JwtError::WrongAudience);
  EXPECT_EQ(with(R"({"aud":[]})"), JwtError::WrongAudience);
  EXPECT_EQ(with(R"({"aud":{"api":1}})"), JwtError::WrongAudience);
  EXPECT_EQ(with("{}"), JwtError::WrongAudience);
}

TEST_F(JwtVerify, ClaimsBecomeHeaderValues) {
  std::vector<config::ClaimHeader> map = {{"sub", "X-User"},      {"n", "X-N"}, {"f", "X-F"},
                                          {"b", "X-B"},           {"o", "X-O"}, {"z", "X-Z"},
                                          {"absent", "X-Absent"}, {"a", "X-A"}};
  policy_.claimsToHeaders = map;
  JwtVerdict v =
      verify(hs(R"({"alg":"HS256"})",
                R"({"sub":"alice","n":42,"f":1.5,"b":true,"o":{"x":1},"z":null,"a":[1]})"));
  ASSERT_EQ(v.error, JwtError::None);
  ASSERT_EQ(v.headers.size(), 4u);
  EXPECT_EQ(v.headers[0].name, "X-User");
  EXPECT_EQ(v.headers[0].value, "alice");
  EXPECT_EQ(v.headers[1].value, "42");
  EXPECT_EQ(v.headers[2].value, "1.5");
  EXPECT_EQ(v.headers[3].name, "X-B");
  EXPECT_EQ(v.headers[3].value, "true");
}

TEST_F(JwtVerify, ValuesThatCouldSplitAHeaderAreSkipped) {
  std::vector<config::ClaimHeader> map = {{"sub", "X-User"}, {"r", "X-R"}, {"t", "X-T"}};
  policy_.claimsToHeaders = map;
  JwtVerdict v = verify(
      hs(R"({"alg":"HS256"})", R"({"sub":"a\r\nX-Admin: 1","r":"x\u0000y","t":"tab\there"})"));
  ASSERT_EQ(v.error, JwtError::None);
  EXPECT_EQ(v.subject, "");
  ASSERT_EQ(v.headers.size(), 1u);
  EXPECT_EQ(v.headers[0].value, "tab\there");
}

TEST_F(JwtVerify, AFailureCarriesNoClaims) {
  std::vector<config::ClaimHeader> map = {{"sub", "X-User"}};
  policy_.claimsToHeaders = map;
  JwtVerdict v = verify(hs(R"({"alg":"HS256"})", R"({"sub":"alice","exp":1})"));
  EXPECT_EQ(v.error, JwtError::Expired);
  EXPECT_TRUE(v.subject.empty());
  EXPECT_TRUE(v.headers.empty());
}

TEST_F(JwtVerify, SurvivesRandomInput) {
  std::mt19937 rng(7);
  std::string alphabet = "ABCxyz019-_.=+/ \"{}[]:,\xff";
  alphabet.push_back('\0');
  for (int i = 0; i < 3000; ++i) {
    std::string token;
    if (i % 2 == 0) {
      size_t len = rng() % 200;
      for (size_t j = 0; j < len; ++j) token.push_back(alphabet[rng() % alphabet.size()]);
    } else {
      // Valid parts around random JSON text.
      std::string json;
      size_t len = rng() % 60;
      for (size_t j = 0; j < len; ++j) json.push_back(alphabet[rng() % alphabet.size()]);
      token = i % 4 == 1 ? hs(json, R"({"sub":"a"})") : hs(R"({"alg":"HS256"})", json);
      if (!json.empty() && json.front() == '{') continue;  // might be a valid object
    }
    EXPECT_FALSE(verify(token).ok()) << token;
  }
}

TEST_F(JwtVerify, VerifiesOnSeveralThreadsAtOnce) {
  std::vector<std::string> tokens = {
      signJws(JwsAlg::RS256, signerOf(JwsAlg::RS256, rsaKey()), R"({"alg":"RS256"})", "{}"),
      signJws(JwsAlg::ES256, signerOf(JwsAlg::ES256, ecKey()), R"({"alg":"ES256"})", "{}"),
      hs(R"({"alg":"HS256"})", "{}")};
  std::vector<std::thread> threads;
  std::vector<int> accepted(4, 0);
  for (size_t t = 0; t < accepted.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 30; ++i) {
        accepted[t] += verifyJwt(tokens[i % tokens.size()], keys_, policy_, now).ok() ? 1 : 0;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int n : accepted) EXPECT_EQ(n, 30);
}

TEST(JwtErrorName, NamesEveryError) {
  EXPECT_EQ(jwtErrorName(JwtError::None), "");
  EXPECT_EQ(jwtErrorName(JwtError::Malformed), "malformed");
  EXPECT_EQ(jwtErrorName(JwtError::AlgRefused), "alg_refused");
  EXPECT_EQ(jwtErrorName(JwtError::UnknownKid), "unknown_kid");
  EXPECT_EQ(jwtErrorName(JwtError::BadSignature), "bad_signature");
  EXPECT_EQ(jwtErrorName(JwtError::Expired), "expired");
  EXPECT_EQ(jwtErrorName(JwtError::NotYetValid), "not_yet_valid");
  EXPECT_EQ(jwtErrorName(JwtError::WrongIssuer), "wrong_issuer");
  EXPECT_EQ(jwtErrorName(JwtError::WrongAudience), "wrong_audience");
}

}  // namespace
}  // namespace ringlb::l7::jwt_test
