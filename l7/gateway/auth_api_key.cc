#include "l7/gateway/auth_api_key.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <array>
#include <cstdint>

namespace ringlb::l7 {

std::optional<std::string_view> verifyApiKey(const config::AuthCredentials& credentials,
                                             std::string_view key) {
  std::array<uint8_t, 32> digest{};
  unsigned int len = 0;
  if (key.empty() ||
      EVP_Digest(key.data(), key.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != digest.size()) {
    return std::nullopt;
  }
  // Every digest is compared; the match is recorded without leaving early.
  const std::string* name = nullptr;
  for (const auto& [keyName, expected] : credentials.apiKeys) {
    bool equal = CRYPTO_memcmp(expected.data(), digest.data(), digest.size()) == 0;
    if (equal && name == nullptr) name = &keyName;
  }
  if (name == nullptr) return std::nullopt;
  return std::string_view(*name);
}

}  // namespace ringlb::l7
