#include "common/tls/backend_tls.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/tls/tls_context.h"

namespace ringlb::tls {
namespace {

// "host:port" or "[v6]:port" -> host.
std::string hostOf(const std::string& backend) {
  if (!backend.empty() && backend.front() == '[') {
    size_t end = backend.find(']');
    return end == std::string::npos ? backend : backend.substr(1, end - 1);
  }
  size_t colon = backend.rfind(':');
  return colon == std::string::npos ? backend : backend.substr(0, colon);
}

bool isIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

std::shared_ptr<BackendTls> BackendTls::build(const config::PoolTlsConfig& tls,
                                              std::string_view alpn, std::string* error) {
  std::shared_ptr<BackendTls> self(new BackendTls());
  ERR_clear_error();
  self->ctx_ = SSL_CTX_new(TLS_client_method());
  if (self->ctx_ == nullptr) {
    *error = "cannot create a TLS context: " + takeOpenSslError("out of memory");
    return nullptr;
  }
  SSL_CTX* ctx = self->ctx_;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  bool trustLoaded = tls.caFile.empty()
                         ? SSL_CTX_set_default_verify_paths(ctx) == 1
                         : SSL_CTX_load_verify_locations(ctx, tls.caFile.c_str(), nullptr) == 1;
  if (!trustLoaded) {
    *error =
        fmt::format("cannot load ca {}: {}", tls.caFile.empty() ? "(the system store)" : tls.caFile,
                    takeOpenSslError("no PEM certificate"));
    return nullptr;
  }
  if (!tls.certFile.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx, tls.certFile.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, tls.keyFile.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
      *error = fmt::format("cannot load client certificate {} / {}: {}", tls.certFile, tls.keyFile,
                           takeOpenSslError("not a matching PEM pair"));
      return nullptr;
    }
  }
  self->verify_ = tls.verify;
  SSL_CTX_set_verify(ctx, tls.verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!alpn.empty()) {
    SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(alpn.data()),
                            static_cast<unsigned>(alpn.size()));
  }
  // Sessions are kept per backend here, not in OpenSSL's cache.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, onNewSession);
  SSL_CTX_set_app_data(ctx, self.get());
  self->serverName_ = tls.serverName;
  return self;
}

BackendTls::~BackendTls() {
  for (auto& [key, session] : sessions_) SSL_SESSION_free(session);
  SSL_CTX_free(ctx_);
}

std::unique_ptr<TlsStream> BackendTls::client(const std::string& backend) {
  std::string name = serverName_.empty() ? hostOf(backend) : serverName_;
  bool ip = isIpAddress(name);
  auto stream = TlsStream::client(ctx_, ip ? std::string_view() : std::string_view(name));
  if (!stream) return nullptr;
  SSL* ssl = stream->ssl();
  if (verify_) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    bool named = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) == 1
                    : SSL_set1_host(ssl, name.c_str()) == 1;
    if (!named) return nullptr;
  }
  auto [it, added] = sessions_.try_emplace(backend, nullptr);
  if (it->second != nullptr) SSL_set_session(ssl, it->second);
  // onNewSession finds the backend's slot; the map's keys do not move.
  SSL_set_app_data(ssl, const_cast<std::string*>(&it->first));
  stream->keepAlive(shared_from_this());
  return stream;
}

int BackendTls::onNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<BackendTls*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  const auto* key = static_cast<const std::string*>(SSL_get_app_data(ssl));
  if (self == nullptr || key == nullptr) return 0;
  // A copy: OpenSSL marks the connection's own session not resumable when
  // the connection ends without close_notify (a backend's Connection: close).
  SSL_SESSION* copy = SSL_SESSION_dup(session);
  if (copy == nullptr) return 0;
  SSL_SESSION*& slot = self->sessions_[*key];
  if (slot != nullptr) SSL_SESSION_free(slot);
  slot = copy;
  return 0;  // OpenSSL keeps its reference to `session`
}

std::string BackendTls::failureReason(TlsStream& stream) {
  long result = SSL_get_verify_result(stream.ssl());
  if (result != X509_V_OK) {
    return fmt::format("certificate verify failed: {}", X509_verify_cert_error_string(result));
  }
  return stream.error().empty() ? "TLS handshake failed" : stream.error();
}

std::shared_ptr<BackendTls> BackendTlsCache::get(
    const std::shared_ptr<const config::Config>& snapshot, const config::PoolConfig& pool,
    bool http) {
  Entry& entry = byPool_[pool.name];
  bool same = !entry.builtFor.owner_before(snapshot) && !snapshot.owner_before(entry.builtFor);
  if (same && entry.builtFor.lock()) return entry.tls;
  entry.builtFor = snapshot;
  std::string error;
  // An http pool offers what it speaks: "h2" or "http/1.1".
  std::string_view alpn;
  if (http) alpn = pool.protocol == config::UpstreamProtocol::H2 ? kAlpnH2 : kAlpnHttp11;
  auto built = BackendTls::build(*pool.tls, alpn, &error);
  if (built) {
    if (!pool.tls->verify) {
      logWarn("pool {}: TLS towards the backends without verification (verify = false)", pool.name);
    }
    entry.tls = std::move(built);
  } else {
    logError("pool {}: TLS: {}{}", pool.name, error,
             entry.tls ? "; the previous settings stay in use" : "; connections will fail");
  }
  return entry.tls;
}

}  // namespace ringlb::tls
