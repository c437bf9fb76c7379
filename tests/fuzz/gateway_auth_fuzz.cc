// libFuzzer target for the gateway's parsers of untrusted input: JWTs
// (base64url, the header and payload JSON, the signature check), JWKS,
// htpasswd and API key files, Authorization values and base64.
// The first byte picks the parser; the rest is its input.
// Invariants: no crash or leak on any input; base64url round-trips what it
// decoded; a verified token's claim values never carry CR, LF or NUL (they
// become request headers); a loaded JWKS holds only usable keys, each with
// one of the three algorithms.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/auth_files.h"
#include "l7/gateway/auth_header.h"
#include "l7/gateway/base64url.h"
#include "l7/gateway/jwt.h"

namespace {

using namespace ringlb;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

// The seeds in corpus/gateway_auth_fuzz are signed with this HS256 secret,
// so mutations reach the claims.
const std::vector<config::JsonWebKey>& keys() {
  static const std::vector<config::JsonWebKey> k = {
      {"k1", "HS256", "0123456789abcdef0123456789abcdef", nullptr}};
  return k;
}

void fuzzJwt(std::string_view token) {
  static const std::vector<config::ClaimHeader> claims = {{"sub", "X-User"}, {"role", "X-Role"}};
  l7::JwtPolicy policy{"", "", claims};
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
  l7::JwtVerdict v = l7::verifyJwt(token, keys(), policy, now);
  if (!v.ok()) return;
  for (const auto& h : v.headers) {
    FUZZ_CHECK(h.value.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos);
  }
}

void fuzzJwks(std::string_view text) {
  config::AuthCredentials out;
  if (!config::parseJwks(text, "fuzz.json", out).empty()) return;
  FUZZ_CHECK(!out.jwks.empty());
  for (const auto& k : out.jwks) {
    FUZZ_CHECK(k.alg == "HS256" || k.alg == "RS256" || k.alg == "ES256");
    FUZZ_CHECK(k.alg == "HS256" ? !k.secret.empty() : k.publicKey != nullptr);
  }
}

void fuzzBase64(std::string_view text) {
  if (auto decoded = l7::decodeBase64Url(text)) {
    FUZZ_CHECK(l7::encodeBase64Url(*decoded) == text);
  }
  (void)l7::decodeBase64(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 6) {
    case 0: fuzzJwt(input); break;
    case 1: fuzzJwks(input); break;
    case 2: {
      config::AuthCredentials out;
      (void)config::parseHtpasswd(input, "fuzz.htpasswd", out);
      break;
    }
    case 3: {
      config::AuthCredentials out;
      (void)config::parseApiKeys(input, "fuzz.keys", out);
      break;
    }
    case 4: (void)l7::parseAuthorization(input); break;
    default: fuzzBase64(input); break;
  }
  return 0;
}
