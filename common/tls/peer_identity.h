// PeerIdentity: who a verified client certificate says the client is, for
// the headers an http listener with mutual TLS sends to its backends
// (docs/tls.md): the subject as an RFC 2253 string and the subjectAltNames.
//
// Values are safe in an HTTP field: control bytes and non-ASCII come out
// escaped ("\XX"), never raw. Any thread.
#pragma once

#include <openssl/ssl.h>

#include <string>

namespace ringlb::tls {

struct PeerIdentity {
  bool verified = false;  // a certificate was presented and verified
  std::string subject;    // "CN=alice,O=Example"
  std::string san;        // "DNS:a.example, URI:spiffe://x/y, email:a@example, IP:192.0.2.1"
};

// The identity of the peer of a finished handshake.
PeerIdentity peerIdentity(SSL* ssl);

}  // namespace ringlb::tls
