#include "l7/gateway/jwt_sign.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <climits>
#include <memory>
#include <optional>

#include "l7/gateway/base64url.h"

namespace ringlb::l7 {
namespace {

std::optional<std::string> hmacSha256(const std::string& secret, std::string_view input) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (secret.size() > INT_MAX || HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                                      opensslBytes(input), input.size(), mac, &len) == nullptr) {
    return std::nullopt;
  }
  return std::string(reinterpret_cast<char*>(mac), len);
}

std::optional<std::string> digestSign(EVP_PKEY* pkey, std::string_view input) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  size_t len = 0;
  if (!ctx || !pkey || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, opensslBytes(input), input.size()) != 1) {
    return std::nullopt;
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     opensslBytes(input), input.size()) != 1) {
    return std::nullopt;
  }
  sig.resize(len);
  return sig;
}

// OpenSSL's DER ECDSA signature as JWS's raw r||s (32 bytes each).
std::optional<std::string> derToRaw(const std::string& der) {
  const unsigned char* p = opensslBytes(der);
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> es(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())), ECDSA_SIG_free);
  if (!es) return std::nullopt;
  std::string raw(64, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), out, 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), out + 32, 32) != 32) {
    return std::nullopt;
  }
  return raw;
}

std::optional<std::string> sign(JwsAlg alg, const config::JsonWebKey& key, std::string_view input) {
  switch (alg) {
    case JwsAlg::HS256: return hmacSha256(key.secret, input);
    case JwsAlg::RS256: return digestSign(key.publicKey.get(), input);
    case JwsAlg::ES256: {
      auto der = digestSign(key.publicKey.get(), input);
      return der ? derToRaw(*der) : std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string signJws(JwsAlg alg, const config::JsonWebKey& key, std::string_view headerJson,
                    std::string_view payloadJson) {
  std::string token = encodeBase64Url(headerJson);
  token.push_back('.');
  token.append(encodeBase64Url(payloadJson));
  ERR_set_mark();
  auto signature = sign(alg, key, token);
  ERR_pop_to_mark();
  if (!signature) return {};
  token.push_back('.');
  token.append(encodeBase64Url(*signature));
  return token;
}

}  // namespace ringlb::l7
