// BackendTls: the client side TLS set-up of one pool on one worker, from
// `[pools.NAME.tls]`: TLS 1.2 and 1.3, the backend's certificate verified
// against `ca` (or the system's trust store) and its name (`server_name`, or
// the backend's host; an IP address is matched against the certificate's IP
// addresses and sends no SNI), an optional client certificate, ALPN
// "http/1.1" or "h2" for http pools (by their `protocol`), and the last session of each backend
// offered again (resumption towards the backends).
//
// Worker thread only (the session store has no lock); each stream it makes
// keeps it alive (TlsStream::keepAlive), since OpenSSL hands it new sessions
// for as long as a connection lives.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/tls/tls_stream.h"
#include "config/model.h"

namespace ringlb::tls {

class BackendTls : public std::enable_shared_from_this<BackendTls> {
 public:
  // Null with `error` set ("cannot load ca FILE: REASON", ...). `alpn`: the
  // protocols offered, in ALPN wire format (empty: no ALPN).
  static std::shared_ptr<BackendTls> build(const config::PoolTlsConfig& tls, std::string_view alpn,
                                           std::string* error);
  ~BackendTls();
  BackendTls(const BackendTls&) = delete;
  BackendTls& operator=(const BackendTls&) = delete;

  // A client stream for a connection to `backend` ("host:port" as written
  // in the pool), null when OpenSSL cannot make one.
  std::unique_ptr<TlsStream> client(const std::string& backend);
  // Why a handshake failed, for the log: the verification error when there
  // was one ("certificate verify failed: hostname mismatch"), else OpenSSL's.
  static std::string failureReason(TlsStream& stream);

 private:
  BackendTls() = default;
  static int onNewSession(SSL* ssl, SSL_SESSION* session);

  SSL_CTX* ctx_ = nullptr;
  std::string serverName_;
  bool verify_ = true;
  // The latest session of each backend (key: the backend as written).
  std::unordered_map<std::string, SSL_SESSION*> sessions_;
};

// The BackendTls of each pool for one worker service, rebuilt after a
// reload (the files are read again); if they no longer load, the previous
// one stays, and a pool that never had one gets null (its connections fail).
// Worker thread only.
class BackendTlsCache {
 public:
  // `snapshot`: the worker's current config; `pool` must have `tls`.
  std::shared_ptr<BackendTls> get(const std::shared_ptr<const config::Config>& snapshot,
                                  const config::PoolConfig& pool, bool http);

 private:
  struct Entry {
    std::weak_ptr<const config::Config> builtFor;
    std::shared_ptr<BackendTls> tls;
  };
  std::unordered_map<std::string, Entry> byPool_;
};

}  // namespace ringlb::tls
