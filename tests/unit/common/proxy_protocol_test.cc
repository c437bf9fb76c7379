// Specification of the PROXY protocol encoders and the incremental decoder.
#include "common/proxy_protocol.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>
#include <vector>

namespace ringlb::proxy {
namespace {

using namespace std::string_literals;

sockaddr_storage inet(const char* ip, uint16_t port) {
  sockaddr_storage ss{};
  if (std::strchr(ip, ':') == nullptr) {
    auto& in = reinterpret_cast<sockaddr_in&>(ss);
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET, ip, &in.sin_addr), 1);
  } else {
    auto& in6 = reinterpret_cast<sockaddr_in6&>(ss);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    EXPECT_EQ(inet_pton(AF_INET6, ip, &in6.sin6_addr), 1);
  }
  return ss;
}

std::string text(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(ss);
    inet_ntop(AF_INET, &in.sin_addr, buf, sizeof buf);
    std::string out = buf;
    out += ':';
    out += std::to_string(ntohs(in.sin_port));
    return out;
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(ss);
  inet_ntop(AF_INET6, &in6.sin6_addr, buf, sizeof buf);
  // Appends, not operator+: GCC 12 -O3 warns (-Wrestrict) on "[" + std::string.
  std::string out = "[";
  out += buf;
  out += "]:";
  out += std::to_string(ntohs(in6.sin6_port));
  return out;
}

// One line that says everything a result carries, so tables compare strings.
std::string describe(const DecodeResult& r) {
  switch (r.status) {
    case DecodeStatus::NeedMore: return "need more";
    case DecodeStatus::Error: return std::string("error: ") + r.error;
    case DecodeStatus::Done: break;
  }
  std::string s = "v";
  s += std::to_string(r.version);
  s += " len ";
  s += std::to_string(r.length);
  if (!r.hasAddresses) return s + " local";
  s += ' ';
  s += text(r.source);
  s += " -> ";
  s += text(r.destination);
  return s;
}

std::string v2(uint8_t verCmd, uint8_t family, std::string_view payload) {
  std::string h = "\r\n\r\n\0\r\nQUIT\n"s;
  h += static_cast<char>(verCmd);
  h += static_cast<char>(family);
  h += static_cast<char>(payload.size() >> 8);
  h += static_cast<char>(payload.size() & 0xff);
  h += payload;
  return h;
}

const std::string kInet4Block = "\xc0\x00\x02\x07\xc6\x33\x64\x01\x30\x39\x01\xbb"s;
const std::string kInet6Block =
    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07"
    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x30\x39\x01\xbb"s;

struct Case {
  const char* name;
  std::string input;
  std::string expected;
};

std::vector<Case> goodCases() {
  const std::string unknown107 = "PROXY UNKNOWN " + std::string(107 - 16, 'x') + "\r\n";
  return {
      {"V1Tcp4", "PROXY TCP4 192.0.2.7 198.51.100.1 12345 443\r\n",
       "v1 len 45 192.0.2.7:12345 -> 198.51.100.1:443"},
      {"V1Tcp6", "PROXY TCP6 2001:db8::7 2001:db8::1 12345 443\r\n",
       "v1 len 46 [2001:db8::7]:12345 -> [2001:db8::1]:443"},
      {"V1PortsAtTheLimits", "PROXY TCP4 1.2.3.4 5.6.7.8 0 65535\r\n",
       "v1 len 36 1.2.3.4:0 -> 5.6.7.8:65535"},
      {"V1Unknown", "PROXY UNKNOWN\r\n", "v1 len 15 local"},
      {"V1UnknownIgnoresTheRestOfTheLine", "PROXY UNKNOWN ffff::1 ::1 1 2\r\n", "v1 len 31 local"},
      {"V1LineOfExactly107Bytes", unknown107, "v1 len 107 local"},
      {"V1DataAfterTheHeaderIsNotConsumed", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET /",
       "v1 len 32 1.2.3.4:1 -> 5.6.7.8:2"},
      {"V2Inet", v2(0x21, 0x11, kInet4Block), "v2 len 28 192.0.2.7:12345 -> 198.51.100.1:443"},
      {"V2Inet6", v2(0x21, 0x21, kInet6Block),
       "v2 len 52 [2001:db8::7]:12345 -> [2001:db8::1]:443"},
      {"V2TlvsAreSkipped", v2(0x21, 0x11, kInet4Block + "\x04\x00\x01x"s),
       "v2 len 32 192.0.2.7:12345 -> 198.51.100.1:443"},
      {"V2TlvsUpTo1KiBAreAccepted", v2(0x21, 0x11, kInet4Block + std::string(1024, '\0')),
       "v2 len 1052 192.0.2.7:12345 -> 198.51.100.1:443"},
      {"V2Local", v2(0x20, 0x00, ""), "v2 len 16 local"},
      {"V2LocalIgnoresItsFamily", v2(0x20, 0x11, kInet4Block), "v2 len 28 local"},
      {"V2ProxyUnspec", v2(0x21, 0x00, ""), "v2 len 16 local"},
      {"V2ProxyUnixHasNoInetAddresses", v2(0x21, 0x31, std::string(216, 'u')), "v2 len 232 local"},
      {"V2DataAfterTheHeaderIsNotConsumed", v2(0x21, 0x11, kInet4Block) + "payload",
       "v2 len 28 192.0.2.7:12345 -> 198.51.100.1:443"},
  };
}

std::vector<Case> badCases() {
  const std::string tcp4 = "PROXY TCP4 1.2.3.4 5.6.7.8 ";
  return {
      {"NoHeaderAtAll", "GET / HTTP/1.1\r\n\r\n", "error: no PROXY protocol header"},
      {"V1LowerCase", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "error: no PROXY protocol header"},
      {"V1NoSpaceAfterProxy", "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", "error: v1: bad signature"},
      {"V1UnknownProtocol", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
       "error: v1: protocol is not TCP4, TCP6 or UNKNOWN"},
      {"V1UnknownGluedToMore", "PROXY UNKNOWNX\r\n",
       "error: v1: protocol is not TCP4, TCP6 or UNKNOWN"},
      {"V1TwoSpaces", "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", "error: v1: too many fields"},
      {"V1TabSeparator", "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
       "error: v1: bad source address or port"},
      {"V1TrailingSpace", tcp4 + "1 2 \r\n", "error: v1: too many fields"},
      {"V1MissingPort", tcp4 + "1\r\n", "error: v1: bad destination address or port"},
      {"V1ExtraField", tcp4 + "1 2 3\r\n", "error: v1: too many fields"},
      {"V1OctetOutOfRange", "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
       "error: v1: bad source address or port"},
      {"V1Ipv6InTcp4", "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "error: v1: bad source address or port"},
      {"V1Ipv4InTcp6", "PROXY TCP6 ::1 5.6.7.8 1 2\r\n",
       "error: v1: bad destination address or port"},
      {"V1PortTooLarge", tcp4 + "65536 2\r\n", "error: v1: bad source address or port"},
      {"V1PortLeadingZero", tcp4 + "01 2\r\n", "error: v1: bad source address or port"},
      {"V1PortSigned", tcp4 + "1 +2\r\n", "error: v1: bad destination address or port"},
      {"V1PortNotNumeric", tcp4 + "1 2a\r\n", "error: v1: bad destination address or port"},
      {"V1LfWithoutCr", tcp4 + "1 2\n", "error: v1: LF without CR"},
      {"V1CrWithoutLf", tcp4 + "1 2\rX", "error: v1: CR without LF"},
      {"V1LineOf108Bytes", "PROXY UNKNOWN " + std::string(108 - 16, 'x') + "\r\n",
       "error: v1: line longer than 107 bytes"},
      {"V1NoCrlfWithin107Bytes", "PROXY UNKNOWN " + std::string(200, 'x'),
       "error: v1: line longer than 107 bytes"},
      {"V2BadSignature", "\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x0c"s + kInet4Block,
       "error: v2: bad signature"},
      {"V2Version1", v2(0x11, 0x11, kInet4Block), "error: v2: version is not 2"},
      {"V2Version3", v2(0x31, 0x11, kInet4Block), "error: v2: version is not 2"},
      {"V2UnknownCommand", v2(0x22, 0x11, kInet4Block), "error: v2: unknown command"},
      {"V2UnknownFamily", v2(0x21, 0x41, kInet4Block), "error: v2: unknown address family"},
      {"V2UnknownTransport", v2(0x21, 0x13, kInet4Block), "error: v2: unknown transport"},
      {"V2InetOverUdp", v2(0x21, 0x12, kInet4Block),
       "error: v2: inet family over a transport other than TCP"},
      {"V2InetWithoutTransport", v2(0x21, 0x10, kInet4Block),
       "error: v2: inet family over a transport other than TCP"},
      {"V2LengthShorterThanInet", v2(0x21, 0x11, kInet4Block.substr(0, 11)),
       "error: v2: length shorter than the addresses"},
      {"V2LengthShorterThanInet6", v2(0x21, 0x21, kInet4Block),
       "error: v2: length shorter than the addresses"},
      {"V2TlvsOver1KiB", v2(0x21, 0x21, kInet6Block + std::string(1025, '\0')),
       "error: v2: header too long"},
      {"V2LocalOver1KiB", v2(0x20, 0x00, std::string(1025, '\0')), "error: v2: header too long"},
  };
}

class GoodHeader : public ::testing::TestWithParam<Case> {};
class BadHeader : public ::testing::TestWithParam<Case> {};
std::string caseName(const ::testing::TestParamInfo<Case>& info) { return info.param.name; }

TEST_P(GoodHeader, IsDecoded) {
  EXPECT_EQ(describe(decodeProxyHeader(GetParam().input)), GetParam().expected);
}

TEST_P(BadHeader, IsRejectedWithItsReason) {
  EXPECT_EQ(describe(decodeProxyHeader(GetParam().input)), GetParam().expected);
}

// Every prefix is either undecided or decided exactly as the whole input.
void expectEveryPrefixAgrees(const std::string& input) {
  std::string whole = describe(decodeProxyHeader(input));
  for (size_t k = 0; k < input.size(); ++k) {
    std::string prefix = describe(decodeProxyHeader(std::string_view(input).substr(0, k)));
    if (prefix != "need more") {
      ASSERT_EQ(prefix, whole) << "prefix of " << k << " bytes";
    }
  }
}

// Fed to a reader in two pieces cut at `cut`, the input decodes as a whole.
void expectSplitAgrees(const std::string& input, size_t cut) {
  ProxyHeaderReader reader;
  std::string whole = describe(decodeProxyHeader(input));
  size_t fed = 0;
  for (size_t piece : {cut, input.size() - cut}) {
    if (reader.result().status != DecodeStatus::NeedMore) break;
    piece = std::min(piece, reader.space().size());
    std::memcpy(reader.space().data(), input.data() + fed, piece);
    reader.received(piece);
    fed += piece;
  }
  ASSERT_EQ(describe(reader.result()), whole) << "cut at " << cut;
}

TEST_P(GoodHeader, EveryPrefixIsUndecidedOrTheSame) { expectEveryPrefixAgrees(GetParam().input); }
TEST_P(BadHeader, EveryPrefixIsUndecidedOrTheSame) { expectEveryPrefixAgrees(GetParam().input); }

TEST_P(GoodHeader, SplitAtEveryOffsetGivesTheSameResult) {
  for (size_t cut = 0; cut <= GetParam().input.size(); ++cut) {
    expectSplitAgrees(GetParam().input, cut);
  }
}

TEST_P(BadHeader, SplitAtEveryOffsetGivesTheSameResult) {
  for (size_t cut = 0; cut <= GetParam().input.size(); ++cut) {
    expectSplitAgrees(GetParam().input, cut);
  }
}

INSTANTIATE_TEST_SUITE_P(ProxyProtocol, GoodHeader, ::testing::ValuesIn(goodCases()), caseName);
INSTANTIATE_TEST_SUITE_P(ProxyProtocol, BadHeader, ::testing::ValuesIn(badCases()), caseName);

TEST(ProxyProtocolDecode, NothingYetNeedsMore) {
  EXPECT_EQ(describe(decodeProxyHeader(std::string_view())), "need more");
}

TEST(ProxyProtocolDecode, AHeaderCutShortNeedsMore) {
  EXPECT_EQ(describe(decodeProxyHeader("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r")), "need more");
  EXPECT_EQ(describe(decodeProxyHeader(v2(0x21, 0x11, kInet4Block).substr(0, 27))), "need more");
}

TEST(ProxyHeaderReader, RestIsWhatFollowedTheHeaderInTheSameRead) {
  ProxyHeaderReader reader;
  std::string input = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nhello";
  std::memcpy(reader.space().data(), input.data(), input.size());
  EXPECT_EQ(reader.received(input.size()).status, DecodeStatus::Done);
  EXPECT_EQ(reader.rest(), "hello");
}

TEST(ProxyHeaderReader, SpaceShrinksAsBytesArrive) {
  ProxyHeaderReader reader;
  EXPECT_EQ(reader.space().size(), kMaxHeaderLength);
  reader.space()[0] = 'P';
  reader.received(1);
  EXPECT_EQ(reader.space().size(), kMaxHeaderLength - 1);
}

sockaddr_storage unixAddress() {
  sockaddr_storage ss{};
  ss.ss_family = AF_UNIX;
  return ss;
}

TEST(ProxyProtocolEncode, V1Tcp4) {
  std::string out = "keep:";
  encodeProxyV1(inet("192.0.2.7", 12345), inet("198.51.100.1", 443), out);
  EXPECT_EQ(out, "keep:PROXY TCP4 192.0.2.7 198.51.100.1 12345 443\r\n");
}

TEST(ProxyProtocolEncode, V1Tcp6) {
  std::string out;
  encodeProxyV1(inet("2001:db8::7", 1), inet("::1", 2), out);
  EXPECT_EQ(out, "PROXY TCP6 2001:db8::7 ::1 1 2\r\n");
}

TEST(ProxyProtocolEncode, MixedFamiliesMapTheIpv4SideIntoIpv6) {
  std::string out;
  encodeProxyV1(inet("192.0.2.7", 1), inet("::1", 2), out);
  EXPECT_EQ(out, "PROXY TCP6 ::ffff:192.0.2.7 ::1 1 2\r\n");
}

TEST(ProxyProtocolEncode, V1NonInetIsUnknown) {
  std::string out;
  encodeProxyV1(unixAddress(), inet("::1", 2), out);
  EXPECT_EQ(out, "PROXY UNKNOWN\r\n");
}

TEST(ProxyProtocolEncode, V2Inet) {
  std::string out;
  encodeProxyV2(inet("192.0.2.7", 12345), inet("198.51.100.1", 443), out);
  EXPECT_EQ(out, v2(0x21, 0x11, kInet4Block));
}

TEST(ProxyProtocolEncode, V2Inet6) {
  std::string out;
  encodeProxyV2(inet("2001:db8::7", 12345), inet("2001:db8::1", 443), out);
  EXPECT_EQ(out, v2(0x21, 0x21, kInet6Block));
}

TEST(ProxyProtocolEncode, V2NonInetIsLocal) {
  std::string out;
  encodeProxyV2(inet("192.0.2.7", 1), unixAddress(), out);
  EXPECT_EQ(out, v2(0x20, 0x00, ""));
}

TEST(ProxyProtocolEncode, EncodedHeadersDecodeToTheSameAddresses) {
  using Encoder = void (*)(const sockaddr_storage&, const sockaddr_storage&, std::string&);
  for (Encoder encode : {Encoder{encodeProxyV1}, Encoder{encodeProxyV2}}) {
    for (auto [src, dst] : {std::pair{"10.1.2.3", "127.0.0.1"}, std::pair{"fe80::1", "::"}}) {
      std::string out;
      encode(inet(src, 65535), inet(dst, 0), out);
      DecodeResult r = decodeProxyHeader(out);
      ASSERT_EQ(r.status, DecodeStatus::Done) << out;
      EXPECT_EQ(r.length, out.size());
      EXPECT_EQ(text(r.source), text(inet(src, 65535)));
      EXPECT_EQ(text(r.destination), text(inet(dst, 0)));
    }
  }
}

}  // namespace
}  // namespace ringlb::proxy
