// TlsContext: the server side TLS set-up of one listener, built from its
// `[listeners.NAME.tls]` certificates: one SSL_CTX per certificate, all with
// the same policy (TLS 1.2 and 1.3 only, forward-secret AEAD ciphers, ALPN
// from the listener's `protocols`, session tickets). Connections start on the first certificate's
// SSL_CTX; the SNI callback switches to the certificate whose names (DNS SANs,
// else the subject CN) match the requested name: an exact name first, then a
// one-label wildcard ("*.example.com"), else the first certificate.
//
// With an `ocsp` file, a certificate's OCSP response is stapled to every
// handshake whose client asks (status_request); one that is stale is logged
// and not stapled.
//
// Built on any thread (it reads files); afterwards used by one worker, which
// keeps it alive (shared_ptr) for as long as a connection may still be in its
// handshake, since the SNI callback points back to it.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"

namespace ringlb::tls {

class TicketKeys;

class TlsContext {
 public:
  // Null with `error` set ("cannot load certificate FILE: REASON", ...).
  // `alpn`: the protocols offered, ALPN wire format in order of preference
  // (alpnOffer(); empty: no ALPN, as on tcp listeners).
  // `ticketKeys` (which must outlive the context): session tickets under the
  // server's shared keys, resumable on any worker; null: OpenSSL's own keys
  // of this context. `sessionContext` (the listener's name) keeps a session
  // from resuming on another listener.
  static std::shared_ptr<TlsContext> build(const config::TlsConfig& tls, std::string alpn,
                                           std::string* error, TicketKeys* ticketKeys = nullptr,
                                           std::string_view sessionContext = {});
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Where each connection starts: the first (default) certificate.
  SSL_CTX* defaultContext() const { return certs_.front().ctx; }
  // The certificate for an SNI name (index into the configured list).
  size_t pick(std::string_view serverName) const;
  // The names each certificate answers for, lower case (for tests and logs).
  const std::vector<std::string>& names(size_t index) const { return certs_[index].names; }
  size_t size() const { return certs_.size(); }

 private:
  struct Cert {
    SSL_CTX* ctx = nullptr;
    std::vector<std::string> names;
    std::string ocsp;  // the DER OCSP response stapled, empty for none
  };
  TlsContext() = default;
  bool add(const config::CertificateConfig& cert, std::string* error);
  void shareSessions(SSL_CTX* ctx, TicketKeys* ticketKeys, std::string_view sessionContext);
  static int onServerName(SSL* ssl, int* alert, void* arg);
  // Reads `ocsp` for the certificate just added (a problem: logged, none stapled).
  void loadStaple(const config::CertificateConfig& cert);
  static int onStatusRequest(SSL* ssl, void* arg);

  std::vector<Cert> certs_;
  std::string alpn_;  // the ALPN callback reads it for as long as the context lives
};

// ALPN protocol names in wire format (a length byte, then the name).
inline constexpr std::string_view kAlpnHttp11{"\x08http/1.1", 9};
inline constexpr std::string_view kAlpnH2{"\x02h2", 3};

// What an http listener offers by ALPN, from its `protocols` (h2c is not
// negotiated: it is prior knowledge); empty for other modes.
std::string alpnOffer(const config::ListenerConfig& listener);

// Whether a certificate name matches a requested host name (both compared
// without case): equal, or "*.suffix" for exactly one extra leading label.
bool tlsNameMatches(std::string_view pattern, std::string_view host);

}  // namespace ringlb::tls
