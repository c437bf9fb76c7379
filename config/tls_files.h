// Load-time check of a TLS certificate and key pair, so that `ringlb check`
// and `run` refuse a file that does not parse or a key that does not belong
// to its certificate, with the entry's FILE:LINE:COL, instead of the first
// handshake failing at run time.
//
// Main thread (config loading). Uses libcrypto only; the TLS contexts that
// serve connections are built by the listener (common/tls/tls_context).
#pragma once

#include <string>

namespace ringlb::config {

struct CertificatePairProblem {
  bool inKey = false;   // the key file is at fault (else the certificate file)
  std::string message;  // empty when the pair is good
};

// Both files must be readable (checked before). Encrypted keys are refused:
// nobody is there to type a passphrase.
CertificatePairProblem checkCertificatePair(const std::string& certFile,
                                            const std::string& keyFile);

// A CA file (client_ca): readable (checked before), at least one PEM
// certificate, nothing else that fails to parse. Empty when good.
std::string checkCaFile(const std::string& file);

// An OCSP response file (`ocsp`) read for stapling: DER, status
// "successful", with a response for `certFile`'s certificate (its serial).
struct OcspResponse {
  std::string der;      // the file's bytes; empty when unusable
  std::string problem;  // why it is unusable
  bool stale = false;   // usable, but outside thisUpdate..nextUpdate (5 min of skew)
};
OcspResponse readOcspResponse(const std::string& file, const std::string& certFile);

// The load-time check: readOcspResponse's problem (staleness is not one:
// the listener logs it and does not staple).
std::string checkOcspResponse(const std::string& file, const std::string& certFile);

}  // namespace ringlb::config
