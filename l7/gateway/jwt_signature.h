// JWS signature algorithms (RFC 7518 section 3): the three ringlb accepts
// and their verification with OpenSSL. "none" and every other name are
// refused by parseJwsAlg().
//
// Thread rules: pure functions; any thread. Keys are only read (OpenSSL 3
// allows one EVP_PKEY to verify on several threads at once).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "config/model.h"

namespace ringlb::l7 {

enum class JwsAlg : uint8_t { HS256, RS256, ES256 };

// Exactly "HS256", "RS256" or "ES256" (case-sensitive, RFC 7515 section 4.1.1).
std::optional<JwsAlg> parseJwsAlg(std::string_view name);
std::string_view jwsAlgName(JwsAlg alg);

// The bytes of `s` as OpenSSL's signing and verifying calls take them.
inline const unsigned char* opensslBytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// True when `signature` (decoded bytes) signs `signingInput` with `key`
// under `alg`. False when key.alg names another algorithm or the key's
// material does not fit `alg` (HS256: a non-empty secret; RS256: an RSA key,
// PKCS#1 v1.5 with SHA-256; ES256: a P-256 key and a raw 64-byte r||s).
// OpenSSL errors raised on the way are removed from the thread's queue.
bool verifyJwsSignature(JwsAlg alg, const config::JsonWebKey& key, std::string_view signingInput,
                        std::string_view signature);

}  // namespace ringlb::l7
