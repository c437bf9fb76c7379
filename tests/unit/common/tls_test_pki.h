// Test certificates made in memory with OpenSSL and written as PEM files to a
// temporary directory: self-signed leaves with chosen DNS names.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "config/model.h"

namespace ringlb::tls::testing {

class TempPki {
 public:
  TempPki() {
    char tmpl[] = "/tmp/ringlb-tls-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~TempPki() { std::filesystem::remove_all(dir_); }

  // A key and a self-signed certificate for CN `cn` with DNS SANs `sans`,
  // valid for an hour (`expired`: it ended a minute ago).
  config::CertificateConfig leaf(const std::string& stem, const std::string& cn,
                                 const std::vector<std::string>& sans, bool expired = false) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), ++serial_);
    X509_gmtime_adj(X509_getm_notBefore(x), expired ? -7200 : -60);
    X509_gmtime_adj(X509_getm_notAfter(x), expired ? -60 : 3600);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, name);
    if (!sans.empty()) {
      std::string list;
      for (const auto& s : sans) list += (list.empty() ? "DNS:" : ",DNS:") + s;
      X509V3_CTX ctx;
      X509V3_set_ctx_nodb(&ctx);
      X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, list.c_str());
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    }
    X509_sign(x, key, EVP_sha256());
    config::CertificateConfig c{path(stem + ".pem"), path(stem + ".key")};
    FILE* f = fopen(c.certFile.c_str(), "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(c.keyFile.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(key);
    return c;
  }

  std::string write(const std::string& name, const std::string& text) {
    std::string p = path(name);
    FILE* f = fopen(p.c_str(), "w");
    fputs(text.c_str(), f);
    fclose(f);
    return p;
  }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
  long serial_ = 0;
};

}  // namespace ringlb::tls::testing
