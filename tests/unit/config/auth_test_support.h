// Helpers for the auth file tests: real crypt(3) hashes made with libcrypt,
// and JWKs exported from keys made with OpenSSL.
#pragma once

#include <crypt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace ringlb::config::testing {

// crypt(3) of `password` with a fresh salt of `prefix` ("$2b$", "$6$", "$y$").
// `count` 0 is the scheme's default cost (bcrypt gets the cheapest, 4, to keep
// tests fast).
inline std::string cryptHash(const std::string& password, const char* prefix,
                             unsigned long count = 0) {
  if (count == 0 && std::string(prefix).starts_with("$2")) count = 4;
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn(prefix, count, nullptr, 0, setting, sizeof setting) == nullptr) {
    throw std::runtime_error(std::string("crypt_gensalt_rn failed for ") + prefix);
  }
  auto data = std::make_unique<crypt_data>();
  const char* hash = crypt_r(password.c_str(), setting, data.get());
  if (hash == nullptr || hash[0] == '*') {
    throw std::runtime_error(std::string("crypt_r failed for ") + prefix);
  }
  return hash;
}

inline std::string base64UrlEncode(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (unsigned char c : bytes) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out += kAlphabet[(bits >> count) & 0x3f];
    }
  }
  if (count > 0) out += kAlphabet[(bits << (6 - count)) & 0x3f];
  return out;
}

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

inline PkeyPtr rsaKey(size_t bits) {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits), EVP_PKEY_free);
}

inline PkeyPtr p256Key() {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), EVP_PKEY_free);
}

// A big-number parameter of `key` as big-endian bytes, left-padded to `width`
// (0: its natural size).
inline std::string bnParam(EVP_PKEY* key, const char* name, int width = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) throw std::runtime_error(name);
  std::vector<unsigned char> buf(width > 0 ? width : BN_num_bytes(bn));
  BN_bn2binpad(bn, buf.data(), static_cast<int>(buf.size()));
  BN_free(bn);
  return std::string(buf.begin(), buf.end());
}

// The public JWK members of an RSA key: "n": "...", "e": "...".
inline std::string rsaMembers(EVP_PKEY* key) {
  return "\"n\": \"" + base64UrlEncode(bnParam(key, OSSL_PKEY_PARAM_RSA_N)) + "\", \"e\": \"" +
         base64UrlEncode(bnParam(key, OSSL_PKEY_PARAM_RSA_E)) + "\"";
}

// The public JWK members of a P-256 key: "crv": "P-256", "x": "...", "y": "...".
inline std::string p256Members(EVP_PKEY* key) {
  return "\"crv\": \"P-256\", \"x\": \"" +
         base64UrlEncode(bnParam(key, OSSL_PKEY_PARAM_EC_PUB_X, 32)) + "\", \"y\": \"" +
         base64UrlEncode(bnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32)) + "\"";
}

// A 32-byte HS256 secret, base64url.
inline constexpr std::string_view kOctSecret = "0123456789abcdef0123456789abcdef";

inline std::string octJwks() {
  return R"({"keys": [{"kty": "oct", "kid": "k1", "alg": "HS256", "k": ")" +
         base64UrlEncode(std::string(kOctSecret)) + "\"}]}";
}

// The SHA-256 of "demo-key", hex.
inline constexpr std::string_view kDemoKeyDigest =
    "c48a01f49fd0f2cc404bc3cbbc80e91457a3d41bb429a695243de4c61794155c";

}  // namespace ringlb::config::testing
