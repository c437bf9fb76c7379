#include "config/tls_files.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>

namespace ringlb::config {
namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// OpenSSL's reason for the last failure, and the error queue left empty.
std::string lastError() {
  unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "no PEM data found";
  const char* reason = ERR_reason_error_string(code);
  return reason != nullptr ? reason : fmt::format("OpenSSL error {:#x}", code);
}

// Never prompts on a terminal for an encrypted key.
int noPassphrase(char*, int, int, void*) { return -1; }

}  // namespace

CertificatePairProblem checkCertificatePair(const std::string& certFile,
                                            const std::string& keyFile) {
  ERR_clear_error();
  std::unique_ptr<BIO, BioFree> certBio(BIO_new_file(certFile.c_str(), "r"));
  std::unique_ptr<X509, X509Free> cert(
      certBio ? PEM_read_bio_X509_AUX(certBio.get(), nullptr, noPassphrase, nullptr) : nullptr);
  if (!cert) {
    return {false, fmt::format("\"{}\" is not a PEM certificate: {}", certFile, lastError())};
  }
  std::unique_ptr<BIO, BioFree> keyBio(BIO_new_file(keyFile.c_str(), "r"));
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      keyBio ? PEM_read_bio_PrivateKey(keyBio.get(), nullptr, noPassphrase, nullptr) : nullptr);
  if (!key) {
    return {true,
            fmt::format("\"{}\" is not an unencrypted PEM private key: {}", keyFile, lastError())};
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return {true,
            fmt::format("private key \"{}\" does not match certificate \"{}\"", keyFile, certFile)};
  }
  return {};
}

std::string checkCaFile(const std::string& file) {
  ERR_clear_error();
  std::unique_ptr<BIO, BioFree> bio(BIO_new_file(file.c_str(), "r"));
  int count = 0;
  while (bio) {
    std::unique_ptr<X509, X509Free> cert(
        PEM_read_bio_X509(bio.get(), nullptr, noPassphrase, nullptr));
    if (!cert) break;
    ++count;
  }
  // The loop ends at the end of the file (PEM_R_NO_START_LINE) or on a
  // certificate that does not parse.
  unsigned long code = ERR_peek_last_error();
  bool atEnd = ERR_GET_LIB(code) == ERR_LIB_PEM && ERR_GET_REASON(code) == PEM_R_NO_START_LINE;
  if (count > 0 && (code == 0 || atEnd)) {
    ERR_clear_error();
    return {};
  }
  if (count == 0) return fmt::format("\"{}\" holds no PEM certificate: {}", file, lastError());
  return fmt::format("\"{}\": certificate {} does not parse: {}", file, count + 1, lastError());
}

}  // namespace ringlb::config
