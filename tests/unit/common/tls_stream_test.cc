// TlsStream and TlsContext without sockets: a client and a server stream
// wired back to back in memory, bytes moved by the test.
#include "common/tls/tls_stream.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <string>

#include "common/tls/tls_context.h"
#include "tests/unit/common/tls_memory_pair.h"
#include "tests/unit/common/tls_test_pki.h"

namespace ringlb::tls {
namespace {

using testing::handshake;
using testing::TempPki;
using testing::transfer;

std::string readAll(TlsStream& s) {
  std::string out;
  char buf[4096];
  for (;;) {
    TlsStream::Read r = s.readPlaintext(buf);
    if (r.status != TlsStatus::Ok) return out;
    out.append(buf, r.bytes);
  }
}

// The CN of the certificate the client was given.
std::string peerCommonName(TlsStream& client) {
  X509* cert = SSL_get0_peer_certificate(client.ssl());
  if (cert == nullptr) return "";
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  return cn;
}

class TlsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config::TlsConfig tls;
    tls.certificates.push_back(pki_.leaf("a", "a.test", {"a.test"}));
    tls.certificates.push_back(pki_.leaf("b", "b.test", {"b.test", "www.b.test"}));
    tls.certificates.push_back(pki_.leaf("w", "wild", {"*.w.test"}));
    std::string error;
    context_ = TlsContext::build(tls, std::string(kAlpnHttp11), &error);
    ASSERT_TRUE(context_) << error;
    clientCtx_ = SSL_CTX_new(TLS_client_method());
  }
  void TearDown() override { SSL_CTX_free(clientCtx_); }

  std::unique_ptr<TlsStream> server() { return TlsStream::server(context_->defaultContext()); }
  std::unique_ptr<TlsStream> client(std::string_view sni = "a.test") {
    return TlsStream::client(clientCtx_, sni);
  }

  TempPki pki_;
  std::shared_ptr<TlsContext> context_;
  SSL_CTX* clientCtx_ = nullptr;
};

TEST_F(TlsStreamTest, HandshakeCompletesBackToBackInMemory) {
  auto c = client();
  auto s = server();
  handshake(*c, *s);
  EXPECT_TRUE(c->handshakeDone());
  EXPECT_TRUE(s->handshakeDone());
}

TEST_F(TlsStreamTest, HandshakeWaitsForInputBeforeTheClientSpeaks) {
  auto s = server();
  EXPECT_EQ(s->handshake(), TlsStatus::WantInput);
  EXPECT_EQ(s->pendingCiphertext(), 0u);
}

TEST_F(TlsStreamTest, DataFlowsBothWays) {
  auto c = client();
  auto s = server();
  handshake(*c, *s);
  ASSERT_EQ(c->writePlaintext("GET / HTTP/1.1\r\n\r\n"), TlsStatus::Ok);
  transfer(*c, *s);
  EXPECT_EQ(readAll(*s), "GET / HTTP/1.1\r\n\r\n");
  std::string big(100000, 'x');
  ASSERT_EQ(s->writePlaintext(big), TlsStatus::Ok);
  transfer(*s, *c);
  EXPECT_EQ(readAll(*c), big);
}

TEST_F(TlsStreamTest, AlpnNegotiatesHttp11) {
  const unsigned char protos[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
  SSL_CTX_set_alpn_protos(clientCtx_, protos, sizeof protos);
  auto c = client();
  auto s = server();
  handshake(*c, *s);
  EXPECT_EQ(s->alpn(), "http/1.1");
}

TEST_F(TlsStreamTest, AnHttp2OnlyClientStillConnectsWithoutAlpn) {
  const unsigned char protos[] = {2, 'h', '2'};
  SSL_CTX_set_alpn_protos(clientCtx_, protos, sizeof protos);
  auto c = client();
  auto s = server();
  handshake(*c, *s);
  EXPECT_TRUE(s->handshakeDone());
  EXPECT_EQ(s->alpn(), "");
}

TEST_F(TlsStreamTest, SniPicksTheCertificateNamedByTheClient) {
  auto c = client("b.test");
  auto s = server();
  handshake(*c, *s);
  EXPECT_EQ(peerCommonName(*c), "b.test");
  EXPECT_EQ(s->serverName(), "b.test");
}

TEST_F(TlsStreamTest, SniMatchesAWildcardCertificate) {
  auto c = client("x.w.test");
  auto s = server();
  handshake(*c, *s);
  EXPECT_EQ(peerCommonName(*c), "wild");
}

TEST_F(TlsStreamTest, UnknownOrMissingSniGetsTheFirstCertificate) {
  auto c1 = client("nobody.test");
  auto s1 = server();
  handshake(*c1, *s1);
  EXPECT_EQ(peerCommonName(*c1), "a.test");
  auto c2 = client("");
  auto s2 = server();
  handshake(*c2, *s2);
  EXPECT_EQ(peerCommonName(*c2), "a.test");
}

TEST_F(TlsStreamTest, PlaintextHttpInsteadOfAClientHelloIsAnError) {
  auto s = server();
  s->feedCiphertext("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
  EXPECT_EQ(s->handshake(), TlsStatus::Error);
  EXPECT_FALSE(s->error().empty());
}

TEST_F(TlsStreamTest, GarbageAfterTheHandshakeIsAnErrorNotACrash) {
  auto c = client();
  auto s = server();
  handshake(*c, *s);
  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 7919) & 0xff));
  garbage[0] = 0x17;  // looks like application data, then nonsense
  s->feedCiphertext(garbage);
  char buf[1024];
  EXPECT_EQ(s->readPlaintext(buf).status, TlsStatus::Error);
  EXPECT_FALSE(s->error().empty());
}

TEST_F(TlsStreamTest, RecordsFedOneByteAtATimeAreReassembled) {
  auto c = client();
  auto s = server();
  handshake(*c, *s);
  ASSERT_EQ(c->writePlaintext("hello, partial records"), TlsStatus::Ok);
  std::string bytes;
  c->takeCiphertext(bytes);
  std::string got;
  char buf[256];
  for (size_t i = 0; i < bytes.size(); ++i) {
    s->feedCiphertext(bytes.substr(i, 1));
    TlsStream::Read r = s->readPlaintext(buf);
    if (i + 1 < bytes.size()) {
      ASSERT_EQ(r.status, TlsStatus::WantInput) << "at byte " << i;
    } else {
      ASSERT_EQ(r.status, TlsStatus::Ok);
      got.assign(buf, r.bytes);
    }
  }
  EXPECT_EQ(got, "hello, partial records");
}

TEST_F(TlsStreamTest, ShutdownSendsCloseNotifyThePeerReadsAsClosed) {
  auto c = client();
  auto s = server();
  handshake(*c, *s);
  s->shutdown();
  transfer(*s, *c);
  char buf[64];
  EXPECT_EQ(c->readPlaintext(buf).status, TlsStatus::Closed);
}

TEST_F(TlsStreamTest, Tls11ClientIsRefused) {
  SSL_CTX_set_min_proto_version(clientCtx_, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(clientCtx_, TLS1_1_VERSION);
  SSL_CTX_set_security_level(clientCtx_, 0);
  auto c = client();
  auto s = server();
  c->handshake();
  transfer(*c, *s);
  EXPECT_EQ(s->handshake(), TlsStatus::Error);
}

TEST(TlsNameMatches, ExactNamesIgnoreCaseAndATrailingDot) {
  EXPECT_TRUE(tlsNameMatches("a.test", "A.Test"));
  EXPECT_TRUE(tlsNameMatches("a.test", "a.test."));
  EXPECT_FALSE(tlsNameMatches("a.test", "b.test"));
  EXPECT_FALSE(tlsNameMatches("a.test", ""));
}

TEST(TlsNameMatches, AWildcardCoversExactlyOneLabel) {
  EXPECT_TRUE(tlsNameMatches("*.w.test", "x.w.test"));
  EXPECT_FALSE(tlsNameMatches("*.w.test", "w.test"));
  EXPECT_FALSE(tlsNameMatches("*.w.test", "y.x.w.test"));
  EXPECT_FALSE(tlsNameMatches("*.w.test", ".w.test"));
}

TEST(TlsContextBuild, AFileThatIsNotPemNamesTheFileAndOpenSslsReason) {
  TempPki pki;
  config::CertificateConfig cert = pki.leaf("a", "a.test", {"a.test"});
  cert.certFile = pki.write("junk.pem", "not a certificate\n");
  std::string error;
  EXPECT_FALSE(TlsContext::build({{cert}}, std::string(kAlpnHttp11), &error));
  EXPECT_NE(error.find("cannot load certificate " + cert.certFile + ": "), std::string::npos)
      << error;
}

TEST(TlsContextBuild, AKeyThatDoesNotMatchTheCertificateIsRefused) {
  TempPki pki;
  config::CertificateConfig a = pki.leaf("a", "a.test", {"a.test"});
  config::CertificateConfig b = pki.leaf("b", "b.test", {"b.test"});
  a.keyFile = b.keyFile;
  std::string error;
  EXPECT_FALSE(TlsContext::build({{a}}, std::string(kAlpnHttp11), &error));
  EXPECT_NE(error.find("does not match certificate"), std::string::npos) << error;
}

TEST(TlsContextBuild, CertificateNamesComeFromSansElseTheCommonName) {
  TempPki pki;
  config::TlsConfig tls;
  tls.certificates.push_back(pki.leaf("a", "ignored.test", {"A.test", "*.a.test"}));
  tls.certificates.push_back(pki.leaf("b", "CN.Only.test", {}));
  std::string error;
  auto context = TlsContext::build(tls, std::string(kAlpnHttp11), &error);
  ASSERT_TRUE(context) << error;
  EXPECT_EQ(context->names(0), (std::vector<std::string>{"a.test", "*.a.test"}));
  EXPECT_EQ(context->names(1), (std::vector<std::string>{"cn.only.test"}));
  EXPECT_EQ(context->pick("cn.only.test"), 1u);
}

TEST(TlsContextBuild, AnExactNameWinsOverAWildcardListedEarlier) {
  TempPki pki;
  config::TlsConfig tls;
  tls.certificates.push_back(pki.leaf("w", "w", {"*.x.test"}));
  tls.certificates.push_back(pki.leaf("e", "e", {"api.x.test"}));
  std::string error;
  auto context = TlsContext::build(tls, std::string(kAlpnHttp11), &error);
  ASSERT_TRUE(context) << error;
  EXPECT_EQ(context->pick("api.x.test"), 1u);
  EXPECT_EQ(context->pick("web.x.test"), 0u);
}

}  // namespace
}  // namespace ringlb::tls
