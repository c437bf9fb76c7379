// Credentials as the gateway's files hold them, made in the test: crypt(3)
// hashes through libcrypt at each method's cheapest cost, and the SHA-256
// digests API keys are stored as.
#pragma once

#include <crypt.h>
#include <openssl/evp.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

namespace ringlb::testing {

// A hash of `password` with the cheapest cost of `prefix`'s method ("$2b$",
// "$6$", "$y$"); "" when libcrypt refuses.
inline std::string makeHash(const char* prefix, unsigned long count, const std::string& password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn(prefix, count, nullptr, 0, setting, sizeof(setting)) == nullptr) return "";
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), setting, data.get(), sizeof(crypt_data));
  return out ? out : "";
}

inline std::string bcrypt(const std::string& password) { return makeHash("$2b$", 4, password); }

inline std::array<uint8_t, 32> sha256(const std::string& s) {
  std::array<uint8_t, 32> d{};
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), d.data(), &len, EVP_sha256(), nullptr);
  return d;
}

}  // namespace ringlb::testing
