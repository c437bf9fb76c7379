// Verification of Basic credentials against an htpasswd user map (bcrypt
// $2y$/$2b$/$2a$, SHA-512-crypt $6$, yescrypt $y$) with libcrypt's crypt_rn.
//
// Successful verifications are remembered in a bounded cache keyed by
// SHA-256(user '\0' password '\0' stored hash): a repeated good login costs
// a digest instead of a bcrypt run, and a changed password file (a new hash)
// never matches an old entry. Failures are never cached.
//
// Timing: a wrong password always costs one crypt run, and so does an
// unknown user: the password is then hashed against the first user's hash
// (same algorithm and cost as a real check) and the result thrown away, so
// the answer time does not tell unknown users from wrong passwords (beyond
// the spread of costs within one file). Only a cache hit, which needs the
// right password, is fast. Hashes are compared with CRYPTO_memcmp.
//
// Each crypt run blocks the calling thread (bcrypt cost 10: tens of ms).
//
// Thread rules: one BasicAuthVerifier per worker (its crypt_data, ~32 KiB,
// and its cache are reused on every call); not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "config/model.h"
#include "l7/gateway/auth_cache.h"

struct crypt_data;

namespace ringlb::l7 {

enum class BasicAuthResult : uint8_t { Ok, UnknownUser, BadPassword };

class BasicAuthVerifier {
 public:
  static constexpr size_t kDefaultCacheEntries = 1024;
  // Longer passwords are refused unhashed: SHA-512-crypt's cost grows with
  // the password length (a 30 KiB password would take ~0.1 s).
  static constexpr size_t kMaxPasswordSize = 1024;

  explicit BasicAuthVerifier(size_t cacheEntries = kDefaultCacheEntries);
  ~BasicAuthVerifier();
  BasicAuthVerifier(const BasicAuthVerifier&) = delete;
  BasicAuthVerifier& operator=(const BasicAuthVerifier&) = delete;

  BasicAuthResult verify(const config::AuthCredentials& credentials, std::string_view user,
                         std::string_view password);

  // For tests and metrics.
  uint64_t cacheHits() const { return cacheHits_; }
  uint64_t cryptRuns() const { return cryptRuns_; }
  void clearCache() { cache_.clear(); }

 private:
  bool cryptMatches(const std::string& hash, std::string_view password);

  std::unique_ptr<crypt_data> data_;
  AuthCache cache_;
  uint64_t cacheHits_ = 0;
  uint64_t cryptRuns_ = 0;
};

}  // namespace ringlb::l7
