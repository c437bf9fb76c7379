// TicketKeys: the keys that encrypt TLS session tickets (TLS 1.2 and 1.3),
// one set per server, shared by every worker and listener, so that a ticket
// issued on one worker resumes on any other (SO_REUSEPORT spreads a
// client's connections over the workers). Made at start, kept across
// reloads (it lives in SharedServices).
//
// Keys rotate every `rotation`: a new key encrypts new tickets, the previous
// one is still accepted for one more period (such a ticket resumes and is
// replaced by one under the current key), older ones are refused (a full
// handshake, and a new ticket). A ticket therefore resumes for at most two
// periods; listeners set the session lifetime to that. Keys never leave the
// process: a restart starts a new set.
//
// Any thread: the handshake callback takes a mutex for a copy of the keys it
// needs (a few hundred bytes, beside a handshake's public-key work), and
// rotates lazily there when the period passed.
#pragma once

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>

namespace ringlb::tls {

class TicketKeys {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kDefaultRotation{3600};

  explicit TicketKeys(std::chrono::seconds rotation = kDefaultRotation,
                      std::function<Clock::time_point()> now = Clock::now);
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  // Makes `ctx` encrypt and decrypt its tickets with these keys; the keys
  // must outlive `ctx`.
  void install(SSL_CTX* ctx);
  // How long a ticket may resume: two rotation periods.
  std::chrono::seconds ticketLifetime() const { return 2 * rotation_; }

  // OpenSSL's callback, public for tests: enc=1 fills `name` and `iv` and
  // sets up the cipher and MAC for a new ticket (1); enc=0 finds the key
  // named `name`: 1 current, 2 previous (resume, then renew), 0 unknown
  // (full handshake), -1 on an internal error.
  int onTicket(unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX* cipher,
               EVP_MAC_CTX* mac, int enc);

 private:
  struct Key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};   // AES-256-CBC
    std::array<unsigned char, 32> hmac{};  // HMAC-SHA256
  };
  static bool randomKey(Key& key);
  // Rotates when the period passed; call with mu_ held.
  void rotateIfDue();
  static int callback(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                      EVP_MAC_CTX* mac, int enc);

  const std::chrono::seconds rotation_;
  const std::function<Clock::time_point()> now_;
  std::mutex mu_;
  Key current_;
  std::optional<Key> previous_;
  Clock::time_point rotateAt_;
  bool ok_ = false;  // the first key was made (RAND_bytes worked)
};

}  // namespace ringlb::tls
