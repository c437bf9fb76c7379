#include "config/auth_files.h"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <system_error>
#include <vector>

#include "common/ascii.h"
#include "config/diagnostics.h"
#include "config/size.h"

namespace ringlb::config {
namespace {

using Json = nlohmann::json;

// A password or key file of a few thousand lines is far below this; it
// stops a wrong path (a log, a disk image) from being read into memory.
constexpr size_t kMaxLineFileSize = 16 << 20;
constexpr size_t kMaxJwksSize = 1 << 20;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;       // OpenSSL refuses to verify with more
constexpr size_t kMinHmacKeyBytes = 32;  // RFC 7518 3.2: at least the hash size
constexpr size_t kP256CoordinateBytes = 32;

constexpr std::string_view kAcceptedHashes =
    "accepted: bcrypt ($2y$, from `htpasswd -B`), SHA-512-crypt ($6$) or yescrypt ($y$)";

std::string readFile(const std::string& file, size_t maxSize, std::string* error) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    *error = fmt::format("{}: cannot open: {}", file, std::generic_category().message(errno));
    return {};
  }
  std::string text;
  char buffer[64 * 1024];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > maxSize) {
      *error = fmt::format("{}: larger than {}", file, formatSize(maxSize));
      return {};
    }
  }
  if (in.bad()) *error = fmt::format("{}: read error", file);
  return text;
}

// Calls check(lineNumber, line) for each line that is not blank or a `#`
// comment, trimmed; stops at the first error, returned as "FILE:LINE: why".
template <typename Check>
std::string forEachLine(std::string_view text, std::string_view file, Check&& check) {
  size_t number = 0;
  while (!text.empty()) {
    ++number;
    size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    if (line.empty() || line.front() == '#') continue;
    std::string why = check(number, line);
    if (!why.empty()) return fmt::format("{}:{}: {}", file, number, why);
  }
  return {};
}

// ---- htpasswd ----

// crypt(3)'s base-64 alphabet.
bool isCrypt64(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '/';
  });
}

bool isDigits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The `$`-separated fields after the scheme's `$ID$` prefix.
std::vector<std::string_view> cryptFields(std::string_view rest) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (size_t dollar; (dollar = rest.find('$', start)) != std::string_view::npos;
       start = dollar + 1) {
    fields.push_back(rest.substr(start, dollar - start));
  }
  fields.push_back(rest.substr(start));
  return fields;
}

// $2y$NN$ + 22 characters of salt and 31 of hash.
bool isBcrypt(std::string_view rest) {
  auto f = cryptFields(rest);
  return f.size() == 2 && isDigits(f[0]) && f[0].size() == 2 && f[0] >= "04" && f[0] <= "31" &&
         f[1].size() == 53 && isCrypt64(f[1]);
}

// $6$[rounds=N$]salt$ + 86 characters of hash.
bool isSha512Crypt(std::string_view rest) {
  auto f = cryptFields(rest);
  if (f.size() == 3 && f[0].starts_with("rounds=") && isDigits(f[0].substr(7))) {
    f.erase(f.begin());
  }
  return f.size() == 2 && !f[0].empty() && f[0].size() <= 16 &&
         f[0].find_first_of(" \t:") == std::string_view::npos && f[1].size() == 86 &&
         isCrypt64(f[1]);
}

// $y$params$salt$ + 43 characters of hash.
bool isYescrypt(std::string_view rest) {
  auto f = cryptFields(rest);
  return f.size() == 3 && !f[0].empty() && isCrypt64(f[0]) && !f[1].empty() && isCrypt64(f[1]) &&
         f[2].size() == 43 && isCrypt64(f[2]);
}

// Why `hash` is refused, or empty. Never quotes the hash: it may be a password.
std::string checkPasswordHash(std::string_view hash) {
  struct Scheme {
    std::string_view prefix;
    std::string_view name;
    bool (*valid)(std::string_view);
  };
  static constexpr Scheme kSchemes[] = {{"$2y$", "bcrypt", isBcrypt},
                                        {"$2b$", "bcrypt", isBcrypt},
                                        {"$2a$", "bcrypt", isBcrypt},
                                        {"$6$", "SHA-512-crypt", isSha512Crypt},
                                        {"$y$", "yescrypt", isYescrypt}};
  for (const Scheme& scheme : kSchemes) {
    if (!hash.starts_with(scheme.prefix)) continue;
    if (scheme.valid(hash.substr(scheme.prefix.size()))) return {};
    return fmt::format("malformed {} hash (cut or edited?)", scheme.name);
  }
  if (hash.starts_with("$apr1$"))
    return fmt::format("APR1-MD5 ($apr1$) is refused; {}", kAcceptedHashes);
  if (hash.starts_with("{SHA}"))
    return fmt::format("unsalted SHA-1 ({{SHA}}) is refused; {}", kAcceptedHashes);
  // "$ID$...": another crypt(3) scheme, named by its short alphanumeric ID.
  size_t second = hash.size() > 1 ? hash.find('$', 1) : std::string_view::npos;
  bool cryptId = hash.starts_with('$') && second != std::string_view::npos && second >= 2 &&
                 second <= 6 && std::all_of(hash.begin() + 1, hash.begin() + second, [](char c) {
                   return std::isalnum(static_cast<unsigned char>(c));
                 });
  if (cryptId) {
    return fmt::format("the crypt scheme {} is refused; {}", quote(hash.substr(0, second + 1)),
                       kAcceptedHashes);
  }
  return fmt::format("not a password hash (plain text is refused); {}", kAcceptedHashes);
}

// ---- API keys ----

std::optional<std::array<uint8_t, 32>> sha256Digest(std::string_view hex) {
  std::array<uint8_t, 32> out{};
  if (hex.size() != out.size() * 2) return std::nullopt;
  for (size_t i = 0; i < out.size(); ++i) {
    int high = hexDigitValue(hex[2 * i]);
    int low = hexDigitValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(high * 16 + low);
  }
  return out;
}

bool isPrintableWord(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) > ' ' && c != 0x7f;
  });
}

// ---- JWKS ----

// RFC 7515 base64url without padding (trailing `=` tolerated); nullopt when
// any other byte appears or the length cannot be base64.
std::optional<std::string> base64Url(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    int v = (c >= 'A' && c <= 'Z')   ? c - 'A'
            : (c >= 'a' && c <= 'z') ? c - 'a' + 26
            : (c >= '0' && c <= '9') ? c - '0' + 52
            : c == '-'               ? 62
            : c == '_'               ? 63
                                     : -1;
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xff);
    }
  }
  return out;
}

struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;

// A public key of `type` ("RSA", "EC") from the parameters in `bld`, checked
// by OpenSSL (an EC point must be on the curve); null when refused.
std::shared_ptr<EVP_PKEY> publicKeyFromParams(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  std::shared_ptr<EVP_PKEY> key(raw, EVP_PKEY_free);
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  bool ok = check && EVP_PKEY_public_check(check.get()) == 1;
  ERR_clear_error();
  return ok ? key : nullptr;
}

// A member that must be a base64url string; error set when it is not.
std::optional<std::string> member(const Json& jwk, const char* name, std::string* error) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    *error = fmt::format("needs \"{}\" (a base64url string)", name);
    return std::nullopt;
  }
  auto bytes = base64Url(it->get_ref<const std::string&>());
  if (!bytes || bytes->empty()) {
    *error = fmt::format("\"{}\" is not valid base64url", name);
    return std::nullopt;
  }
  return bytes;
}

std::string octKey(const Json& jwk, JsonWebKey& key) {
  std::string error;
  auto secret = member(jwk, "k", &error);
  if (!secret) return error;
  if (secret->size() < kMinHmacKeyBytes) {
    return fmt::format("an HS256 key needs at least {} bytes (this one has {})", kMinHmacKeyBytes,
                       secret->size());
  }
  key.secret = std::move(*secret);
  return {};
}

std::string rsaKey(const Json& jwk, JsonWebKey& key) {
  std::string error;
  auto n = member(jwk, "n", &error);
  auto e = n ? member(jwk, "e", &error) : std::nullopt;
  if (!e) return error;
  auto bn = [](const std::string& bytes) {
    return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                           static_cast<int>(bytes.size()), nullptr));
  };
  BnPtr modulus = bn(*n);
  BnPtr exponent = bn(*e);
  int bits = modulus ? BN_num_bits(modulus.get()) : 0;
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return fmt::format("an RS256 key needs {} to {} bits (this one has {})", kMinRsaBits,
                       kMaxRsaBits, bits);
  }
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || !exponent ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, modulus.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, exponent.get())) {
    return "cannot build the RSA key (out of memory?)";
  }
  key.publicKey = publicKeyFromParams("RSA", bld.get());
  return key.publicKey ? std::string() : "not a valid RSA public key (check \"e\")";
}

std::string ecKey(const Json& jwk, JsonWebKey& key) {
  auto crv = jwk.find("crv");
  if (crv == jwk.end() || *crv != "P-256") return "EC keys must have \"crv\": \"P-256\" (ES256)";
  std::string error;
  auto x = member(jwk, "x", &error);
  auto y = x ? member(jwk, "y", &error) : std::nullopt;
  if (!y) return error;
  if (x->size() != kP256CoordinateBytes || y->size() != kP256CoordinateBytes) {
    return fmt::format("P-256 \"x\" and \"y\" must be {} bytes each", kP256CoordinateBytes);
  }
  std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return "cannot build the EC key (out of memory?)";
  }
  key.publicKey = publicKeyFromParams("EC", bld.get());
  return key.publicKey ? std::string() : "\"x\" and \"y\" are not a point on P-256";
}

// One entry of "keys": an error, or `key` filled, or `skip` set.
std::string jwk(const Json& entry, JsonWebKey& key, bool& skip) {
  if (!entry.is_object()) return "is not a JSON object";
  auto use = entry.find("use");
  if (use != entry.end() && !use->is_string()) return "\"use\" must be a string";
  if (use != entry.end() && *use != "sig") {
    skip = true;  // an encryption key published beside the signing keys
    return {};
  }
  auto kid = entry.find("kid");
  if (kid != entry.end() && !kid->is_string()) return "\"kid\" must be a string";
  if (kid != entry.end()) key.kid = kid->get<std::string>();
  auto kty = entry.find("kty");
  if (kty == entry.end() || !kty->is_string()) return "needs \"kty\" (oct, RSA or EC)";
  static const std::map<std::string, std::string, std::less<>> kAlgByKty = {
      {"oct", "HS256"}, {"RSA", "RS256"}, {"EC", "ES256"}};
  auto known = kAlgByKty.find(kty->get_ref<const std::string&>());
  if (known == kAlgByKty.end()) {
    return fmt::format("\"kty\" {} is not supported (oct, RSA or EC)",
                       quote(kty->get_ref<const std::string&>()));
  }
  key.alg = known->second;
  auto alg = entry.find("alg");
  if (alg != entry.end() && *alg != key.alg) {
    std::string shown = alg->is_string() ? alg->get<std::string>() : alg->dump();
    return fmt::format("\"alg\" {} does not go with \"kty\" {} (only {})", quote(shown),
                       quote(known->first), key.alg);
  }
  if (known->first == "oct") return octKey(entry, key);
  if (known->first == "RSA") return rsaKey(entry, key);
  return ecKey(entry, key);
}

// "keys[2]" or "keys[2] (kid "a")" for messages.
std::string describeKey(size_t index, const Json& entry) {
  auto kid = entry.is_object() ? entry.find("kid") : entry.end();
  if (kid == entry.end() || !kid->is_string()) return fmt::format("keys[{}]", index);
  return fmt::format("keys[{}] (kid {})", index, quote(kid->get_ref<const std::string&>()));
}

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column
// 2: syntax error ..." without the parts FILE:LINE already says.
std::string jsonSyntaxError(const Json::parse_error& e, std::string_view text,
                            std::string_view file) {
  std::string what = e.what();
  size_t column = what.find(", column ");
  size_t colon = column == std::string::npos ? what.find("] ") : what.find(": ", column);
  std::string reason = colon == std::string::npos ? what : what.substr(colon + 2);
  // "last read: '...'" may quote a secret.
  reason = reason.substr(0, reason.find("; last read"));
  size_t end = std::min<size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
  size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + end, '\n'));
  return fmt::format("{}:{}: not valid JSON: {}", file, line, reason);
}

}  // namespace

std::string parseHtpasswd(std::string_view text, std::string_view file, AuthCredentials& out) {
  std::string error = forEachLine(text, file, [&](size_t, std::string_view line) -> std::string {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return "expected user:HASH";
    std::string_view user = line.substr(0, colon);
    if (!isPrintableWord(user)) return "the user name is empty or has spaces or control bytes";
    std::string why = checkPasswordHash(line.substr(colon + 1));
    if (!why.empty()) return fmt::format("user {}: {}", quote(user), why);
    if (!out.users.emplace(std::string(user), std::string(line.substr(colon + 1))).second) {
      return fmt::format("user {} is listed twice", quote(user));
    }
    return {};
  });
  if (error.empty() && out.users.empty()) {
    error = fmt::format("{}: no users (lines of user:HASH)", file);
  }
  return error;
}

std::string parseApiKeys(std::string_view text, std::string_view file, AuthCredentials& out) {
  std::map<std::array<uint8_t, 32>, size_t> seen;  // digest -> line
  std::string error = forEachLine(text, file, [&](size_t number, std::string_view line) {
    size_t colon = line.rfind(':');
    std::string_view name = colon == std::string_view::npos ? "" : line.substr(0, colon);
    std::string_view hex = line.substr(colon == std::string_view::npos ? 0 : colon + 1);
    if (colon != std::string_view::npos && !isPrintableWord(name)) {
      return std::string("the name before ':' is empty or has spaces or control bytes");
    }
    auto digest = sha256Digest(hex);
    if (!digest) {
      // Never shown: it may be the key itself.
      return fmt::format(
          "expected a SHA-256 hex digest (64 hex characters), got {} characters; store the "
          "digest, not the key: printf %s KEY | sha256sum",
          hex.size());
    }
    auto [it, added] = seen.emplace(*digest, number);
    if (!added) return fmt::format("the same digest as line {}", it->second);
    out.apiKeys.emplace_back(std::string(name), *digest);
    return std::string();
  });
  if (error.empty() && out.apiKeys.empty()) {
    error = fmt::format("{}: no keys (lines of a SHA-256 hex digest, or name:digest)", file);
  }
  return error;
}

std::string parseJwks(std::string_view text, std::string_view file, AuthCredentials& out) {
  Json doc;
  try {
    doc = Json::parse(text);
  } catch (const Json::parse_error& e) {
    return jsonSyntaxError(e, text, file);
  } catch (const Json::exception& e) {
    // out_of_range: a number too large for a double ("1E77777"), found by
    // the fuzz target.
    return fmt::format("{}: not a usable JSON document: {}", file, e.what());
  }
  auto keys = doc.is_object() ? doc.find("keys") : doc.end();
  if (!doc.is_object() || keys == doc.end() || !keys->is_array()) {
    return fmt::format("{}: expected a JWKS document: {{\"keys\": [...]}}", file);
  }
  std::set<std::pair<std::string, std::string>> ids;  // (kid, alg) of keys with a kid
  for (size_t i = 0; i < keys->size(); ++i) {
    const Json& entry = (*keys)[i];
    JsonWebKey key;
    bool skip = false;
    std::string why = jwk(entry, key, skip);
    if (why.empty() && !key.kid.empty() && !ids.emplace(key.kid, key.alg).second) {
      why = "another key has the same \"kid\" and algorithm";
    }
    if (!why.empty()) return fmt::format("{}: {}: {}", file, describeKey(i, entry), why);
    if (!skip) out.jwks.push_back(std::move(key));
  }
  if (out.jwks.empty()) {
    return fmt::format("{}: no usable key (oct, RSA or EC P-256 with \"use\": \"sig\" or no use)",
                       file);
  }
  return {};
}

AuthFileResult readAuthFile(AuthType type, const std::string& file) {
  std::string error;
  std::string text =
      readFile(file, type == AuthType::Jwt ? kMaxJwksSize : kMaxLineFileSize, &error);
  if (!error.empty()) return {nullptr, error};
  auto credentials = std::make_shared<AuthCredentials>();
  switch (type) {
    case AuthType::Basic: error = parseHtpasswd(text, file, *credentials); break;
    case AuthType::ApiKey: error = parseApiKeys(text, file, *credentials); break;
    case AuthType::Jwt: error = parseJwks(text, file, *credentials); break;
  }
  if (!error.empty()) return {nullptr, error};
  return {std::move(credentials), {}};
}

}  // namespace ringlb::config
