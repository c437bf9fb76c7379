#include "common/tls/tls_context.h"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>

#include "common/ascii.h"
#include "common/log.h"
#include "common/tls/ticket_keys.h"
#include "common/tls/tls_stream.h"
#include "config/tls_files.h"

namespace ringlb::tls {
namespace {

// TLS 1.2 suites with forward secrecy and AEAD only (TLS 1.3 keeps OpenSSL's
// defaults, which are all of that kind).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Picks the first of our protocols (`arg`: ALPN wire format, in our order of
// preference) that the client offers. When none matches, a listener that
// serves HTTP/1.1 goes on without ALPN rather than failing the handshake (an
// HTTP/1.1 client may offer only h2); one that serves only h2 refuses it.
int selectAlpn(SSL*, const unsigned char** out, unsigned char* outLen, const unsigned char* in,
               unsigned int inLen, void* arg) {
  const auto* ours = static_cast<const std::string*>(arg);
  std::string_view offered(reinterpret_cast<const char*>(in), inLen);
  std::string_view list(*ours);
  for (size_t i = 0; i < list.size(); i += 1 + static_cast<uint8_t>(list[i])) {
    std::string_view proto = list.substr(i, 1 + static_cast<uint8_t>(list[i]));
    for (size_t j = 0; j < offered.size(); j += 1 + static_cast<uint8_t>(offered[j])) {
      if (offered.substr(j, proto.size()) == proto) {
        *out = in + j + 1;
        *outLen = static_cast<unsigned char>(proto.size() - 1);
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return list.find(kAlpnHttp11) == std::string_view::npos ? SSL_TLSEXT_ERR_ALERT_FATAL
                                                          : SSL_TLSEXT_ERR_NOACK;
}

// An encrypted key would otherwise make OpenSSL prompt on the terminal.
int noPassword(char*, int, int, void*) { return 0; }

// DNS subjectAltNames, else the subject's common name.
std::vector<std::string> certificateNames(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
    if (gn->type != GEN_DNS) continue;
    const ASN1_IA5STRING* s = gn->d.dNSName;
    names.push_back(toLowerCopy({reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                 static_cast<size_t>(ASN1_STRING_length(s))}));
  }
  GENERAL_NAMES_free(sans);
  if (!names.empty()) return names;
  char cn[256] = {};
  X509_NAME* subject = X509_get_subject_name(cert);
  if (subject != nullptr && X509_NAME_get_text_by_NID(subject, NID_commonName, cn, sizeof cn) > 0) {
    names.push_back(toLowerCopy(cn));
  }
  return names;
}

SSL_CTX* newServerContext(const std::string* alpn) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_cipher_list(ctx, kTls12Ciphers);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);  // idle connections hold no record buffer
  // Resumption by stateless tickets only: no server-side cache shared by connections.
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  if (alpn != nullptr) SSL_CTX_set_alpn_select_cb(ctx, selectAlpn, const_cast<std::string*>(alpn));
  SSL_CTX_set_default_passwd_cb(ctx, noPassword);
  return ctx;
}

// Mutual TLS: the client is asked for a certificate from client_ca's CAs
// (their names go in the CertificateRequest); one that does not verify
// fails the handshake, and so does none under `required`.
bool askClientCertificates(SSL_CTX* ctx, const config::TlsConfig& tls, std::string* error) {
  ERR_clear_error();
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.clientCa.c_str());
  if (names == nullptr || SSL_CTX_load_verify_locations(ctx, tls.clientCa.c_str(), nullptr) != 1) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    *error = fmt::format("cannot load client_ca {}: {}", tls.clientCa,
                         takeOpenSslError("no PEM certificate"));
    return false;
  }
  SSL_CTX_set_client_CA_list(ctx, names);
  int mode = SSL_VERIFY_PEER;
  if (tls.clientVerify == config::ClientVerify::Required) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx, mode, nullptr);
  return true;
}

}  // namespace

std::string alpnOffer(const config::ListenerConfig& listener) {
  if (listener.mode != config::ListenerMode::Http) return {};
  std::string out;
  for (config::HttpProtocol p : listener.protocols) {
    if (p == config::HttpProtocol::H2) out += kAlpnH2;
    if (p == config::HttpProtocol::Http11) out += kAlpnHttp11;
  }
  return out;
}

bool tlsNameMatches(std::string_view pattern, std::string_view host) {
  auto equal = [](std::string_view a, std::string_view b) { return equalsIgnoreCase(a, b); };
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  if (host.empty()) return false;
  if (!pattern.starts_with("*.")) return equal(pattern, host);
  std::string_view suffix = pattern.substr(1);  // ".example.com"
  if (host.size() <= suffix.size()) return false;
  std::string_view label = host.substr(0, host.size() - suffix.size());
  return label.find('.') == std::string_view::npos && equal(host.substr(label.size()), suffix);
}

std::shared_ptr<TlsContext> TlsContext::build(const config::TlsConfig& tls, std::string alpn,
                                              std::string* error, TicketKeys* ticketKeys,
                                              std::string_view sessionContext) {
  std::shared_ptr<TlsContext> context(new TlsContext());
  context->alpn_ = std::move(alpn);
  for (const auto& cert : tls.certificates) {
    if (!context->add(cert, error)) return nullptr;
    SSL_CTX* ctx = context->certs_.back().ctx;
    SSL_CTX_set_min_proto_version(
        ctx, tls.minVersion == config::TlsVersion::Tls13 ? TLS1_3_VERSION : TLS1_2_VERSION);
    if (!tls.clientCa.empty() && !askClientCertificates(ctx, tls, error)) return nullptr;
    context->shareSessions(ctx, ticketKeys, sessionContext);
    if (!cert.ocspFile.empty()) context->loadStaple(cert);
  }
  // Now that certs_ no longer moves: each context points at its response.
  for (Cert& c : context->certs_) {
    if (c.ocsp.empty()) continue;
    SSL_CTX_set_tlsext_status_cb(c.ctx, onStatusRequest);
    SSL_CTX_set_tlsext_status_arg(c.ctx, &c.ocsp);
  }
  if (context->certs_.empty()) {
    *error = "no certificate";
    return nullptr;
  }
  return context;
}

bool TlsContext::add(const config::CertificateConfig& cert, std::string* error) {
  ERR_clear_error();
  SSL_CTX* ctx = newServerContext(alpn_.empty() ? nullptr : &alpn_);
  if (ctx == nullptr) {
    *error = "cannot create a TLS context: " + takeOpenSslError("out of memory");
    return false;
  }
  certs_.push_back({ctx, {}, {}});
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.certFile.c_str()) != 1) {
    *error = fmt::format("cannot load certificate {}: {}", cert.certFile,
                         takeOpenSslError("not a PEM certificate"));
    return false;
  }
  bool keyLoaded = SSL_CTX_use_PrivateKey_file(ctx, cert.keyFile.c_str(), SSL_FILETYPE_PEM) == 1;
  if (!keyLoaded && ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
    *error = fmt::format("cannot load private key {}: {}", cert.keyFile,
                         takeOpenSslError("not a PEM private key"));
    return false;
  }
  if (!keyLoaded || SSL_CTX_check_private_key(ctx) != 1) {
    *error = fmt::format("private key {} does not match certificate {}: {}", cert.keyFile,
                         cert.certFile, takeOpenSslError("key values mismatch"));
    return false;
  }
  SSL_CTX_set_tlsext_servername_callback(ctx, onServerName);
  SSL_CTX_set_tlsext_servername_arg(ctx, this);
  certs_.back().names = certificateNames(SSL_CTX_get0_certificate(ctx));
  return true;
}

void TlsContext::shareSessions(SSL_CTX* ctx, TicketKeys* ticketKeys,
                               std::string_view sessionContext) {
  if (ticketKeys != nullptr) ticketKeys->install(ctx);
  if (sessionContext.empty()) return;
  // At most 32 bytes: the listener name's SHA-256.
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(sessionContext.data()), sessionContext.size(),
         digest);
  SSL_CTX_set_session_id_context(ctx, digest, sizeof digest);
}

void TlsContext::loadStaple(const config::CertificateConfig& cert) {
  config::OcspResponse r = config::readOcspResponse(cert.ocspFile, cert.certFile);
  if (!r.problem.empty()) {
    logWarn("TLS: not stapling {}: {}", cert.ocspFile, r.problem);
  } else if (r.stale) {
    logWarn(
        "TLS: not stapling {}: outside its thisUpdate..nextUpdate window (fetch a new "
        "response, then reload)",
        cert.ocspFile);
  } else {
    certs_.back().ocsp = std::move(r.der);
  }
}

// The client asked for certificate status: a copy of the response, which
// OpenSSL frees after sending it.
int TlsContext::onStatusRequest(SSL* ssl, void* arg) {
  const auto* der = static_cast<const std::string*>(arg);
  auto* copy = static_cast<unsigned char*>(OPENSSL_memdup(der->data(), der->size()));
  if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;
  SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(der->size()));
  return SSL_TLSEXT_ERR_OK;
}

TlsContext::~TlsContext() {
  for (Cert& c : certs_) SSL_CTX_free(c.ctx);
}

size_t TlsContext::pick(std::string_view serverName) const {
  if (serverName.empty()) return 0;
  for (bool wildcards : {false, true}) {
    for (size_t i = 0; i < certs_.size(); ++i) {
      for (const std::string& name : certs_[i].names) {
        if (name.starts_with("*.") == wildcards && tlsNameMatches(name, serverName)) return i;
      }
    }
  }
  return 0;
}

int TlsContext::onServerName(SSL* ssl, int*, void* arg) {
  const auto* self = static_cast<const TlsContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_OK;  // no SNI: the default certificate
  size_t index = self->pick(name);
  if (index != 0) SSL_set_SSL_CTX(ssl, self->certs_[index].ctx);
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace ringlb::tls
