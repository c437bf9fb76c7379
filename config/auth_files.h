// Reading the file a route's `auth` names (users_file, keys_file, jwks_file)
// into AuthCredentials at load, so that `check`, `run` and every reload
// refuse a bad file with its FILE:LINE, and requests only look things up.
//
// Main thread (config loading). Uses libcrypto (JWKS public keys) and
// nlohmann-json; no password is hashed here (that is slow on purpose).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "config/model.h"

namespace ringlb::config {

struct AuthFileResult {
  std::shared_ptr<const AuthCredentials> credentials;  // null on failure
  std::string error;  // "FILE:LINE: why" (or "FILE: why") when credentials is null
};

// Reads `file` (a resolved path) as the credentials of an auth of `type`.
AuthFileResult readAuthFile(AuthType type, const std::string& file);

// The parsers on text already read; `file` only names it in messages. Each
// returns an empty string and fills `out`, or the error.
//
// htpasswd: `user:HASH` lines, HASH bcrypt ($2y$, $2b$, $2a$), SHA-512-crypt
// ($6$) or yescrypt ($y$), checked for shape only.
std::string parseHtpasswd(std::string_view text, std::string_view file, AuthCredentials& out);
// API keys: `digest` or `name:digest` lines, digest = 64 hex characters.
std::string parseApiKeys(std::string_view text, std::string_view file, AuthCredentials& out);
// JWKS: {"keys": [...]} with oct (HS256), RSA (RS256) and EC P-256 (ES256) keys.
std::string parseJwks(std::string_view text, std::string_view file, AuthCredentials& out);

}  // namespace ringlb::config
