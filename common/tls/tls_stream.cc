#include "common/tls/tls_stream.h"

#include <openssl/err.h>

#include <climits>

namespace ringlb::tls {

std::string takeOpenSslError(std::string_view fallback) {
  unsigned long code = ERR_get_error();
  std::string text;
  if (code == 0) {
    text = fallback;
  } else {
    const char* reason = ERR_reason_error_string(code);
    text = reason != nullptr ? reason : fallback;
  }
  ERR_clear_error();  // the queue is per thread: leave nothing for the next connection
  return text;
}

std::unique_ptr<TlsStream> TlsStream::make(SSL_CTX* ctx) {
  SSL* ssl = SSL_new(ctx);
  if (ssl == nullptr) return nullptr;
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    SSL_free(ssl);
    return nullptr;
  }
  // An empty read BIO means "no data yet", not end of file.
  BIO_set_mem_eof_return(in, -1);
  BIO_set_mem_eof_return(out, -1);
  SSL_set_bio(ssl, in, out);
  return std::unique_ptr<TlsStream>(new TlsStream(ssl, in, out));
}

std::unique_ptr<TlsStream> TlsStream::server(SSL_CTX* ctx) {
  auto s = make(ctx);
  if (s) SSL_set_accept_state(s->ssl_);
  return s;
}

std::unique_ptr<TlsStream> TlsStream::client(SSL_CTX* ctx, std::string_view serverName) {
  auto s = make(ctx);
  if (!s) return s;
  SSL_set_connect_state(s->ssl_);
  if (!serverName.empty()) {
    std::string name(serverName);
    SSL_set_tlsext_host_name(s->ssl_, name.c_str());
  }
  return s;
}

TlsStream::~TlsStream() { SSL_free(ssl_); }  // frees both BIOs too

void TlsStream::feedCiphertext(std::string_view bytes) {
  while (!bytes.empty()) {
    int n = static_cast<int>(std::min<size_t>(bytes.size(), INT_MAX));
    int wrote = BIO_write(in_, bytes.data(), n);
    if (wrote <= 0) return;  // allocation failure: the handshake or read will fail
    bytes.remove_prefix(static_cast<size_t>(wrote));
  }
}

TlsStatus TlsStream::statusOf(int ret) {
  switch (SSL_get_error(ssl_, ret)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE: ERR_clear_error(); return TlsStatus::WantInput;
    case SSL_ERROR_ZERO_RETURN: ERR_clear_error(); return TlsStatus::Closed;
    default: error_ = takeOpenSslError("TLS protocol error"); return TlsStatus::Error;
  }
}

TlsStatus TlsStream::handshake() {
  if (handshakeDone()) return TlsStatus::Ok;
  ERR_clear_error();
  int ret = SSL_do_handshake(ssl_);
  return ret == 1 ? TlsStatus::Ok : statusOf(ret);
}

TlsStream::Read TlsStream::readPlaintext(std::span<char> out) {
  size_t total = 0;
  while (total < out.size()) {
    ERR_clear_error();
    size_t got = 0;
    int ret = SSL_read_ex(ssl_, out.data() + total, out.size() - total, &got);
    if (ret == 1) {
      total += got;
      continue;
    }
    if (total > 0) break;  // report the bytes now; the condition shows again next call
    return {statusOf(ret), 0};
  }
  return {TlsStatus::Ok, total};
}

TlsStatus TlsStream::writePlaintext(std::string_view bytes) {
  if (bytes.empty()) return TlsStatus::Ok;
  ERR_clear_error();
  size_t written = 0;
  int ret = SSL_write_ex(ssl_, bytes.data(), bytes.size(), &written);
  if (ret == 1 && written == bytes.size()) return TlsStatus::Ok;
  TlsStatus status = statusOf(ret);
  if (status != TlsStatus::Error) error_ = "write before the handshake finished";
  return TlsStatus::Error;
}

size_t TlsStream::pendingCiphertext() const { return BIO_ctrl_pending(out_); }

size_t TlsStream::takeCiphertext(std::string& out) {
  size_t n = BIO_ctrl_pending(out_);
  if (n == 0) return 0;
  size_t at = out.size();
  out.resize(at + n);
  int got = BIO_read(out_, out.data() + at, static_cast<int>(n));
  out.resize(at + static_cast<size_t>(got > 0 ? got : 0));
  return out.size() - at;
}

void TlsStream::shutdown() {
  if (!handshakeDone()) return;
  ERR_clear_error();
  SSL_shutdown(ssl_);  // queues close_notify; the peer's answer is not awaited
  ERR_clear_error();
}

std::string_view TlsStream::serverName() const {
  const char* name = SSL_get_servername(ssl_, TLSEXT_NAMETYPE_host_name);
  return name != nullptr ? std::string_view(name) : std::string_view();
}

std::string_view TlsStream::alpn() const {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_, &data, &len);
  return {reinterpret_cast<const char*>(data), len};
}

}  // namespace ringlb::tls
