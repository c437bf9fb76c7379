// Verification of a JSON Web Token in JWS compact form (RFC 7519, RFC 7515)
// against a route's JWKS keys: structure, header, key choice, signature,
// then the registered claims, and the claims copied into request headers.
//
// Order: header, key, signature, and only then the payload, so an unsigned
// payload is never interpreted. Limits: tokens up to kMaxJwtSize bytes,
// JSON nested at most kMaxJsonDepth containers deep. "crit" is refused (no
// extension is understood). `exp` and `nbf` are optional; when present they
// are checked with `skew` of leeway. Duplicate JSON members: the last wins
// (RFC 7519 section 4 allows this).
//
// Thread rules: pure functions; any thread (keys are only read).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace ringlb::l7 {

inline constexpr size_t kMaxJwtSize = 8 * 1024;
inline constexpr int kMaxJsonDepth = 16;  // the top-level object counts as 1

enum class JwtError : uint8_t {
  None,
  Malformed,      // size, parts, base64url, JSON, types of alg/kid/exp/nbf, crit
  AlgRefused,     // alg not HS256/RS256/ES256, or the key(s) for it verify another alg
  UnknownKid,     // kid names no key
  BadSignature,   // no candidate key verifies the signature
  Expired,        // exp <= now - skew
  NotYetValid,    // nbf > now + skew
  WrongIssuer,    // iss differs from the configured issuer
  WrongAudience,  // aud (string or array) lacks the configured audience
};

// The metric label of `e` ("malformed", "alg_refused", ...; "" for None).
std::string_view jwtErrorName(JwtError e);

struct JwtPolicy {
  std::string_view issuer;    // empty: not checked
  std::string_view audience;  // empty: not checked
  std::span<const config::ClaimHeader> claimsToHeaders;
  std::chrono::seconds skew{60};
};

struct JwtVerdict {
  JwtError error = JwtError::Malformed;
  // On success: `sub` when it is a string without control characters.
  std::string subject;
  // On success: one entry per claims_to_headers claim present as a string
  // (as is), number or boolean (JSON text). Other types and values holding
  // a control character other than HTAB (CR, LF, NUL, ...) are skipped.
  std::vector<config::HeaderEdit> headers;

  bool ok() const { return error == JwtError::None; }
};

// A token with a "kid" is checked with the key of that kid only; without
// one, with every key whose alg is the token's. Keys with another alg never
// verify (an HS256 token cannot be checked with an RSA key's bytes).
JwtVerdict verifyJwt(std::string_view token, std::span<const config::JsonWebKey> keys,
                     const JwtPolicy& policy, std::chrono::system_clock::time_point now);

}  // namespace ringlb::l7
