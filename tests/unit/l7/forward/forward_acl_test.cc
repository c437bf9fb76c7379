#include "l7/forward/forward_acl.h"

#include <gtest/gtest.h>

namespace ringlb::l7 {
namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

TEST(ForwardAcl, NoAllowListAllowsAnyDestination) {
  ForwardAcl acl({}, {}, {443});
  EXPECT_TRUE(acl.check("anything.test", nullptr, 80, false).allowed);
}

TEST(ForwardAcl, UnspecifiedAddressesAreNeverADestination) {
  // 0.0.0.0 and :: reach local listeners on Linux, past a 127.0.0.0/8 deny.
  ForwardAcl acl({}, {"127.0.0.0/8", "::1"}, {22});
  EXPECT_FALSE(acl.check("0.0.0.0", nullptr, 22, true).allowed);
  EXPECT_FALSE(acl.check("[::]", nullptr, 22, true).allowed);
  IpAddress any = ip("0.0.0.0");
  EXPECT_FALSE(acl.check("zero.test", &any, 22, true).allowed);  // a name that resolves to it
  IpAddress other = ip("192.0.2.1");
  EXPECT_TRUE(acl.check("ok.test", &other, 22, true).allowed);
}

TEST(ForwardAcl, ExactHostMatchesCaseInsensitively) {
  ForwardAcl acl({"api.example.com"}, {}, {443});
  EXPECT_TRUE(acl.check("API.Example.COM", nullptr, 443, true).allowed);
  EXPECT_FALSE(acl.check("www.example.com", nullptr, 443, true).allowed);
}

TEST(ForwardAcl, TrailingDotIsTheSameHost) {
  ForwardAcl acl({"api.example.com"}, {}, {443});
  EXPECT_TRUE(acl.check("api.example.com.", nullptr, 443, true).allowed);
}

TEST(ForwardAcl, WildcardMatchesSubdomainsButNotTheDomainItself) {
  ForwardAcl acl({"*.example.com"}, {}, {443});
  EXPECT_TRUE(acl.check("a.example.com", nullptr, 443, true).allowed);
  EXPECT_TRUE(acl.check("a.b.example.com", nullptr, 443, true).allowed);
  EXPECT_FALSE(acl.check("example.com", nullptr, 443, true).allowed);
  EXPECT_FALSE(acl.check("badexample.com", nullptr, 443, true).allowed);
}

TEST(ForwardAcl, DenyIsCheckedBeforeAllow) {
  ForwardAcl acl({"*.example.com"}, {"evil.example.com"}, {443});
  AclVerdict v = acl.check("evil.example.com", nullptr, 443, true);
  EXPECT_FALSE(v.allowed);
  EXPECT_NE(v.reason.find("evil.example.com"), std::string::npos);
}

TEST(ForwardAcl, ConnectOnlyToConnectPorts) {
  ForwardAcl acl({}, {}, {443, 8443});
  EXPECT_TRUE(acl.check("h.test", nullptr, 8443, true).allowed);
  AclVerdict v = acl.check("h.test", nullptr, 22, true);
  EXPECT_FALSE(v.allowed);
  EXPECT_NE(v.reason.find("connect_ports"), std::string::npos);
}

TEST(ForwardAcl, ConnectPortsDoNotApplyToPlainHttpRequests) {
  ForwardAcl acl({}, {}, {443});
  EXPECT_TRUE(acl.check("h.test", nullptr, 80, false).allowed);
}

TEST(ForwardAcl, CidrMatchesLiteralIpv4Host) {
  ForwardAcl acl({"10.0.0.0/8"}, {}, {443});
  EXPECT_TRUE(acl.check("10.1.2.3", nullptr, 443, true).allowed);
  EXPECT_FALSE(acl.check("11.1.2.3", nullptr, 443, true).allowed);
}

TEST(ForwardAcl, CidrMatchesResolvedAddressOfAName) {
  ForwardAcl acl({"10.0.0.0/8"}, {}, {443});
  IpAddress inside = ip("10.9.9.9");
  IpAddress outside = ip("192.168.1.1");
  EXPECT_TRUE(acl.check("db.internal", &inside, 443, true).allowed);
  EXPECT_FALSE(acl.check("db.internal", &outside, 443, true).allowed);
}

TEST(ForwardAcl, DenyCidrRefusesANameThatResolvesIntoIt) {
  ForwardAcl acl({"*.example.com"}, {"169.254.0.0/16"}, {443});
  IpAddress metadata = ip("169.254.169.254");
  EXPECT_FALSE(acl.check("x.example.com", &metadata, 443, true).allowed);
}

TEST(ForwardAcl, Ipv6CidrMatchesBracketedLiteral) {
  ForwardAcl acl({"fd00::/8"}, {}, {443});
  EXPECT_TRUE(acl.check("[fd12::1]", nullptr, 443, true).allowed);
  EXPECT_FALSE(acl.check("[fe80::1]", nullptr, 443, true).allowed);
}

TEST(ForwardAcl, CidrPrefixNotOnAByteBoundary) {
  ForwardAcl acl({"192.168.0.0/20"}, {}, {443});
  EXPECT_TRUE(acl.check("192.168.15.255", nullptr, 443, true).allowed);
  EXPECT_FALSE(acl.check("192.168.16.0", nullptr, 443, true).allowed);
}

TEST(ForwardAcl, SingleAddressPatternIsAHostRoute) {
  ForwardAcl acl({}, {"127.0.0.2"}, {443});
  EXPECT_FALSE(acl.check("127.0.0.2", nullptr, 443, true).allowed);
  EXPECT_TRUE(acl.check("127.0.0.1", nullptr, 443, true).allowed);
}

TEST(ForwardAcl, Ipv4MappedIpv6CountsAsIpv4) {
  ForwardAcl acl({"127.0.0.0/8"}, {}, {443});
  EXPECT_TRUE(acl.check("[::ffff:127.0.0.1]", nullptr, 443, true).allowed);
}

TEST(ForwardAcl, NamePatternDoesNotMatchALiteralAddress) {
  ForwardAcl acl({"localhost"}, {}, {443});
  EXPECT_FALSE(acl.check("127.0.0.1", nullptr, 443, true).allowed);
}

TEST(ForwardAcl, RefuseEarlyCatchesDeniedNameAndPortWithoutResolving) {
  ForwardAcl acl({"10.0.0.0/8"}, {"evil.test"}, {443});
  EXPECT_TRUE(acl.refuseEarly("evil.test", 443, true).has_value());
  EXPECT_TRUE(acl.refuseEarly("ok.test", 25, true).has_value());
  // Not in allow by name, but its address may be: decided after resolving.
  EXPECT_FALSE(acl.refuseEarly("ok.test", 443, true).has_value());
}

TEST(IpAddress, ParseRejectsNames) {
  EXPECT_FALSE(IpAddress::parse("example.com").has_value());
  EXPECT_FALSE(IpAddress::parse("").has_value());
  EXPECT_EQ(IpAddress::parse("::1")->family, AF_INET6);
}

}  // namespace
}  // namespace ringlb::l7
