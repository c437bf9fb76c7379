// Signing of compact JWS tokens, the counterpart of verifyJwt() for tests,
// benchmarks and tools: ringlb itself never issues tokens.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

#include "config/model.h"
#include "l7/gateway/jwt_signature.h"

namespace ringlb::l7 {

// base64url(headerJson) "." base64url(payloadJson) "." base64url(signature),
// signed under `alg` with key.secret (HS256) or key.publicKey, which must
// then hold the private key (RS256: RSA, ES256: P-256, as raw r||s).
// key.alg is not looked at, so mismatched tokens can be made on purpose.
// Empty when signing fails.
std::string signJws(JwsAlg alg, const config::JsonWebKey& key, std::string_view headerJson,
                    std::string_view payloadJson);

}  // namespace ringlb::l7
