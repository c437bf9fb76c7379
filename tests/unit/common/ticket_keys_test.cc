// TicketKeys: one set of session-ticket keys behind every worker's TLS
// contexts, so a ticket resumes on any worker; rotation with the previous
// key accepted for one period; sessions kept apart per listener.
#include "common/tls/ticket_keys.h"

#include <gtest/gtest.h>

#include <memory>
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

// Both handshakes, then a byte each way so the client takes in the TLS 1.3
// tickets that follow the handshake.
void connect(TlsStream& client, TlsStream& server) {
  handshake(client, server);
  char buf[16];
  server.writePlaintext("s");
  transfer(server, client);
  client.readPlaintext(buf);
  client.writePlaintext("c");
  transfer(client, server);
  server.readPlaintext(buf);
}

class TicketKeysTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    tls_.certificates.push_back(pki_.leaf("a", "a.test", {"a.test"}));
    clientCtx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_max_proto_version(clientCtx_, GetParam());
  }
  void TearDown() override {
    SSL_SESSION_free(session_);
    SSL_CTX_free(clientCtx_);
  }

  std::shared_ptr<TlsContext> worker(TicketKeys* keys, std::string_view listener = "front") {
    std::string error;
    auto context = TlsContext::build(tls_, std::string(kAlpnHttp11), &error, keys, listener);
    EXPECT_TRUE(context) << error;
    return context;
  }

  // A full handshake on `context`; keeps the client's session.
  void firstVisit(TlsContext& context) {
    auto c = TlsStream::client(clientCtx_, "a.test");
    auto s = TlsStream::server(context.defaultContext());
    connect(*c, *s);
    ASSERT_TRUE(c->handshakeDone());
    session_ = SSL_get1_session(c->ssl());
    ASSERT_NE(session_, nullptr);
    ASSERT_TRUE(SSL_SESSION_is_resumable(session_)) << "the client got a ticket";
    c->shutdown();  // freed without close_notify, OpenSSL marks the session not resumable
  }

  // Whether the kept session resumes on `context`.
  bool resumesOn(TlsContext& context) {
    auto c = TlsStream::client(clientCtx_, "a.test");
    SSL_set_session(c->ssl(), session_);
    auto s = TlsStream::server(context.defaultContext());
    connect(*c, *s);
    EXPECT_TRUE(c->handshakeDone());
    bool reused = SSL_session_reused(c->ssl()) == 1;
    c->shutdown();
    return reused;
  }

  TempPki pki_;
  config::TlsConfig tls_;
  SSL_CTX* clientCtx_ = nullptr;
  SSL_SESSION* session_ = nullptr;
};

TEST_P(TicketKeysTest, ATicketFromOneWorkerResumesOnAnother) {
  TicketKeys keys;
  auto one = worker(&keys);
  auto two = worker(&keys);
  firstVisit(*one);
  EXPECT_TRUE(resumesOn(*two));
  EXPECT_TRUE(resumesOn(*one));
}

TEST_P(TicketKeysTest, WithoutSharedKeysATicketResumesOnlyWhereItWasIssued) {
  auto one = worker(nullptr);
  auto two = worker(nullptr);
  firstVisit(*one);
  EXPECT_FALSE(resumesOn(*two)) << "each context had its own keys (the old behaviour)";
}

TEST_P(TicketKeysTest, ATicketDoesNotResumeOnAnotherListener) {
  TicketKeys keys;
  auto front = worker(&keys, "front");
  auto admin = worker(&keys, "other");
  firstVisit(*front);
  EXPECT_FALSE(resumesOn(*admin));
}

TEST_P(TicketKeysTest, AContextRebuiltByAReloadStillResumes) {
  TicketKeys keys;
  auto before = worker(&keys);
  firstVisit(*before);
  before.reset();
  auto after = worker(&keys);
  EXPECT_TRUE(resumesOn(*after));
}

INSTANTIATE_TEST_SUITE_P(Versions, TicketKeysTest,
                         ::testing::Values(TLS1_2_VERSION, TLS1_3_VERSION), [](const auto& param) {
                           return param.param == TLS1_3_VERSION ? "Tls13" : "Tls12";
                         });

// The callback itself under a clock the test moves.
class TicketRotation : public ::testing::Test {
 protected:
  void SetUp() override {
    cipher_ = EVP_CIPHER_CTX_new();
    macAlgorithm_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    mac_ = EVP_MAC_CTX_new(macAlgorithm_);
  }
  void TearDown() override {
    EVP_MAC_CTX_free(mac_);
    EVP_MAC_free(macAlgorithm_);
    EVP_CIPHER_CTX_free(cipher_);
  }
  // The name a new ticket gets now.
  std::array<unsigned char, 16> issue() {
    std::array<unsigned char, 16> name{};
    unsigned char iv[EVP_MAX_IV_LENGTH];
    EXPECT_EQ(keys_.onTicket(name.data(), iv, cipher_, mac_, 1), 1);
    return name;
  }
  int accept(std::array<unsigned char, 16> name) {
    unsigned char iv[EVP_MAX_IV_LENGTH] = {};
    return keys_.onTicket(name.data(), iv, cipher_, mac_, 0);
  }

  static constexpr std::chrono::seconds kPeriod{3600};
  TicketKeys::Clock::time_point now_ = TicketKeys::Clock::now();
  TicketKeys keys_{kPeriod, [this] { return now_; }};
  EVP_CIPHER_CTX* cipher_ = nullptr;
  EVP_MAC* macAlgorithm_ = nullptr;
  EVP_MAC_CTX* mac_ = nullptr;
};

TEST_F(TicketRotation, TheCurrentKeyResumesThePreviousRenewsOlderOnesAreRefused) {
  auto ticket = issue();
  EXPECT_EQ(accept(ticket), 1) << "current key";
  now_ += kPeriod;
  EXPECT_EQ(accept(ticket), 2) << "previous key: resume, then a new ticket";
  auto newer = issue();
  EXPECT_NE(newer, ticket) << "new tickets use the new key";
  EXPECT_EQ(accept(newer), 1);
  now_ += kPeriod;
  EXPECT_EQ(accept(ticket), 0) << "two periods old: a full handshake";
  EXPECT_EQ(accept(newer), 2);
}

TEST_F(TicketRotation, AfterAQuietSpellOfTwoPeriodsNoOldTicketResumes) {
  auto ticket = issue();
  now_ += 2 * kPeriod;
  EXPECT_EQ(accept(ticket), 0);
}

TEST_F(TicketRotation, AnUnknownKeyNameIsAFullHandshake) {
  std::array<unsigned char, 16> name{};
  name.fill(0x5a);
  EXPECT_EQ(accept(name), 0);
}

TEST_F(TicketRotation, TicketsLiveForTwoPeriods) { EXPECT_EQ(keys_.ticketLifetime(), 2 * kPeriod); }

}  // namespace
}  // namespace ringlb::tls
