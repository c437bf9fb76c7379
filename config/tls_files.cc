#include "config/tls_files.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <iterator>
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

OcspResponse readOcspResponse(const std::string& file, const std::string& certFile) {
  OcspResponse out;
  std::ifstream in(file, std::ios::binary);
  std::string der((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ERR_clear_error();
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<OCSP_RESPONSE, decltype(&OCSP_RESPONSE_free)> response(
      d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())), OCSP_RESPONSE_free);
  if (!response) {
    out.problem = fmt::format("\"{}\" is not a DER OCSP response: {}", file, lastError());
    return out;
  }
  int status = OCSP_response_status(response.get());
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    out.problem = fmt::format("\"{}\": the OCSP response says \"{}\", not successful", file,
                              OCSP_response_status_str(status));
    return out;
  }
  std::unique_ptr<OCSP_BASICRESP, decltype(&OCSP_BASICRESP_free)> basic(
      OCSP_response_get1_basic(response.get()), OCSP_BASICRESP_free);
  std::unique_ptr<BIO, BioFree> certBio(BIO_new_file(certFile.c_str(), "r"));
  std::unique_ptr<X509, X509Free> cert(
      certBio ? PEM_read_bio_X509(certBio.get(), nullptr, noPassphrase, nullptr) : nullptr);
  if (!basic || !cert) {
    out.problem =
        fmt::format("\"{}\": cannot read the response or its certificate: {}", file, lastError());
    return out;
  }
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
  for (int i = 0; i < OCSP_resp_count(basic.get()); ++i) {
    OCSP_SINGLERESP* single = OCSP_resp_get0(basic.get(), i);
    ASN1_INTEGER* singleSerial = nullptr;
    OCSP_id_get0_info(nullptr, nullptr, nullptr, &singleSerial,
                      const_cast<OCSP_CERTID*>(OCSP_SINGLERESP_get0_id(single)));
    if (singleSerial == nullptr || ASN1_INTEGER_cmp(singleSerial, serial) != 0) continue;
    ASN1_GENERALIZEDTIME* thisUpdate = nullptr;
    ASN1_GENERALIZEDTIME* nextUpdate = nullptr;
    OCSP_single_get0_status(single, nullptr, nullptr, &thisUpdate, &nextUpdate);
    out.stale = OCSP_check_validity(thisUpdate, nextUpdate, 300, -1) != 1;
    ERR_clear_error();
    out.der = std::move(der);
    return out;
  }
  out.problem = fmt::format("\"{}\" is not about certificate \"{}\" (no response for its serial)",
                            file, certFile);
  return out;
}

std::string checkOcspResponse(const std::string& file, const std::string& certFile) {
  return readOcspResponse(file, certFile).problem;
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
