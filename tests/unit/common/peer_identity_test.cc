// Mutual TLS in memory: the listener's context asks for a client
// certificate, and peerIdentity() reads who it names, safe for HTTP fields.
#include "common/tls/peer_identity.h"

#include <gtest/gtest.h>

#include <string>

#include "common/tls/tls_context.h"
#include "common/tls/tls_stream.h"
#include "tests/unit/common/tls_memory_pair.h"
#include "tests/unit/common/tls_test_pki.h"

namespace ringlb::tls {
namespace {

using testing::handshake;
using testing::TempPki;
using testing::transfer;

class MutualTls : public ::testing::Test {
 protected:
  std::shared_ptr<TlsContext> listener(const std::string& clientCa, config::ClientVerify verify) {
    config::TlsConfig tls;
    tls.certificates.push_back(pki_.leaf("server", "server.test", {"server.test"}));
    tls.clientCa = clientCa;
    tls.clientVerify = verify;
    std::string error;
    auto context = TlsContext::build(tls, std::string(kAlpnHttp11), &error);
    EXPECT_TRUE(context) << error;
    return context;
  }
  SSL_CTX* clientWith(const config::CertificateConfig* cert) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    if (cert != nullptr) {
      SSL_CTX_use_certificate_file(ctx, cert->certFile.c_str(), SSL_FILETYPE_PEM);
      SSL_CTX_use_PrivateKey_file(ctx, cert->keyFile.c_str(), SSL_FILETYPE_PEM);
    }
    clients_.push_back(ctx);
    return ctx;
  }
  void TearDown() override {
    for (SSL_CTX* c : clients_) SSL_CTX_free(c);
  }

  TempPki pki_;
  std::vector<SSL_CTX*> clients_;
};

TEST_F(MutualTls, AVerifiedCertificateNamesItsSubjectAndAltNames) {
  auto alice = pki_.leaf("alice", "alice", {"alice.example", "alice2.example"});
  auto context = listener(alice.certFile, config::ClientVerify::Required);
  auto c = TlsStream::client(clientWith(&alice), "server.test");
  auto s = TlsStream::server(context->defaultContext());
  ASSERT_TRUE(handshake(*c, *s));
  PeerIdentity id = peerIdentity(s->ssl());
  EXPECT_TRUE(id.verified);
  EXPECT_EQ(id.subject, "CN=alice");
  EXPECT_EQ(id.san, "DNS:alice.example, DNS:alice2.example");
}

TEST_F(MutualTls, RequiredRefusesAClientWithoutACertificate) {
  auto alice = pki_.leaf("alice", "alice", {});
  auto context = listener(alice.certFile, config::ClientVerify::Required);
  auto c = TlsStream::client(clientWith(nullptr), "server.test");
  auto s = TlsStream::server(context->defaultContext());
  EXPECT_FALSE(handshake(*c, *s));
}

TEST_F(MutualTls, OptionalAdmitsAClientWithoutACertificateAsUnverified) {
  auto alice = pki_.leaf("alice", "alice", {});
  auto context = listener(alice.certFile, config::ClientVerify::Optional);
  auto c = TlsStream::client(clientWith(nullptr), "server.test");
  auto s = TlsStream::server(context->defaultContext());
  ASSERT_TRUE(handshake(*c, *s));
  PeerIdentity id = peerIdentity(s->ssl());
  EXPECT_FALSE(id.verified);
  EXPECT_TRUE(id.subject.empty());
}

TEST_F(MutualTls, OptionalStillRefusesACertificateFromAnotherCa) {
  auto alice = pki_.leaf("alice", "alice", {});
  auto mallory = pki_.leaf("mallory", "alice", {});
  auto context = listener(alice.certFile, config::ClientVerify::Optional);
  auto c = TlsStream::client(clientWith(&mallory), "server.test");
  auto s = TlsStream::server(context->defaultContext());
  EXPECT_FALSE(handshake(*c, *s));
}

TEST_F(MutualTls, AnExpiredCertificateIsRefused) {
  auto old = pki_.leaf("old", "alice", {}, /*expired=*/true);
  auto context = listener(old.certFile, config::ClientVerify::Optional);
  auto c = TlsStream::client(clientWith(&old), "server.test");
  auto s = TlsStream::server(context->defaultContext());
  EXPECT_FALSE(handshake(*c, *s));
  EXPECT_NE(s->error().find("certificate"), std::string::npos) << s->error();
}

TEST_F(MutualTls, ControlBytesInANameNeverReachAHeaderRaw) {
  auto evil = pki_.leaf("evil", "x\r\nX-Injected: 1", {});
  auto context = listener(evil.certFile, config::ClientVerify::Required);
  auto c = TlsStream::client(clientWith(&evil), "server.test");
  auto s = TlsStream::server(context->defaultContext());
  ASSERT_TRUE(handshake(*c, *s));
  PeerIdentity id = peerIdentity(s->ssl());
  ASSERT_TRUE(id.verified);
  EXPECT_EQ(id.subject.find_first_of("\r\n"), std::string::npos) << id.subject;
  EXPECT_NE(id.subject.find("X-Injected"), std::string::npos) << "escaped, not dropped";
}

TEST_F(MutualTls, AClientCaFileThatDoesNotLoadFailsTheBuild) {
  config::TlsConfig tls;
  tls.certificates.push_back(pki_.leaf("server", "server.test", {"server.test"}));
  tls.clientCa = pki_.write("garbage.pem", "not a certificate\n");
  std::string error;
  EXPECT_FALSE(TlsContext::build(tls, std::string(kAlpnHttp11), &error));
  EXPECT_NE(error.find("client_ca"), std::string::npos) << error;
}

}  // namespace
}  // namespace ringlb::tls
