// The authentication phase's per-request costs: verifying a JWT (the whole
// path: split, base64url, header JSON, key choice, signature, claims JSON,
// claims_to_headers) for each algorithm, and a Basic login answered from
// the verifier's cache.
#include <benchmark/benchmark.h>
#include <crypt.h>
#include <openssl/evp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "l7/gateway/auth_basic.h"
#include "l7/gateway/jwt.h"
#include "l7/gateway/jwt_sign.h"

namespace ringlb::l7 {
namespace {

using std::chrono::seconds;

const std::chrono::system_clock::time_point kNow{seconds(1'700'000'000)};
constexpr const char* kClaims =
    R"({"iss":"https://id.example.com","aud":["api","web"],"sub":"user-1234",)"
    R"("scope":"read write","iat":1699999000,"nbf":1699999000,"exp":1700003600})";

std::shared_ptr<EVP_PKEY> generate(const char* type, bool rsa) {
  EVP_PKEY* pkey = rsa ? EVP_PKEY_Q_keygen(nullptr, nullptr, type, size_t{2048})
                       : EVP_PKEY_Q_keygen(nullptr, nullptr, type, "P-256");
  return {pkey, EVP_PKEY_free};
}

void verifyLoop(benchmark::State& state, const config::JsonWebKey& key, JwsAlg alg) {
  std::string header =
      R"({"alg":")" + std::string(jwsAlgName(alg)) + R"(","kid":")" + key.kid + R"(","typ":"JWT"})";
  std::string token = signJws(alg, key, header, kClaims);
  std::vector<config::JsonWebKey> keys = {key};
  std::vector<config::ClaimHeader> claims = {{"sub", "X-User"}, {"scope", "X-Scope"}};
  JwtPolicy policy{"https://id.example.com", "api", claims};
  for (auto _ : state) {
    JwtVerdict v = verifyJwt(token, keys, policy, kNow);
    if (!v.ok()) state.SkipWithError("token refused");
    benchmark::DoNotOptimize(v);
  }
}

void BM_JwtVerifyHs256(benchmark::State& state) {
  config::JsonWebKey key{"hs1", "HS256", "a 32-byte secret for the bench!!", nullptr};
  verifyLoop(state, key, JwsAlg::HS256);
}
BENCHMARK(BM_JwtVerifyHs256);

void BM_JwtVerifyRs256(benchmark::State& state) {
  config::JsonWebKey key{"rsa1", "RS256", "", generate("RSA", true)};
  verifyLoop(state, key, JwsAlg::RS256);
}
BENCHMARK(BM_JwtVerifyRs256);

void BM_JwtVerifyEs256(benchmark::State& state) {
  config::JsonWebKey key{"ec1", "ES256", "", generate("EC", false)};
  verifyLoop(state, key, JwsAlg::ES256);
}
BENCHMARK(BM_JwtVerifyEs256);

// A repeated good login: SHA-256 of the credentials and a cache lookup
// instead of bcrypt (cost 10, as htpasswd -B writes by default).
void BM_BasicAuthCacheHit(benchmark::State& state) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  crypt_gensalt_rn("$2y$", 10, nullptr, 0, setting, sizeof(setting));
  auto data = std::make_unique<crypt_data>();
  config::AuthCredentials creds;
  creds.users["alice"] = crypt_rn("wonderland", setting, data.get(), sizeof(crypt_data));
  BasicAuthVerifier verifier;
  verifier.verify(creds, "alice", "wonderland");  // fills the cache
  for (auto _ : state) {
    BasicAuthResult r = verifier.verify(creds, "alice", "wonderland");
    if (r != BasicAuthResult::Ok) state.SkipWithError("login refused");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_BasicAuthCacheHit);

// For comparison: what every miss (and every wrong password) costs.
void BM_BasicAuthBcrypt10(benchmark::State& state) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  crypt_gensalt_rn("$2y$", 10, nullptr, 0, setting, sizeof(setting));
  auto data = std::make_unique<crypt_data>();
  config::AuthCredentials creds;
  creds.users["alice"] = crypt_rn("wonderland", setting, data.get(), sizeof(crypt_data));
  BasicAuthVerifier verifier(0);
  for (auto _ : state) {
    benchmark::DoNotOptimize(verifier.verify(creds, "alice", "wonderland"));
  }
}
BENCHMARK(BM_BasicAuthBcrypt10)->Unit(benchmark::kMillisecond)->Iterations(5);

}  // namespace
}  // namespace ringlb::l7
