#include "l7/gateway/jwt_signature.h"

#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include <climits>
#include <memory>

namespace ringlb::l7 {
namespace {

constexpr size_t kSha256Size = 32;
constexpr size_t kP256ScalarSize = 32;

bool verifyHs256(const std::string& secret, std::string_view input, std::string_view sig) {
  // An empty secret would let anyone sign; the loader should refuse it too.
  if (secret.empty() || secret.size() > INT_MAX || sig.size() != kSha256Size) return false;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), opensslBytes(input),
           input.size(), mac, &len) == nullptr ||
      len != kSha256Size) {
    return false;
  }
  return CRYPTO_memcmp(mac, sig.data(), kSha256Size) == 0;
}

bool digestVerify(EVP_PKEY* pkey, bool rsa, std::string_view input, const unsigned char* sig,
                  size_t sigLen) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, pkey) != 1) {
    return false;
  }
  if (rsa && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) return false;
  return EVP_DigestVerify(ctx.get(), sig, sigLen, opensslBytes(input), input.size()) == 1;
}

bool isP256(EVP_PKEY* pkey) {
  char name[64];
  size_t len = 0;
  return EVP_PKEY_is_a(pkey, "EC") &&
         EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len) == 1 &&
         std::string_view(name, len) == "prime256v1";
}

// JWS carries ECDSA as raw r||s (RFC 7518 section 3.4); OpenSSL wants DER.
bool verifyEs256(EVP_PKEY* pkey, std::string_view input, std::string_view sig) {
  if (sig.size() != 2 * kP256ScalarSize || !isP256(pkey)) return false;
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> es(ECDSA_SIG_new(), ECDSA_SIG_free);
  BIGNUM* r = BN_bin2bn(opensslBytes(sig), kP256ScalarSize, nullptr);
  BIGNUM* s = BN_bin2bn(opensslBytes(sig) + kP256ScalarSize, kP256ScalarSize, nullptr);
  if (!es || !r || !s || ECDSA_SIG_set0(es.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  unsigned char* der = nullptr;
  int derLen = i2d_ECDSA_SIG(es.get(), &der);
  bool ok = derLen > 0 && digestVerify(pkey, false, input, der, static_cast<size_t>(derLen));
  OPENSSL_free(der);
  return ok;
}

bool verifyWithKey(JwsAlg alg, const config::JsonWebKey& key, std::string_view input,
                   std::string_view sig) {
  EVP_PKEY* pkey = key.publicKey.get();
  switch (alg) {
    case JwsAlg::HS256: return verifyHs256(key.secret, input, sig);
    case JwsAlg::RS256:
      return pkey && EVP_PKEY_is_a(pkey, "RSA") &&
             digestVerify(pkey, true, input, opensslBytes(sig), sig.size());
    case JwsAlg::ES256: return pkey && verifyEs256(pkey, input, sig);
  }
  return false;
}

}  // namespace

std::optional<JwsAlg> parseJwsAlg(std::string_view name) {
  if (name == "HS256") return JwsAlg::HS256;
  if (name == "RS256") return JwsAlg::RS256;
  if (name == "ES256") return JwsAlg::ES256;
  return std::nullopt;
}

std::string_view jwsAlgName(JwsAlg alg) {
  switch (alg) {
    case JwsAlg::HS256: return "HS256";
    case JwsAlg::RS256: return "RS256";
    case JwsAlg::ES256: return "ES256";
  }
  return "";
}

bool verifyJwsSignature(JwsAlg alg, const config::JsonWebKey& key, std::string_view signingInput,
                        std::string_view signature) {
  // One key verifies one algorithm: this is what refuses algorithm confusion.
  if (key.alg != jwsAlgName(alg)) return false;
  // A failed verification leaves errors queued; they must not reach the
  // TLS code of this thread (SSL_get_error reads the same queue).
  ERR_set_mark();
  bool ok = verifyWithKey(alg, key, signingInput, signature);
  ERR_pop_to_mark();
  return ok;
}

}  // namespace ringlb::l7
