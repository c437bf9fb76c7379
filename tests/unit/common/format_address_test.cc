// formatAddress: the "ip:port" text of the access log's client and backend
// fields, written into a fixed buffer.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include "common/socket.h"

namespace ringlb {
namespace {

TEST(FormatAddress, Ipv4IsIpColonPort) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(8080);
  inet_pton(AF_INET, "192.0.2.10", &in.sin_addr);
  std::array<char, kAddressTextSize> buf;
  EXPECT_EQ(formatAddress(reinterpret_cast<const sockaddr*>(&in), buf), "192.0.2.10:8080");
}

TEST(FormatAddress, Ipv6IsBracketed) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(443);
  inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
  std::array<char, kAddressTextSize> buf;
  EXPECT_EQ(formatAddress(reinterpret_cast<const sockaddr*>(&in6), buf), "[2001:db8::1]:443");
}

TEST(FormatAddress, LongestIpv6Fits) {
  sockaddr_in6 in6{};
  in6.sin6_family = AF_INET6;
  in6.sin6_port = htons(65535);
  inet_pton(AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", &in6.sin6_addr);
  std::array<char, kAddressTextSize> buf;
  std::string_view text = formatAddress(reinterpret_cast<const sockaddr*>(&in6), buf);
  EXPECT_EQ(text.substr(text.size() - 7), "]:65535") << text;
}

TEST(FormatAddress, UnknownOrMissingIsADash) {
  sockaddr_storage none{};
  std::array<char, kAddressTextSize> buf;
  EXPECT_EQ(formatAddress(reinterpret_cast<const sockaddr*>(&none), buf), "-");
  EXPECT_EQ(formatAddress(nullptr, buf), "-");
}

}  // namespace
}  // namespace ringlb
