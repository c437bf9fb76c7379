// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): a
// header a proxy sends first on a TCP connection so that the server learns
// the original client and destination addresses.
//
// Pure functions and values, no I/O: the encoders append a header to a
// string; the decoder looks at the first bytes a client sent and says
// "need more", "done after N bytes" or "error". It never looks past the
// header, never reads outside the bytes it is given, and decides each prefix
// the same way, so feeding the bytes in any number of pieces gives the same
// answer as feeding them at once.
//
// Any thread: nothing here keeps state between calls (ProxyHeaderReader is a
// plain value owned by one connection).
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ringlb::proxy {

// A v1 line is at most 107 bytes including CRLF (spec 2.1).
inline constexpr size_t kV1MaxLength = 107;
// The fixed part of a v2 header: signature, version/command, family, length.
inline constexpr size_t kV2FixedLength = 16;
// The largest v2 address block (AF_UNIX: two 108-byte paths).
inline constexpr size_t kV2MaxAddressLength = 216;
// TLV bytes accepted after the addresses; they are skipped, not parsed.
inline constexpr size_t kV2MaxTlvLength = 1024;
// No valid header is longer than this: a reader's buffer of this size
// always holds a header that the decoder can finish.
inline constexpr size_t kMaxHeaderLength = kV2FixedLength + kV2MaxAddressLength + kV2MaxTlvLength;

// Appends "PROXY TCP4|TCP6 src dst sport dport\r\n" to `out`. When one side is
// IPv4 and the other IPv6, the IPv4 one is written as ::ffff:a.b.c.d (TCP6),
// as HAProxy does, so the client address is never lost; when either is not
// an inet address, appends "PROXY UNKNOWN\r\n".
void encodeProxyV1(const sockaddr_storage& src, const sockaddr_storage& dst, std::string& out);
// Appends a v2 PROXY header (TCP over IPv4 or IPv6, no TLVs) to `out`, with
// the same family rule; when either side is not inet, a LOCAL header with
// no addresses.
void encodeProxyV2(const sockaddr_storage& src, const sockaddr_storage& dst, std::string& out);

enum class DecodeStatus : uint8_t { NeedMore, Done, Error };

struct DecodeResult {
  DecodeStatus status = DecodeStatus::NeedMore;
  uint8_t version = 0;  // 1 or 2 once known
  // Done: header bytes to drop; everything after them is the client's data.
  size_t length = 0;
  // Done: false for v1 UNKNOWN, v2 LOCAL and v2 families other than TCP over
  // IPv4/IPv6; the connection's own addresses stand then.
  bool hasAddresses = false;
  sockaddr_storage source{};
  sockaddr_storage destination{};
  // Error: why, a static string for logs.
  const char* error = nullptr;
};

// Decodes the header at the start of `bytes` (everything received so far).
DecodeResult decodeProxyHeader(std::span<const uint8_t> bytes);
inline DecodeResult decodeProxyHeader(std::string_view bytes) {
  return decodeProxyHeader(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
}

// Collects a client's first bytes until the header is decoded. Usage: receive
// into space(), call received(n) with the byte count, repeat while NeedMore;
// once Done, rest() holds the bytes that followed the header in the same
// reads (client data to forward, not to drop).
class ProxyHeaderReader {
 public:
  std::span<char> space() { return std::span(buffer_).subspan(size_); }
  DecodeResult received(size_t n);
  const DecodeResult& result() const { return result_; }
  std::string_view rest() const;

 private:
  std::array<char, kMaxHeaderLength> buffer_{};
  size_t size_ = 0;
  DecodeResult result_;
};

}  // namespace ringlb::proxy
