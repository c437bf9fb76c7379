#include "config/address.h"

#include <gtest/gtest.h>

namespace ringlb::config {
namespace {

TEST(ParseNumericAddress, AcceptsIpv4WithPort) {
  std::string error;
  auto addr = parseNumericAddress("127.0.0.1:9001", &error);
  ASSERT_TRUE(addr) << error;
  EXPECT_EQ(addr->family(), AF_INET);
  EXPECT_EQ(addr->port(), 9001);
  EXPECT_EQ(addr->numeric(), "127.0.0.1:9001");
}

TEST(ParseNumericAddress, AcceptsBracketedIpv6) {
  std::string error;
  auto addr = parseNumericAddress("[::1]:80", &error);
  ASSERT_TRUE(addr) << error;
  EXPECT_EQ(addr->family(), AF_INET6);
  EXPECT_EQ(addr->numeric(), "[::1]:80");
}

TEST(SocketAddressSetPort, ChangesThePortOfBothFamiliesAndKeepsTheText) {
  for (const char* text : {"127.0.0.1:9001", "[::1]:80"}) {
    std::string error;
    auto addr = parseNumericAddress(text, &error);
    ASSERT_TRUE(addr) << error;
    std::string before = addr->text;
    addr->setPort(4242);
    EXPECT_EQ(addr->port(), 4242) << text;
    EXPECT_EQ(addr->text, before);
  }
  SocketAddress none;  // no family: nothing to set
  none.setPort(4242);
  EXPECT_EQ(none.port(), 0);
}

TEST(SocketAddressNumeric, IsFormatAddressOfTheAddress) {
  std::string error;
  auto addr = parseNumericAddress("[2001:db8::1]:443", &error);
  ASSERT_TRUE(addr) << error;
  std::array<char, kAddressTextSize> out;
  EXPECT_EQ(addr->numeric(), formatAddress(addr->sa(), out));
  EXPECT_EQ(SocketAddress{}.numeric(), "-");  // no family
}

TEST(ParseNumericAddress, RejectsUnbracketedIpv6) {
  std::string error;
  EXPECT_FALSE(parseNumericAddress("::1:80", &error));
  EXPECT_NE(error.find("brackets"), std::string::npos);
}

TEST(ParseNumericAddress, RejectsPortOutOfRange) {
  std::string error;
  EXPECT_FALSE(parseNumericAddress("127.0.0.1:65536", &error));
  EXPECT_NE(error.find("port"), std::string::npos);
}

TEST(ParseNumericAddress, RejectsMissingPort) {
  std::string error;
  EXPECT_FALSE(parseNumericAddress("127.0.0.1", &error));
}

TEST(ResolveAddress, ResolvesLocalhost) {
  std::string error;
  auto addr = resolveAddress("localhost:8080", &error);
  ASSERT_TRUE(addr) << error;
  EXPECT_EQ(addr->port(), 8080);
  EXPECT_EQ(addr->text, "localhost:8080");
}

}  // namespace
}  // namespace ringlb::config
