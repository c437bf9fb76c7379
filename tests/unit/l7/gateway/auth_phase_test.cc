// Specification of the authentication phase: one route config and the
// request's fields in, the verdict, the 401 challenge and the headers to add
// out.
#include "l7/gateway/auth_phase.h"

#include <crypt.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "l7/gateway/auth_throttle.h"
#include "l7/gateway/jwt_sign.h"
#include "tests/unit/l7/gateway/auth_test_hashes.h"

namespace ringlb::l7::auth_phase_test {
namespace {

using testing::bcrypt;
using testing::sha256;

using std::chrono::seconds;
using std::chrono::system_clock;
using Fields = std::vector<http::HeaderView>;

const system_clock::time_point now{seconds(1'700'000'000)};

config::AuthConfig basicRoute() {
  config::AuthConfig auth;
  auth.type = config::AuthType::Basic;
  auth.realm = "api";
  auto creds = std::make_shared<config::AuthCredentials>();
  creds->users["alice"] = bcrypt("wonderland");
  auth.credentials = creds;
  return auth;
}

config::AuthConfig apiKeyRoute() {
  config::AuthConfig auth;
  auth.type = config::AuthType::ApiKey;
  auth.realm = "api";
  auto creds = std::make_shared<config::AuthCredentials>();
  creds->apiKeys.emplace_back("ci", sha256("k-123"));
  auth.credentials = creds;
  return auth;
}

const config::JsonWebKey& ecSigner() {
  static const config::JsonWebKey key{
      "ec1", "ES256", "",
      std::shared_ptr<EVP_PKEY>(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free)};
  return key;
}

config::AuthConfig jwtRoute() {
  config::AuthConfig auth;
  auth.type = config::AuthType::Jwt;
  auth.realm = "api";
  auth.issuer = "https://id.example.com";
  auth.audience = "api";
  auth.claimsToHeaders = {{"sub", "X-User"}, {"scope", "X-Scope"}};
  auto creds = std::make_shared<config::AuthCredentials>();
  creds->jwks.push_back(ecSigner());
  creds->jwks.push_back({"hs1", "HS256", "shared secret", nullptr});
  auth.credentials = creds;
  return auth;
}

std::string es256(const std::string& payload) {
  return signJws(JwsAlg::ES256, ecSigner(), R"({"alg":"ES256","kid":"ec1"})", payload);
}

constexpr const char* kGoodClaims =
    R"({"iss":"https://id.example.com","aud":"api","sub":"alice","scope":"read","exp":1700000600})";

class AuthPhase : public ::testing::Test {
 protected:
  AuthOutcome check(const config::AuthConfig& auth, const Fields& fields) {
    return verifier_.check(auth, fields, now);
  }
  AuthVerifier verifier_;
};

TEST_F(AuthPhase, BasicLetsAGoodUserThrough) {
  auto auth = basicRoute();
  // alice:wonderland
  AuthOutcome o = check(auth, {{"authorization", "Basic YWxpY2U6d29uZGVybGFuZA=="}});
  EXPECT_TRUE(o.ok());
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.reason(), "");
  EXPECT_EQ(o.subject, "alice");
  EXPECT_TRUE(o.addHeaders.empty());
  EXPECT_TRUE(o.wwwAuthenticate.empty());
}

TEST_F(AuthPhase, BasicRefusalsNameTheirReason) {
  auto auth = basicRoute();
  auto reason = [&](const Fields& f) { return std::string(check(auth, f).reason()); };
  EXPECT_EQ(reason({}), "missing");
  EXPECT_EQ(reason({{"Authorization", ""}}), "missing");
  EXPECT_EQ(reason({{"Authorization", "Bearer abc"}}), "unsupported_scheme");
  EXPECT_EQ(reason({{"Authorization", "Basic !!"}}), "malformed");
  EXPECT_EQ(reason({{"Authorization", "Basic YWxpY2U="}}), "malformed");            // no colon
  EXPECT_EQ(reason({{"Authorization", "Basic bWFsbG9yeTp4"}}), "unknown_user");     // mallory:x
  EXPECT_EQ(reason({{"Authorization", "Basic YWxpY2U6eA=="}}), "bad_credentials");  // alice:x
  EXPECT_EQ(reason({{"Authorization", "Basic YWxpY2U6d29uZGVybGFuZA=="},
                    {"Authorization", "Basic YWxpY2U6d29uZGVybGFuZA=="}}),
            "malformed");
}

TEST_F(AuthPhase, AProxyLoginReadsProxyAuthorizationAndRefusesWith407) {
  auto auth = basicRoute();
  // alice:wonderland in Proxy-Authorization; Authorization is the origin's business.
  AuthOutcome o =
      verifier_.checkProxy(auth, Fields{{"Proxy-Authorization", "Basic YWxpY2U6d29uZGVybGFuZA=="}});
  EXPECT_TRUE(o.ok());
  EXPECT_EQ(o.subject, "alice");
  o = verifier_.checkProxy(auth, Fields{{"Authorization", "Basic YWxpY2U6d29uZGVybGFuZA=="}});
  EXPECT_EQ(o.reason(), "missing");
  EXPECT_EQ(o.status, 407);
  EXPECT_EQ(o.wwwAuthenticate, R"(Basic realm="api", charset="UTF-8")");
  o = verifier_.checkProxy(auth, Fields{{"proxy-authorization", "Basic YWxpY2U6eA=="}});  // alice:x
  EXPECT_EQ(o.reason(), "bad_credentials");
  EXPECT_EQ(o.status, 407);
  EXPECT_TRUE(o.subject.empty());
  config::AuthConfig unloaded = basicRoute();
  unloaded.credentials.reset();
  EXPECT_EQ(verifier_.checkProxy(unloaded, Fields{}).status, 500) << "fails closed";
}

TEST_F(AuthPhase, BasicChallengesWithRealmAndCharset) {
  AuthOutcome o = check(basicRoute(), {});
  EXPECT_FALSE(o.ok());
  EXPECT_EQ(o.status, 401);
  EXPECT_EQ(o.wwwAuthenticate, R"(Basic realm="api", charset="UTF-8")");
}

TEST_F(AuthPhase, BasicUsesTheVerifiersCache) {
  auto auth = basicRoute();
  Fields fields = {{"Authorization", "Basic YWxpY2U6d29uZGVybGFuZA=="}};
  EXPECT_TRUE(check(auth, fields).ok());
  EXPECT_TRUE(check(auth, fields).ok());
  EXPECT_EQ(verifier_.basic().cacheHits(), 1u);
}

TEST_F(AuthPhase, TheRealmIsQuoted) {
  auto auth = basicRoute();
  auth.realm = "a \"b\" \\c\r\n";
  EXPECT_EQ(check(auth, {}).wwwAuthenticate, R"(Basic realm="a \"b\" \\c", charset="UTF-8")");
}

TEST_F(AuthPhase, ApiKeyFromTheConfiguredHeader) {
  auto auth = apiKeyRoute();
  AuthOutcome o = check(auth, {{"x-api-key", "k-123"}});
  EXPECT_TRUE(o.ok());
  EXPECT_EQ(o.subject, "ci");
  auth.header = "X-Token";
  EXPECT_EQ(check(auth, {{"X-API-Key", "k-123"}}).reason(), "missing");
  EXPECT_TRUE(check(auth, {{"X-TOKEN", "k-123"}}).ok());
}

TEST_F(AuthPhase, ApiKeyRefusals) {
  auto auth = apiKeyRoute();
  EXPECT_EQ(check(auth, {}).reason(), "missing");
  EXPECT_EQ(check(auth, {{"X-API-Key", ""}}).reason(), "missing");
  EXPECT_EQ(check(auth, {{"X-API-Key", "k-124"}}).reason(), "bad_credentials");
  EXPECT_EQ(check(auth, {{"X-API-Key", "k-123"}, {"X-API-Key", "k-123"}}).reason(), "malformed");
  AuthOutcome o = check(auth, {{"Authorization", "Bearer k-123"}});
  EXPECT_EQ(o.reason(), "missing");
  EXPECT_EQ(o.status, 401);
  EXPECT_EQ(o.wwwAuthenticate, R"(ApiKey realm="api", header="X-API-Key")");
}

TEST_F(AuthPhase, JwtLetsAGoodTokenThroughWithItsClaims) {
  auto auth = jwtRoute();
  AuthOutcome o = check(auth, {{"Authorization", "Bearer " + es256(kGoodClaims)}});
  ASSERT_TRUE(o.ok()) << o.reason();
  EXPECT_EQ(o.subject, "alice");
  ASSERT_EQ(o.addHeaders.size(), 2u);
  EXPECT_EQ(o.addHeaders[0].name, "X-User");
  EXPECT_EQ(o.addHeaders[0].value, "alice");
  EXPECT_EQ(o.addHeaders[1].name, "X-Scope");
  EXPECT_EQ(o.addHeaders[1].value, "read");
}

TEST_F(AuthPhase, JwtRefusalsNameTheirReason) {
  auto auth = jwtRoute();
  auto reason = [&](const std::string& token) {
    return std::string(check(auth, {{"Authorization", "Bearer " + token}}).reason());
  };
  EXPECT_EQ(reason("a.b"), "malformed");
  std::string good = es256(kGoodClaims);
  EXPECT_EQ(reason(good.substr(0, good.size() - 2) + "AA"), "bad_signature");
  EXPECT_EQ(reason(es256(R"({"iss":"https://id.example.com","aud":"api","exp":1})")), "expired");
  EXPECT_EQ(reason(es256(R"({"iss":"https://id.example.com","aud":"api","nbf":1800000000})")),
            "not_yet_valid");
  EXPECT_EQ(reason(es256(R"({"iss":"x","aud":"api"})")), "wrong_issuer");
  EXPECT_EQ(reason(es256(R"({"iss":"https://id.example.com","aud":"web"})")), "wrong_audience");
  EXPECT_EQ(
      reason(signJws(JwsAlg::HS256, {"", "", "x", nullptr}, R"({"alg":"HS256","kid":"k9"})", "{}")),
      "unknown_kid");
  EXPECT_EQ(reason(signJws(JwsAlg::HS256, {"", "", "x", nullptr}, R"({"alg":"HS256","kid":"ec1"})",
                           "{}")),
            "alg_refused");
}

TEST_F(AuthPhase, JwtChallengesPerRfc6750) {
  auto auth = jwtRoute();
  AuthOutcome missing = check(auth, {});
  EXPECT_EQ(missing.reason(), "missing");
  EXPECT_EQ(missing.wwwAuthenticate, R"(Bearer realm="api")");
  AuthOutcome basic = check(auth, {{"Authorization", "Basic YWxpY2U6d29uZGVybGFuZA=="}});
  EXPECT_EQ(basic.reason(), "unsupported_scheme");
  EXPECT_EQ(basic.wwwAuthenticate, R"(Bearer realm="api")");
  AuthOutcome bad = check(auth, {{"Authorization", "Bearer x.y.z"}});
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(bad.wwwAuthenticate, R"(Bearer realm="api", error="invalid_token")");
  EXPECT_TRUE(bad.subject.empty());
  EXPECT_TRUE(bad.addHeaders.empty());
}

TEST_F(AuthPhase, UnloadedCredentialsFailClosed) {
  for (auto auth : {basicRoute(), apiKeyRoute(), jwtRoute()}) {
    auth.credentials = nullptr;
    AuthOutcome o = check(auth, {{"Authorization", "Basic YWxpY2U6d29uZGVybGFuZA=="}});
    EXPECT_FALSE(o.ok());
    EXPECT_EQ(o.status, 500);
    EXPECT_EQ(o.reason(), "unavailable");
  }
}

TEST(AuthStripsRequestHeader, TheClaimTargetsInAnyCase) {
  auto auth = jwtRoute();
  EXPECT_TRUE(authStripsRequestHeader(auth, "X-User"));
  EXPECT_TRUE(authStripsRequestHeader(auth, "x-user"));
  EXPECT_TRUE(authStripsRequestHeader(auth, "X-SCOPE"));
  EXPECT_FALSE(authStripsRequestHeader(auth, "X-Users"));
  EXPECT_FALSE(authStripsRequestHeader(auth, "Authorization"));
  EXPECT_FALSE(authStripsRequestHeader(basicRoute(), "X-User"));
}

TEST(AuthStripsRequestHeader, AnUnderscoreStandsForADash) {
  // Backends that map both to HTTP_X_USER would take X_User for X-User.
  auto auth = jwtRoute();
  EXPECT_TRUE(authStripsRequestHeader(auth, "X_User"));
  EXPECT_TRUE(authStripsRequestHeader(auth, "x_scope"));
  EXPECT_FALSE(authStripsRequestHeader(auth, "X_Users"));
}

TEST(AuthFailureName, NamesEveryFailure) {
  EXPECT_EQ(authFailureName(AuthFailure::None), "");
  EXPECT_EQ(authFailureName(AuthFailure::Missing), "missing");
  EXPECT_EQ(authFailureName(AuthFailure::UnsupportedScheme), "unsupported_scheme");
  EXPECT_EQ(authFailureName(AuthFailure::Malformed), "malformed");
  EXPECT_EQ(authFailureName(AuthFailure::UnknownUser), "unknown_user");
  EXPECT_EQ(authFailureName(AuthFailure::BadCredentials), "bad_credentials");
  EXPECT_EQ(authFailureName(AuthFailure::BadSignature), "bad_signature");
  EXPECT_EQ(authFailureName(AuthFailure::UnknownKid), "unknown_kid");
  EXPECT_EQ(authFailureName(AuthFailure::AlgRefused), "alg_refused");
  EXPECT_EQ(authFailureName(AuthFailure::Expired), "expired");
  EXPECT_EQ(authFailureName(AuthFailure::NotYetValid), "not_yet_valid");
  EXPECT_EQ(authFailureName(AuthFailure::WrongIssuer), "wrong_issuer");
  EXPECT_EQ(authFailureName(AuthFailure::WrongAudience), "wrong_audience");
  EXPECT_EQ(authFailureName(AuthFailure::Unavailable), "unavailable");
  EXPECT_EQ(authFailureName(AuthFailure::Throttled), "throttled");
}

TEST(AuthThrottle, OnlyCredentialsThatDidNotHoldCountAsFailedAttempts) {
  for (AuthFailure f :
       {AuthFailure::Malformed, AuthFailure::UnknownUser, AuthFailure::BadCredentials,
        AuthFailure::BadSignature, AuthFailure::UnknownKid, AuthFailure::AlgRefused}) {
    EXPECT_TRUE(countsAsFailedAttempt(f)) << authFailureName(f);
  }
  // a browser's first request, a genuine token past its time or for another
  // audience, our own missing file, and the throttle's own answer
  for (AuthFailure f :
       {AuthFailure::None, AuthFailure::Missing, AuthFailure::UnsupportedScheme,
        AuthFailure::Expired, AuthFailure::NotYetValid, AuthFailure::WrongIssuer,
        AuthFailure::WrongAudience, AuthFailure::Unavailable, AuthFailure::Throttled}) {
    EXPECT_FALSE(countsAsFailedAttempt(f)) << authFailureName(f);
  }
}

TEST(AuthThrottle, TheBucketIsPerClientAddressWithTheBurstThenOneEveryThreeSeconds) {
  config::RateLimitConfig c = authFailureSettings();
  EXPECT_EQ(c.key, config::RateLimitKey::SourceIp);
  EXPECT_EQ(c.burst, kAuthFailureBurst);
  EXPECT_EQ(c.per / c.requests, std::chrono::milliseconds(3000));
}

}  // namespace
}  // namespace ringlb::l7::auth_phase_test
