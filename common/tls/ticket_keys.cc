#include "common/tls/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>

namespace ringlb::tls {
namespace {

// The SSL_CTX slot that points back to the keys (the callback has no
// argument of its own).
int keysIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

TicketKeys::TicketKeys(std::chrono::seconds rotation, std::function<Clock::time_point()> now)
    : rotation_(rotation), now_(std::move(now)) {
  ok_ = randomKey(current_);
  rotateAt_ = now_() + rotation_;
}

bool TicketKeys::randomKey(Key& key) {
  return RAND_bytes(key.name.data(), key.name.size()) == 1 &&
         RAND_bytes(key.aes.data(), key.aes.size()) == 1 &&
         RAND_bytes(key.hmac.data(), key.hmac.size()) == 1;
}

void TicketKeys::rotateIfDue() {
  Clock::time_point now = now_();
  if (now < rotateAt_) return;
  Key next;
  if (!randomKey(next)) return;  // keep the current key; try again on the next ticket
  // After a long quiet spell the current key is older than one period too.
  bool twoPeriods = now >= rotateAt_ + rotation_;
  previous_.reset();
  if (!twoPeriods) previous_ = current_;
  OPENSSL_cleanse(current_.aes.data(), current_.aes.size());
  OPENSSL_cleanse(current_.hmac.data(), current_.hmac.size());
  current_ = next;
  OPENSSL_cleanse(next.aes.data(), next.aes.size());
  OPENSSL_cleanse(next.hmac.data(), next.hmac.size());
  rotateAt_ = now + rotation_;
}

void TicketKeys::install(SSL_CTX* ctx) {
  SSL_CTX_set_ex_data(ctx, keysIndex(), this);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, callback);
  SSL_CTX_set_timeout(ctx, static_cast<long>(ticketLifetime().count()));
}

int TicketKeys::callback(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                         EVP_MAC_CTX* mac, int enc) {
  // Every context of a listener (one per certificate) carries the keys.
  auto* self = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), keysIndex()));
  if (self == nullptr) return -1;
  return self->onTicket(name, iv, cipher, mac, enc);
}

int TicketKeys::onTicket(unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                         EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc) {
  Key key;
  int result = 1;
  {
    std::lock_guard lock(mu_);
    if (!ok_) return 0;  // no key (RAND failed at start): no ticket, full handshakes
    rotateIfDue();
    if (enc == 1) {
      key = current_;
    } else if (std::memcmp(name, current_.name.data(), current_.name.size()) == 0) {
      key = current_;
    } else if (previous_ &&
               std::memcmp(name, previous_->name.data(), previous_->name.size()) == 0) {
      key = *previous_;
      result = 2;
    } else {
      return 0;
    }
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  bool ok;
  if (enc == 1) {
    int ivLength = EVP_CIPHER_get_iv_length(EVP_aes_256_cbc());
    std::memcpy(name, key.name.data(), key.name.size());
    ok = RAND_bytes(iv, ivLength) == 1 &&
         EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) == 1 &&
         EVP_MAC_CTX_set_params(mac, params) == 1;
  } else {
    ok = EVP_MAC_CTX_set_params(mac, params) == 1 &&
         EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv) == 1;
  }
  OPENSSL_cleanse(key.aes.data(), key.aes.size());
  OPENSSL_cleanse(key.hmac.data(), key.hmac.size());
  return ok ? result : -1;
}

}  // namespace ringlb::tls
