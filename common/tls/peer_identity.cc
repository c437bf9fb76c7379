#include "common/tls/peer_identity.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/x509v3.h>

#include <memory>

namespace ringlb::tls {
namespace {

// Printable ASCII as is; every other byte as \XX.
void appendEscaped(std::string& out, const unsigned char* data, size_t length) {
  for (size_t i = 0; i < length; ++i) {
    unsigned char c = data[i];
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\{:02X}", c);
    }
  }
}

std::string subjectOf(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  if (!bio) return {};
  // RFC 2253 order and escaping; UTF-8 kept as bytes, escaped below.
  unsigned long flags = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
  if (X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, flags) < 0) return {};
  char* data = nullptr;
  long length = BIO_get_mem_data(bio.get(), &data);
  std::string out;
  appendEscaped(out, reinterpret_cast<const unsigned char*>(data), static_cast<size_t>(length));
  return out;
}

void appendName(std::string& out, const char* kind, const ASN1_STRING* s) {
  if (!out.empty()) out += ", ";
  out += kind;
  appendEscaped(out, ASN1_STRING_get0_data(s), static_cast<size_t>(ASN1_STRING_length(s)));
}

std::string altNamesOf(X509* cert) {
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  std::string out;
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
    switch (name->type) {
      case GEN_DNS: appendName(out, "DNS:", name->d.dNSName); break;
      case GEN_URI: appendName(out, "URI:", name->d.uniformResourceIdentifier); break;
      case GEN_EMAIL: appendName(out, "email:", name->d.rfc822Name); break;
      case GEN_IPADD: {
        const ASN1_OCTET_STRING* ip = name->d.iPAddress;
        char text[INET6_ADDRSTRLEN] = {};
        int family = ASN1_STRING_length(ip) == 4 ? AF_INET : AF_INET6;
        if (ASN1_STRING_length(ip) != 4 && ASN1_STRING_length(ip) != 16) break;
        if (inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof text) == nullptr) break;
        if (!out.empty()) out += ", ";
        out += "IP:";
        out += text;
        break;
      }
      default: break;  // other name forms are not passed on
    }
  }
  GENERAL_NAMES_free(names);
  return out;
}

}  // namespace

PeerIdentity peerIdentity(SSL* ssl) {
  PeerIdentity id;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return id;
  id.verified = true;
  id.subject = subjectOf(cert);
  id.san = altNamesOf(cert);
  return id;
}

}  // namespace ringlb::tls
