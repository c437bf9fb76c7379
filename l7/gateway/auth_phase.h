// The authentication phase (docs/gateway.md, phase 3): a route with `auth`
// lets a request through only with valid credentials of its type:
//   basic    Authorization: Basic, checked against the htpasswd users
//   api_key  the key in the configured header (X-API-Key), checked against
//            the SHA-256 digests of the keys file
//   jwt      Authorization: Bearer, a JWS checked against the JWKS keys,
//            with `iss`/`aud`/`exp`/`nbf`; claims_to_headers become request
//            headers for the backend
// A refused request is answered with `status` (401, with `wwwAuthenticate`
// as WWW-Authenticate; 500 when the route's credentials were never loaded)
// and counted under reason() in ringlb_auth_failures_total.
//
// WWW-Authenticate values (the realm quoted, '"' and '\' escaped):
//   basic    Basic realm="R", charset="UTF-8"                (RFC 7617)
//   api_key  ApiKey realm="R", header="X-API-Key"            (no standard
//            scheme exists: this names the header to send the key in)
//   jwt      Bearer realm="R", error="invalid_token"         (RFC 6750; no
//            error parameter when no Bearer token was sent)
//
// Whatever the outcome, the fields named by claims_to_headers must be
// removed from the client's request before forwarding
// (authStripsRequestHeader), so a client cannot forge X-User.
//
// Thread rules: AuthVerifier holds per-worker state (the basic-auth cache
// and crypt buffer): one per worker thread, used only by it. The config
// and its credentials are only read, so routes and snapshots may be shared
// by all workers. The free functions are pure; any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/http1/http_types.h"
#include "config/model.h"
#include "l7/gateway/auth_basic.h"

namespace ringlb::l7 {

enum class AuthFailure : uint8_t {
  None,
  Missing,            // no credentials of the route's kind (or an empty field)
  UnsupportedScheme,  // Authorization with another scheme (Digest, Basic on a jwt route...)
  Malformed,          // unparsable credentials or token, or the field sent twice
  UnknownUser,        // basic
  BadCredentials,     // basic: wrong password; api_key: no such key
  BadSignature,       // jwt
  UnknownKid,         // jwt
  AlgRefused,         // jwt
  Expired,            // jwt
  NotYetValid,        // jwt
  WrongIssuer,        // jwt
  WrongAudience,      // jwt
  Unavailable,        // the route's credentials are not loaded (500)
  Throttled,          // the client failed too often lately (429, nothing checked)
};

// The metric label: "missing", "unsupported_scheme", "malformed",
// "unknown_user", "bad_credentials", "bad_signature", "unknown_kid",
// "alg_refused", "expired", "not_yet_valid", "wrong_issuer",
// "wrong_audience", "unavailable", "throttled"; "" for None.
std::string_view authFailureName(AuthFailure failure);

struct AuthOutcome {
  AuthFailure failure = AuthFailure::None;
  uint16_t status = 0;  // 0 when ok; else 401 or 500
  // basic: the user; api_key: the key's name ("" if unnamed); jwt: `sub`
  // ("" if absent). For the access log.
  std::string subject;
  // jwt: claims_to_headers to add to the forwarded request (names as configured).
  std::vector<config::HeaderEdit> addHeaders;
  std::string wwwAuthenticate;  // with status 401

  bool ok() const { return failure == AuthFailure::None; }
  std::string_view reason() const { return authFailureName(failure); }
};

class AuthVerifier {
 public:
  explicit AuthVerifier(size_t basicCacheEntries = BasicAuthVerifier::kDefaultCacheEntries);
  AuthVerifier(const AuthVerifier&) = delete;
  AuthVerifier& operator=(const AuthVerifier&) = delete;

  // Checks `headers` (the client's request) against the route's `auth`.
  // `now` is the wall clock (for exp/nbf). No input makes it throw
  // (allocation failure aside).
  AuthOutcome check(const config::AuthConfig& auth, std::span<const http::HeaderView> headers,
                    std::chrono::system_clock::time_point now);

  // A forward proxy's login: Proxy-Authorization: Basic against `auth`'s
  // users; refused with 407 (`wwwAuthenticate` is then the
  // Proxy-Authenticate value), 500 when the users were never loaded.
  AuthOutcome checkProxy(const config::AuthConfig& auth, std::span<const http::HeaderView> headers);

  const BasicAuthVerifier& basic() const { return basic_; }

 private:
  AuthOutcome checkBasic(const config::AuthConfig& auth, std::span<const http::HeaderView> headers,
                         std::string_view field = "Authorization");

  BasicAuthVerifier basic_;
};

// The WWW-Authenticate value for refusing a request on `auth`'s route.
std::string wwwAuthenticateFor(const config::AuthConfig& auth, AuthFailure failure);

// True when the client's request field `name` (any case) must not be
// forwarded on this route: a claims_to_headers target, present in the token
// or not.
bool authStripsRequestHeader(const config::AuthConfig& auth, std::string_view name);

}  // namespace ringlb::l7
