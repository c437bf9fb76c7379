#include "l7/gateway/auth_phase.h"

#include "common/ascii.h"
#include "common/stats.h"
#include "l7/gateway/auth_api_key.h"
#include "l7/gateway/auth_header.h"
#include "l7/gateway/jwt.h"

namespace ringlb::l7 {
namespace {

constexpr uint16_t kUnauthorized = 401;
constexpr uint16_t kInternalError = 500;
constexpr uint16_t kProxyAuthRequired = 407;

// The value of the only field called `name`: Missing when absent or empty,
// Malformed when sent more than once (which one would count?).
AuthFailure singleField(std::span<const http::HeaderView> headers, std::string_view name,
                        std::string_view& value) {
  size_t count = 0;
  for (const http::HeaderView& h : headers) {
    if (!equalsIgnoreCase(h.name, name)) continue;
    value = h.value;
    ++count;
  }
  if (count > 1) return AuthFailure::Malformed;
  return count == 0 || value.empty() ? AuthFailure::Missing : AuthFailure::None;
}

// The Authorization field (or `field`: Proxy-Authorization) parsed with
// `scheme` expected.
AuthFailure readAuthorization(std::span<const http::HeaderView> headers, AuthScheme scheme,
                              Authorization& out, std::string_view field = "Authorization") {
  std::string_view value;
  if (AuthFailure f = singleField(headers, field, value); f != AuthFailure::None) {
    return f;
  }
  out = parseAuthorization(value);
  if (out.error == AuthHeaderError::BadScheme) return AuthFailure::Malformed;
  if (out.scheme != scheme) return AuthFailure::UnsupportedScheme;
  return out.error == AuthHeaderError::None ? AuthFailure::None : AuthFailure::Malformed;
}

AuthFailure fromJwtError(JwtError e) {
  switch (e) {
    case JwtError::None: return AuthFailure::None;
    case JwtError::Malformed: return AuthFailure::Malformed;
    case JwtError::AlgRefused: return AuthFailure::AlgRefused;
    case JwtError::UnknownKid: return AuthFailure::UnknownKid;
    case JwtError::BadSignature: return AuthFailure::BadSignature;
    case JwtError::Expired: return AuthFailure::Expired;
    case JwtError::NotYetValid: return AuthFailure::NotYetValid;
    case JwtError::WrongIssuer: return AuthFailure::WrongIssuer;
    case JwtError::WrongAudience: return AuthFailure::WrongAudience;
  }
  return AuthFailure::Malformed;
}

AuthOutcome checkApiKey(const config::AuthConfig& auth, std::span<const http::HeaderView> headers) {
  AuthOutcome outcome;
  std::string_view key;
  outcome.failure = singleField(headers, auth.header, key);
  if (outcome.failure != AuthFailure::None) return outcome;
  auto name = verifyApiKey(*auth.credentials, key);
  if (!name) {
    outcome.failure = AuthFailure::BadCredentials;
  } else {
    outcome.subject = *name;
  }
  return outcome;
}

AuthOutcome checkJwt(const config::AuthConfig& auth, std::span<const http::HeaderView> headers,
                     std::chrono::system_clock::time_point now) {
  AuthOutcome outcome;
  Authorization authorization;
  outcome.failure = readAuthorization(headers, AuthScheme::Bearer, authorization);
  if (outcome.failure != AuthFailure::None) return outcome;
  JwtPolicy policy{auth.issuer, auth.audience, auth.claimsToHeaders};
  JwtVerdict verdict = verifyJwt(authorization.credentials, auth.credentials->jwks, policy, now);
  outcome.failure = fromJwtError(verdict.error);
  if (verdict.ok()) {
    outcome.subject = std::move(verdict.subject);
    outcome.addHeaders = std::move(verdict.headers);
  }
  return outcome;
}

// A quoted-string (RFC 9110 section 5.6.4); control characters dropped.
void appendQuoted(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\t') || u == 0x7f) continue;
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

}  // namespace

static_assert(static_cast<size_t>(AuthFailure::Throttled) + 1 == kAuthFailureReasons.size(),
              "kAuthFailureReasons names every AuthFailure");

std::string_view authFailureName(AuthFailure failure) {
  // The metric's labels, in the enum's order (common/stats.h).
  auto index = static_cast<size_t>(failure);
  return index < kAuthFailureReasons.size() ? kAuthFailureReasons[index] : "malformed";
}

std::string wwwAuthenticateFor(const config::AuthConfig& auth, AuthFailure failure) {
  std::string value;
  switch (auth.type) {
    case config::AuthType::Basic: value = "Basic realm="; break;
    case config::AuthType::ApiKey: value = "ApiKey realm="; break;
    case config::AuthType::Jwt: value = "Bearer realm="; break;
  }
  appendQuoted(value, auth.realm);
  switch (auth.type) {
    case config::AuthType::Basic: value += ", charset=\"UTF-8\""; break;
    case config::AuthType::ApiKey:
      value += ", header=";
      appendQuoted(value, auth.header);
      break;
    case config::AuthType::Jwt:
      // RFC 6750 section 3.1: no error code when no token was presented.
      if (failure != AuthFailure::Missing && failure != AuthFailure::UnsupportedScheme) {
        value += ", error=\"invalid_token\"";
      }
      break;
  }
  return value;
}

// `_` counts as `-`: backends that map both to one CGI variable (HTTP_X_USER)
// would otherwise take a client's X_User for the proxy's X-User.
bool authStripsRequestHeader(const config::AuthConfig& auth, std::string_view name) {
  auto same = [](char a, char b) {
    a = a == '_' ? '-' : asciiLower(a);
    b = b == '_' ? '-' : asciiLower(b);
    return a == b;
  };
  for (const config::ClaimHeader& ch : auth.claimsToHeaders) {
    if (ch.header.size() == name.size() &&
        std::equal(name.begin(), name.end(), ch.header.begin(), same)) {
      return true;
    }
  }
  return false;
}

AuthVerifier::AuthVerifier(size_t basicCacheEntries) : basic_(basicCacheEntries) {}

AuthOutcome AuthVerifier::check(const config::AuthConfig& auth,
                                std::span<const http::HeaderView> headers,
                                std::chrono::system_clock::time_point now) {
  AuthOutcome outcome;
  if (!auth.credentials) {
    outcome.failure = AuthFailure::Unavailable;  // fail closed
    outcome.status = kInternalError;
    return outcome;
  }
  switch (auth.type) {
    case config::AuthType::Basic: outcome = checkBasic(auth, headers); break;
    case config::AuthType::ApiKey: outcome = checkApiKey(auth, headers); break;
    case config::AuthType::Jwt: outcome = checkJwt(auth, headers, now); break;
  }
  if (!outcome.ok()) {
    outcome.status = kUnauthorized;
    outcome.subject.clear();
    outcome.addHeaders.clear();
    outcome.wwwAuthenticate = wwwAuthenticateFor(auth, outcome.failure);
  }
  return outcome;
}

AuthOutcome AuthVerifier::checkProxy(const config::AuthConfig& auth,
                                     std::span<const http::HeaderView> headers) {
  AuthOutcome outcome;
  if (!auth.credentials) {
    outcome.failure = AuthFailure::Unavailable;  // fail closed
    outcome.status = kInternalError;
    return outcome;
  }
  outcome = checkBasic(auth, headers, "Proxy-Authorization");
  if (!outcome.ok()) {
    outcome.status = kProxyAuthRequired;
    outcome.subject.clear();
    outcome.wwwAuthenticate = wwwAuthenticateFor(auth, outcome.failure);
  }
  return outcome;
}

AuthOutcome AuthVerifier::checkBasic(const config::AuthConfig& auth,
                                     std::span<const http::HeaderView> headers,
                                     std::string_view field) {
  AuthOutcome outcome;
  Authorization authorization;
  outcome.failure = readAuthorization(headers, AuthScheme::Basic, authorization, field);
  if (outcome.failure != AuthFailure::None) return outcome;
  switch (basic_.verify(*auth.credentials, authorization.user, authorization.password)) {
    case BasicAuthResult::Ok: outcome.subject = std::move(authorization.user); break;
    case BasicAuthResult::UnknownUser: outcome.failure = AuthFailure::UnknownUser; break;
    case BasicAuthResult::BadPassword: outcome.failure = AuthFailure::BadCredentials; break;
  }
  return outcome;
}

}  // namespace ringlb::l7
