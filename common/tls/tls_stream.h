// TlsStream: one TLS connection (server or client side) over two memory BIOs,
// with no I/O of its own. The owner moves bytes:
//
//   socket ──ciphertext──▶ feedCiphertext() ─▶ SSL ─▶ readPlaintext() ──▶ parser
//   sender ──plaintext──▶ writePlaintext() ─▶ SSL ─▶ takeCiphertext() ──▶ socket
//
// so the ring does every recv/send and OpenSSL never sees the fd. Errors are
// values (TlsStatus plus error() text); nothing throws.
//
// One thread at a time (the owning worker). The SSL_CTX given at creation
// must stay alive until the stream's handshake ended (OpenSSL holds its own
// reference to it afterwards); a server-side SNI callback's argument too.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace ringlb::tls {

enum class TlsStatus : uint8_t {
  Ok,         // progress was made (handshake finished, bytes read or written)
  WantInput,  // needs more ciphertext from the peer
  Closed,     // the peer sent close_notify
  Error,      // fatal: bad record, failed handshake; error() says why
};

class TlsStream {
 public:
  // Null only when OpenSSL cannot allocate.
  static std::unique_ptr<TlsStream> server(SSL_CTX* ctx);
  // `serverName` is sent as SNI when not empty.
  static std::unique_ptr<TlsStream> client(SSL_CTX* ctx, std::string_view serverName);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // Copies bytes received from the peer into the read BIO.
  void feedCiphertext(std::string_view bytes);
  // Advances the handshake: Ok once finished, WantInput while waiting.
  TlsStatus handshake();
  bool handshakeDone() const { return SSL_is_init_finished(ssl_) == 1; }

  struct Read {
    TlsStatus status;
    size_t bytes;
  };
  // Decrypts into `out` as much as is available (several records if they
  // fit). Ok with bytes > 0, or WantInput / Closed / Error with bytes == 0.
  Read readPlaintext(std::span<char> out);
  // Encrypts all of `bytes` (a memory BIO never refuses): Ok or Error.
  TlsStatus writePlaintext(std::string_view bytes);
  // Ciphertext waiting to be sent to the peer.
  size_t pendingCiphertext() const;
  // Appends every pending ciphertext byte to `out`; returns how many.
  size_t takeCiphertext(std::string& out);
  // Queues close_notify (once the handshake finished; otherwise nothing).
  void shutdown();

  // The last error's reason (OpenSSL's text), empty when none.
  const std::string& error() const { return error_; }
  // The SNI name the client asked for (server side), empty when none.
  std::string_view serverName() const;
  // The negotiated ALPN protocol, empty when none.
  std::string_view alpn() const;
  SSL* ssl() { return ssl_; }
  // The handshake resumed a session (a ticket was accepted).
  bool resumed() const { return SSL_session_reused(ssl_) == 1; }
  // Keeps `owner` alive as long as this stream: what OpenSSL's callbacks for
  // this connection point to (a backend context's session store).
  void keepAlive(std::shared_ptr<const void> owner) { owner_ = std::move(owner); }

 private:
  TlsStream(SSL* ssl, BIO* in, BIO* out) : ssl_(ssl), in_(in), out_(out) {}
  static std::unique_ptr<TlsStream> make(SSL_CTX* ctx);
  // Maps an SSL call's return to a status, recording the error text.
  TlsStatus statusOf(int ret);

  SSL* ssl_;
  BIO* in_;   // owned by ssl_: ciphertext from the peer
  BIO* out_;  // owned by ssl_: ciphertext for the peer
  std::string error_;
  std::shared_ptr<const void> owner_;
};

// OpenSSL's text for the oldest error on this thread's queue (which it
// clears), or `fallback` when the queue is empty.
std::string takeOpenSslError(std::string_view fallback);

}  // namespace ringlb::tls
