#include "common/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cassert>
#include <cstring>

namespace ringlb::proxy {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
constexpr std::array<uint8_t, 12> kV2Signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr uint8_t kV2Version = 0x20;
constexpr uint8_t kCmdLocal = 0x00;
constexpr uint8_t kCmdProxy = 0x01;
constexpr uint8_t kFamUnspec = 0x00;
constexpr uint8_t kFamInet = 0x10;
constexpr uint8_t kFamInet6 = 0x20;
constexpr uint8_t kFamUnix = 0x30;
constexpr uint8_t kTransStream = 0x01;
constexpr uint8_t kTransDgram = 0x02;

DecodeResult fail(uint8_t version, const char* why) {
  DecodeResult r;
  r.status = DecodeStatus::Error;
  r.version = version;
  r.error = why;
  return r;
}

DecodeResult needMore(uint8_t version) {
  DecodeResult r;
  r.version = version;
  return r;
}

DecodeResult done(uint8_t version, size_t length) {
  DecodeResult r;
  r.status = DecodeStatus::Done;
  r.version = version;
  r.length = length;
  return r;
}

// --- encoding ---------------------------------------------------------------

bool isInet(const sockaddr_storage& a) { return a.ss_family == AF_INET || a.ss_family == AF_INET6; }

// `a` as IPv6 (IPv4 becomes ::ffff:a.b.c.d): for headers whose sides differ.
sockaddr_in6 asInet6(const sockaddr_storage& a) {
  sockaddr_in6 out{};
  if (a.ss_family == AF_INET6) {
    std::memcpy(&out, &a, sizeof out);
    return out;
  }
  const auto& in = reinterpret_cast<const sockaddr_in&>(a);
  out.sin6_family = AF_INET6;
  out.sin6_port = in.sin_port;
  out.sin6_addr.s6_addr[10] = 0xff;
  out.sin6_addr.s6_addr[11] = 0xff;
  std::memcpy(&out.sin6_addr.s6_addr[12], &in.sin_addr, 4);
  return out;
}

// Both sides in one family: IPv4 when both are, else IPv6.
struct AddressPair {
  bool v4;
  sockaddr_in src4, dst4;
  sockaddr_in6 src6, dst6;
};

AddressPair pairOf(const sockaddr_storage& src, const sockaddr_storage& dst) {
  AddressPair p{};
  p.v4 = src.ss_family == AF_INET && dst.ss_family == AF_INET;
  if (p.v4) {
    std::memcpy(&p.src4, &src, sizeof p.src4);
    std::memcpy(&p.dst4, &dst, sizeof p.dst4);
  } else {
    p.src6 = asInet6(src);
    p.dst6 = asInet6(dst);
  }
  return p;
}

void appendPort(uint16_t networkOrder, std::string& out) {
  out += std::to_string(ntohs(networkOrder));
}

void appendBytes(const void* p, size_t n, std::string& out) {
  out.append(static_cast<const char*>(p), n);
}

}  // namespace

void encodeProxyV1(const sockaddr_storage& src, const sockaddr_storage& dst, std::string& out) {
  if (!isInet(src) || !isInet(dst)) {
    out += "PROXY UNKNOWN\r\n";
    return;
  }
  AddressPair p = pairOf(src, dst);
  char srcText[INET6_ADDRSTRLEN];
  char dstText[INET6_ADDRSTRLEN];
  if (p.v4) {
    inet_ntop(AF_INET, &p.src4.sin_addr, srcText, sizeof srcText);
    inet_ntop(AF_INET, &p.dst4.sin_addr, dstText, sizeof dstText);
  } else {
    inet_ntop(AF_INET6, &p.src6.sin6_addr, srcText, sizeof srcText);
    inet_ntop(AF_INET6, &p.dst6.sin6_addr, dstText, sizeof dstText);
  }
  out += p.v4 ? "PROXY TCP4 " : "PROXY TCP6 ";
  out += srcText;
  out += ' ';
  out += dstText;
  out += ' ';
  appendPort(p.v4 ? p.src4.sin_port : p.src6.sin6_port, out);
  out += ' ';
  appendPort(p.v4 ? p.dst4.sin_port : p.dst6.sin6_port, out);
  out += "\r\n";
}

void encodeProxyV2(const sockaddr_storage& src, const sockaddr_storage& dst, std::string& out) {
  appendBytes(kV2Signature.data(), kV2Signature.size(), out);
  if (!isInet(src) || !isInet(dst)) {
    out += static_cast<char>(kV2Version | kCmdLocal);
    out += static_cast<char>(kFamUnspec);
    out.append(2, '\0');
    return;
  }
  AddressPair p = pairOf(src, dst);
  uint16_t length = p.v4 ? 12 : 36;
  out += static_cast<char>(kV2Version | kCmdProxy);
  out += static_cast<char>((p.v4 ? kFamInet : kFamInet6) | kTransStream);
  out += static_cast<char>(length >> 8);
  out += static_cast<char>(length & 0xff);
  if (p.v4) {
    appendBytes(&p.src4.sin_addr, 4, out);
    appendBytes(&p.dst4.sin_addr, 4, out);
    appendBytes(&p.src4.sin_port, 2, out);
    appendBytes(&p.dst4.sin_port, 2, out);
  } else {
    appendBytes(&p.src6.sin6_addr, 16, out);
    appendBytes(&p.dst6.sin6_addr, 16, out);
    appendBytes(&p.src6.sin6_port, 2, out);
    appendBytes(&p.dst6.sin6_port, 2, out);
  }
}

// --- v1 decoding ------------------------------------------------------------

namespace {

// Splits "a b c" one field at a time; every separator is exactly one space.
class Fields {
 public:
  explicit Fields(std::string_view line) : rest_(line) {}
  // The next field, or empty when there is none or it is empty.
  std::string_view next() {
    size_t end = rest_.find(' ');
    std::string_view field = rest_.substr(0, end);
    rest_ = end == std::string_view::npos ? std::string_view() : rest_.substr(end + 1);
    ended_ = end == std::string_view::npos;
    return field;
  }
  bool ended() const { return ended_; }

 private:
  std::string_view rest_;
  bool ended_ = false;
};

bool parseAddress(std::string_view text, int family, void* out) {
  char buf[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof buf) return false;
  text.copy(buf, text.size());
  buf[text.size()] = '\0';
  return inet_pton(family, buf, out) == 1;
}

// A decimal 0..65535 without sign or leading zeros; network byte order.
bool parsePort(std::string_view text, uint16_t& out) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  uint32_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return false;
  out = htons(static_cast<uint16_t>(value));
  return true;
}

bool parseEndpoint(std::string_view addr, std::string_view port, int family,
                   sockaddr_storage& out) {
  uint16_t p = 0;
  if (!parsePort(port, p)) return false;
  if (family == AF_INET) {
    auto& in = reinterpret_cast<sockaddr_in&>(out);
    in.sin_family = AF_INET;
    in.sin_port = p;
    return parseAddress(addr, AF_INET, &in.sin_addr);
  }
  auto& in6 = reinterpret_cast<sockaddr_in6&>(out);
  in6.sin6_family = AF_INET6;
  in6.sin6_port = p;
  return parseAddress(addr, AF_INET6, &in6.sin6_addr);
}

// `line` is the header without "PROXY " and CRLF.
DecodeResult parseV1Line(std::string_view line, size_t length) {
  if (line == "UNKNOWN" || line.starts_with("UNKNOWN ")) return done(1, length);
  Fields fields(line);
  std::string_view proto = fields.next();
  int family = proto == "TCP4" ? AF_INET : proto == "TCP6" ? AF_INET6 : 0;
  if (family == 0) return fail(1, "v1: protocol is not TCP4, TCP6 or UNKNOWN");
  std::string_view src = fields.next();
  std::string_view dst = fields.next();
  std::string_view srcPort = fields.next();
  std::string_view dstPort = fields.next();
  if (!fields.ended()) return fail(1, "v1: too many fields");
  DecodeResult r = done(1, length);
  r.hasAddresses = true;
  if (!parseEndpoint(src, srcPort, family, r.source)) {
    return fail(1, "v1: bad source address or port");
  }
  if (!parseEndpoint(dst, dstPort, family, r.destination)) {
    return fail(1, "v1: bad destination address or port");
  }
  return r;
}

// Looks at the bytes in order, so that a prefix is decided exactly as the
// whole input would be: the prefix "PROXY ", then the first CR, which must
// be followed by LF within 107 bytes.
DecodeResult decodeV1(std::span<const uint8_t> b) {
  size_t limit = std::min(b.size(), kV1MaxLength);
  for (size_t i = 0; i < limit; ++i) {
    if (i < kV1Prefix.size()) {
      if (b[i] != static_cast<uint8_t>(kV1Prefix[i])) return fail(1, "v1: bad signature");
      continue;
    }
    if (b[i] == '\n') return fail(1, "v1: LF without CR");
    if (b[i] != '\r') continue;
    if (i + 1 == kV1MaxLength) return fail(1, "v1: line longer than 107 bytes");
    if (i + 1 == b.size()) return needMore(1);
    if (b[i + 1] != '\n') return fail(1, "v1: CR without LF");
    std::string_view line(reinterpret_cast<const char*>(b.data()) + kV1Prefix.size(),
                          i - kV1Prefix.size());
    return parseV1Line(line, i + 2);
  }
  if (b.size() >= kV1MaxLength) return fail(1, "v1: line longer than 107 bytes");
  return needMore(1);
}

// --- v2 decoding ------------------------------------------------------------

// The address block size of a PROXY command's family, or 0 with `error` set.
size_t v2AddressLength(uint8_t family, const char*& error) {
  uint8_t fam = family & 0xf0;
  uint8_t trans = family & 0x0f;
  if (trans > kTransDgram) {
    error = "v2: unknown transport";
    return 0;
  }
  switch (fam) {
    case kFamUnspec: return 0;
    case kFamInet:
    case kFamInet6:
      if (trans != kTransStream) {
        error = "v2: inet family over a transport other than TCP";
        return 0;
      }
      return fam == kFamInet ? 12 : 36;
    case kFamUnix: return kV2MaxAddressLength;
    default: error = "v2: unknown address family"; return 0;
  }
}

void readV2Addresses(const uint8_t* a, uint8_t fam, DecodeResult& r) {
  r.hasAddresses = true;
  if (fam == kFamInet) {
    auto& src = reinterpret_cast<sockaddr_in&>(r.source);
    auto& dst = reinterpret_cast<sockaddr_in&>(r.destination);
    src.sin_family = dst.sin_family = AF_INET;
    std::memcpy(&src.sin_addr, a, 4);
    std::memcpy(&dst.sin_addr, a + 4, 4);
    std::memcpy(&src.sin_port, a + 8, 2);
    std::memcpy(&dst.sin_port, a + 10, 2);
    return;
  }
  auto& src = reinterpret_cast<sockaddr_in6&>(r.source);
  auto& dst = reinterpret_cast<sockaddr_in6&>(r.destination);
  src.sin6_family = dst.sin6_family = AF_INET6;
  std::memcpy(&src.sin6_addr, a, 16);
  std::memcpy(&dst.sin6_addr, a + 16, 16);
  std::memcpy(&src.sin6_port, a + 32, 2);
  std::memcpy(&dst.sin6_port, a + 34, 2);
}

DecodeResult decodeV2(std::span<const uint8_t> b) {
  size_t sigBytes = std::min(b.size(), kV2Signature.size());
  if (std::memcmp(b.data(), kV2Signature.data(), sigBytes) != 0) {
    return fail(2, "v2: bad signature");
  }
  if (b.size() < kV2FixedLength) return needMore(2);
  uint8_t verCmd = b[12];
  uint8_t family = b[13];
  size_t payload = (static_cast<size_t>(b[14]) << 8) | b[15];
  if ((verCmd & 0xf0) != kV2Version) return fail(2, "v2: version is not 2");
  uint8_t cmd = verCmd & 0x0f;
  if (cmd != kCmdLocal && cmd != kCmdProxy) return fail(2, "v2: unknown command");
  // LOCAL (health checks of the sender itself) carries no usable addresses:
  // its family is ignored, as the spec says.
  const char* error = nullptr;
  size_t addressLength = cmd == kCmdProxy ? v2AddressLength(family, error) : 0;
  if (error != nullptr) return fail(2, error);
  if (payload < addressLength) return fail(2, "v2: length shorter than the addresses");
  if (payload - addressLength > kV2MaxTlvLength) return fail(2, "v2: header too long");
  size_t total = kV2FixedLength + payload;
  if (b.size() < total) return needMore(2);
  DecodeResult r = done(2, total);
  uint8_t fam = family & 0xf0;
  if (cmd == kCmdProxy && (fam == kFamInet || fam == kFamInet6)) {
    readV2Addresses(b.data() + kV2FixedLength, fam, r);
  }
  return r;
}

}  // namespace

DecodeResult decodeProxyHeader(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return needMore(0);
  if (bytes[0] == kV1Prefix[0]) return decodeV1(bytes);
  if (bytes[0] == kV2Signature[0]) return decodeV2(bytes);
  return fail(0, "no PROXY protocol header");
}

// --- reader -----------------------------------------------------------------

DecodeResult ProxyHeaderReader::received(size_t n) {
  assert(n <= buffer_.size() - size_);
  size_ += n;
  result_ = decodeProxyHeader(std::string_view(buffer_.data(), size_));
  // kMaxHeaderLength bounds every header the decoder accepts, so a full
  // buffer is always decided.
  assert(result_.status != DecodeStatus::NeedMore || size_ < buffer_.size());
  return result_;
}

std::string_view ProxyHeaderReader::rest() const {
  if (result_.status != DecodeStatus::Done) return {};
  return std::string_view(buffer_.data() + result_.length, size_ - result_.length);
}

}  // namespace ringlb::proxy
