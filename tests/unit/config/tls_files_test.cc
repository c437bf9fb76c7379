#include "config/tls_files.h"

#include <gtest/gtest.h>

#include <fstream>

#include "config/load.h"
#include "tests/unit/common/tls_test_pki.h"

namespace ringlb::config {
namespace {

using tls::testing::TempPki;

TEST(CertificatePair, AMatchingPairIsGood) {
  TempPki pki;
  auto a = pki.leaf("a", "a.test", {"a.test"});
  EXPECT_EQ(checkCertificatePair(a.certFile, a.keyFile).message, "");
}

TEST(CertificatePair, AKeyOfAnotherCertificateIsRefusedNamingBothFiles) {
  TempPki pki;
  auto a = pki.leaf("a", "a.test", {"a.test"});
  auto b = pki.leaf("b", "b.test", {"b.test"});
  auto problem = checkCertificatePair(a.certFile, b.keyFile);
  EXPECT_TRUE(problem.inKey);
  EXPECT_NE(problem.message.find("does not match"), std::string::npos) << problem.message;
  EXPECT_NE(problem.message.find(b.keyFile), std::string::npos);
  EXPECT_NE(problem.message.find(a.certFile), std::string::npos);
}

TEST(CertificatePair, ACertificateFileWithoutPemIsRefused) {
  TempPki pki;
  auto a = pki.leaf("a", "a.test", {"a.test"});
  std::ofstream(a.certFile) << "not a certificate\n";
  auto problem = checkCertificatePair(a.certFile, a.keyFile);
  EXPECT_FALSE(problem.inKey);
  EXPECT_NE(problem.message.find("is not a PEM certificate"), std::string::npos) << problem.message;
}

TEST(CertificatePair, AKeyFileHoldingACertificateIsRefused) {
  TempPki pki;
  auto a = pki.leaf("a", "a.test", {"a.test"});
  auto problem = checkCertificatePair(a.certFile, a.certFile);
  EXPECT_TRUE(problem.inKey);
  EXPECT_NE(problem.message.find("private key"), std::string::npos) << problem.message;
}

TEST(CertificatePair, AMismatchInAConfigIsReportedAtTheKeyWithItsPosition) {
  TempPki pki;
  auto a = pki.leaf("a", "a.test", {"a.test"});
  auto b = pki.leaf("b", "b.test", {"b.test"});
  std::string text =
      "[pools.api]\nbackends = [\"127.0.0.1:9001\"]\n[listeners.web]\n"
      "bind = \"127.0.0.1:8443\"\nmode = \"http\"\npool = \"api\"\n"
      "tls = { certificates = [{ cert = \"" +
      a.certFile + "\", key = \"" + b.keyFile + "\" }] }\n";
  LoadResult result = loadConfigText(text, "/srv/ringlb.toml");
  ASSERT_EQ(result.errors.size(), 1u);
  std::string line = result.errors[0].format();
  EXPECT_EQ(line.rfind("/srv/ringlb.toml:7:", 0), 0u) << line;
  EXPECT_NE(line.find("listeners.web.tls.certificates[0].key"), std::string::npos) << line;
  EXPECT_NE(line.find("does not match"), std::string::npos) << line;
}

}  // namespace
}  // namespace ringlb::config
