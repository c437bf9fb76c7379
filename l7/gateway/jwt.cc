#include "l7/gateway/jwt.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>

#include "l7/gateway/base64url.h"
#include "l7/gateway/jwt_signature.h"

namespace ringlb::l7 {
namespace {

using Json = nlohmann::json;

// A JSON object nested at most kMaxJsonDepth deep, or nothing. The parser
// is iterative and the callback drops what lies too deep, so a hostile
// nesting costs neither stack nor memory before it is refused.
std::optional<Json> parseObject(std::string_view text) {
  bool tooDeep = false;
  auto limitDepth = [&tooDeep](int depth, Json::parse_event_t event, Json&) {
    bool opens =
        event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start;
    if (opens && depth >= kMaxJsonDepth) tooDeep = true;
    return !tooDeep;
  };
  Json json;
  try {
    json = Json::parse(text.begin(), text.end(), limitDepth, /*allow_exceptions=*/false);
  } catch (const Json::exception&) {
    return std::nullopt;  // never seen with allow_exceptions off; a token must not end a worker
  }
  if (tooDeep || json.is_discarded() || !json.is_object()) return std::nullopt;
  return json;
}

std::optional<Json> decodeObject(std::string_view part) {
  auto text = decodeBase64Url(part);
  if (!text) return std::nullopt;
  return parseObject(*text);
}

struct JoseHeader {
  JwsAlg alg = JwsAlg::HS256;
  std::optional<std::string> kid;
};

JwtError readHeader(std::string_view part, JoseHeader& out) {
  auto header = decodeObject(part);
  if (!header) return JwtError::Malformed;
  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string()) return JwtError::Malformed;
  auto parsed = parseJwsAlg(alg->get_ref<const std::string&>());
  if (!parsed) return JwtError::AlgRefused;  // "none" included
  out.alg = *parsed;
  // RFC 7515 section 4.1.11: extensions we do not understand must fail.
  if (header->contains("crit")) return JwtError::Malformed;
  auto kid = header->find("kid");
  if (kid != header->end()) {
    if (!kid->is_string()) return JwtError::Malformed;
    out.kid = kid->get<std::string>();
  }
  return JwtError::None;
}

// Candidates: the keys of the token's kid (all keys without one); of those,
// the ones for the token's alg; the first that verifies wins.
JwtError checkSignature(const JoseHeader& header, std::span<const config::JsonWebKey> keys,
                        std::string_view signingInput, std::string_view signature) {
  bool kidFound = false;
  bool algFound = false;
  for (const config::JsonWebKey& key : keys) {
    if (header.kid && (key.kid.empty() || key.kid != *header.kid)) continue;
    kidFound = true;
    if (key.alg != jwsAlgName(header.alg)) continue;
    algFound = true;
    if (verifyJwsSignature(header.alg, key, signingInput, signature)) return JwtError::None;
  }
  if (header.kid && !kidFound) return JwtError::UnknownKid;
  return algFound ? JwtError::BadSignature : JwtError::AlgRefused;
}

// nullopt: absent; NaN: present but not a number.
std::optional<double> numericDate(const Json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  return it->is_number() ? it->get<double>() : std::numeric_limits<double>::quiet_NaN();
}

JwtError checkTimes(const Json& claims, const JwtPolicy& policy,
                    std::chrono::system_clock::time_point now) {
  double seconds = static_cast<double>(
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
  double skew = static_cast<double>(policy.skew.count());
  auto exp = numericDate(claims, "exp");
  auto nbf = numericDate(claims, "nbf");
  if ((exp && std::isnan(*exp)) || (nbf && std::isnan(*nbf))) return JwtError::Malformed;
  if (exp && !(*exp > seconds - skew)) return JwtError::Expired;
  if (nbf && !(*nbf <= seconds + skew)) return JwtError::NotYetValid;
  return JwtError::None;
}

bool audienceContains(const Json& claims, std::string_view audience) {
  auto aud = claims.find("aud");
  if (aud == claims.end()) return false;
  auto matches = [audience](const Json& v) {
    return v.is_string() && v.get_ref<const std::string&>() == audience;
  };
  if (aud->is_array()) return std::any_of(aud->begin(), aud->end(), matches);
  return matches(*aud);
}

JwtError checkIssuerAudience(const Json& claims, const JwtPolicy& policy) {
  if (!policy.issuer.empty()) {
    auto iss = claims.find("iss");
    if (iss == claims.end() || !iss->is_string() ||
        iss->get_ref<const std::string&>() != policy.issuer) {
      return JwtError::WrongIssuer;
    }
  }
  if (!policy.audience.empty() && !audienceContains(claims, policy.audience)) {
    return JwtError::WrongAudience;
  }
  return JwtError::None;
}

// Control characters other than HTAB: never allowed in a field value (and
// CR/LF/NUL would split or cut the header).
bool fitsHeader(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

std::optional<std::string> claimText(const Json& value) {
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (value.is_number() || value.is_boolean()) {
    text = value.dump();
  } else {
    return std::nullopt;
  }
  if (!fitsHeader(text)) return std::nullopt;
  return text;
}

void collectOutputs(const Json& claims, const JwtPolicy& policy, JwtVerdict& verdict) {
  auto sub = claims.find("sub");
  if (sub != claims.end() && sub->is_string() && fitsHeader(sub->get_ref<const std::string&>())) {
    verdict.subject = sub->get<std::string>();
  }
  for (const config::ClaimHeader& ch : policy.claimsToHeaders) {
    auto it = claims.find(ch.claim);
    if (it == claims.end()) continue;
    if (auto text = claimText(*it)) verdict.headers.push_back({ch.header, std::move(*text)});
  }
}

JwtError verifyInto(std::string_view token, std::span<const config::JsonWebKey> keys,
                    const JwtPolicy& policy, std::chrono::system_clock::time_point now,
                    JwtVerdict& verdict) {
  if (token.empty() || token.size() > kMaxJwtSize) return JwtError::Malformed;
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return JwtError::Malformed;  // not exactly three parts
  }
  JoseHeader header;
  if (JwtError e = readHeader(token.substr(0, dot1), header); e != JwtError::None) return e;
  auto signature = decodeBase64Url(token.substr(dot2 + 1));
  if (!signature) return JwtError::Malformed;
  JwtError e = checkSignature(header, keys, token.substr(0, dot2), *signature);
  if (e != JwtError::None) return e;
  auto claims = decodeObject(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!claims) return JwtError::Malformed;
  if (e = checkTimes(*claims, policy, now); e != JwtError::None) return e;
  if (e = checkIssuerAudience(*claims, policy); e != JwtError::None) return e;
  collectOutputs(*claims, policy, verdict);
  return JwtError::None;
}

}  // namespace

std::string_view jwtErrorName(JwtError e) {
  switch (e) {
    case JwtError::None: return "";
    case JwtError::Malformed: return "malformed";
    case JwtError::AlgRefused: return "alg_refused";
    case JwtError::UnknownKid: return "unknown_kid";
    case JwtError::BadSignature: return "bad_signature";
    case JwtError::Expired: return "expired";
    case JwtError::NotYetValid: return "not_yet_valid";
    case JwtError::WrongIssuer: return "wrong_issuer";
    case JwtError::WrongAudience: return "wrong_audience";
  }
  return "malformed";
}

JwtVerdict verifyJwt(std::string_view token, std::span<const config::JsonWebKey> keys,
                     const JwtPolicy& policy, std::chrono::system_clock::time_point now) {
  JwtVerdict verdict;
  try {
    verdict.error = verifyInto(token, keys, policy, now, verdict);
  } catch (const std::exception&) {
    verdict.error = JwtError::Malformed;  // fail closed (e.g. bad_alloc)
  }
  if (!verdict.ok()) {
    verdict.subject.clear();
    verdict.headers.clear();
  }
  return verdict;
}

}  // namespace ringlb::l7
