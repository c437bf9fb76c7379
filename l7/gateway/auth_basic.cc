#include "l7/gateway/auth_basic.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>

namespace ringlb::l7 {
namespace {

// SHA-256(user '\0' password '\0' hash); false if OpenSSL fails (then
// nothing is cached).
bool cacheKey(std::string_view user, std::string_view password, std::string_view hash,
              AuthCache::Digest& out) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const char nul = '\0';
  unsigned int len = 0;
  return ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1 &&
         EVP_DigestUpdate(ctx.get(), user.data(), user.size()) == 1 &&
         EVP_DigestUpdate(ctx.get(), &nul, 1) == 1 &&
         EVP_DigestUpdate(ctx.get(), password.data(), password.size()) == 1 &&
         EVP_DigestUpdate(ctx.get(), &nul, 1) == 1 &&
         EVP_DigestUpdate(ctx.get(), hash.data(), hash.size()) == 1 &&
         EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size();
}

}  // namespace

BasicAuthVerifier::BasicAuthVerifier(size_t cacheEntries)
    : data_(std::make_unique<crypt_data>()), cache_(cacheEntries) {}

BasicAuthVerifier::~BasicAuthVerifier() { OPENSSL_cleanse(data_.get(), sizeof(crypt_data)); }

BasicAuthResult BasicAuthVerifier::verify(const config::AuthCredentials& credentials,
                                          std::string_view user, std::string_view password) {
  // A NUL would end the password early inside crypt ("pw\0x" matching "pw").
  if (password.size() > kMaxPasswordSize || password.find('\0') != std::string_view::npos) {
    return BasicAuthResult::BadPassword;
  }
  auto it = credentials.users.find(user);
  if (it == credentials.users.end()) {
    // Spend what a real check would cost (see the header).
    if (!credentials.users.empty()) cryptMatches(credentials.users.begin()->second, password);
    return BasicAuthResult::UnknownUser;
  }
  AuthCache::Digest key;
  bool keyed = cacheKey(user, password, it->second, key);
  if (keyed && cache_.contains(key)) {
    ++cacheHits_;
    return BasicAuthResult::Ok;
  }
  if (!cryptMatches(it->second, password)) return BasicAuthResult::BadPassword;
  if (keyed) cache_.insert(key);
  return BasicAuthResult::Ok;
}

bool BasicAuthVerifier::cryptMatches(const std::string& hash, std::string_view password) {
  ++cryptRuns_;
  std::string phrase(password);  // crypt wants a NUL-terminated string
  const char* out = crypt_rn(phrase.c_str(), hash.c_str(), data_.get(), sizeof(crypt_data));
  OPENSSL_cleanse(phrase.data(), phrase.size());
  // NULL: the stored hash is no setting libcrypt knows ("!", "*", garbage).
  if (out == nullptr) return false;
  size_t len = std::strlen(out);
  return len == hash.size() && CRYPTO_memcmp(out, hash.data(), len) == 0;
}

}  // namespace ringlb::l7
