// libFuzzer target for the PROXY protocol decoder and encoders.
// Invariants: no read outside the input (it is copied to a buffer of exactly
// its size, so ASan sees any overrun); a decoded header lies inside the
// input; a prefix is undecided or decided as the whole; a decoded header
// re-encodes to one that decodes to the same addresses; and addresses made
// from the input bytes survive encode -> decode in both versions.
#include <netinet/in.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "common/proxy_protocol.h"

namespace {

using namespace ringlb::proxy;

#define FUZZ_CHECK(cond)                                                            \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (0)

bool sameAddress(const sockaddr_storage& a, const sockaddr_storage& b) {
  if (a.ss_family != b.ss_family) return false;
  if (a.ss_family == AF_INET) {
    const auto& x = reinterpret_cast<const sockaddr_in&>(a);
    const auto& y = reinterpret_cast<const sockaddr_in&>(b);
    return x.sin_port == y.sin_port && x.sin_addr.s_addr == y.sin_addr.s_addr;
  }
  const auto& x = reinterpret_cast<const sockaddr_in6&>(a);
  const auto& y = reinterpret_cast<const sockaddr_in6&>(b);
  return x.sin6_port == y.sin6_port && std::memcmp(&x.sin6_addr, &y.sin6_addr, 16) == 0;
}

bool sameResult(const DecodeResult& a, const DecodeResult& b) {
  if (a.status != b.status) return false;
  if (a.status == DecodeStatus::Error) return std::strcmp(a.error, b.error) == 0;
  if (a.status == DecodeStatus::NeedMore) return true;
  if (a.length != b.length || a.hasAddresses != b.hasAddresses) return false;
  return !a.hasAddresses ||
         (sameAddress(a.source, b.source) && sameAddress(a.destination, b.destination));
}

DecodeResult decodeExact(const uint8_t* data, size_t size) {
  auto copy = std::make_unique<uint8_t[]>(size == 0 ? 1 : size);
  if (size != 0) std::memcpy(copy.get(), data, size);
  return decodeProxyHeader(std::span<const uint8_t>(copy.get(), size));
}

void checkRoundTrip(const sockaddr_storage& src, const sockaddr_storage& dst, uint8_t version) {
  std::string out;
  (version == 1 ? encodeProxyV1 : encodeProxyV2)(src, dst, out);
  DecodeResult r = decodeProxyHeader(out);
  FUZZ_CHECK(r.status == DecodeStatus::Done);
  FUZZ_CHECK(r.length == out.size());
  FUZZ_CHECK(r.hasAddresses);
  FUZZ_CHECK(sameAddress(r.source, src));
  FUZZ_CHECK(sameAddress(r.destination, dst));
}

// Two addresses of one family built from the first bytes of the input.
void checkEncodersOn(const uint8_t* data, size_t size) {
  if (size < 37) return;
  sockaddr_storage src{};
  sockaddr_storage dst{};
  if (data[0] & 1) {
    auto& s = reinterpret_cast<sockaddr_in6&>(src);
    auto& d = reinterpret_cast<sockaddr_in6&>(dst);
    s.sin6_family = d.sin6_family = AF_INET6;
    std::memcpy(&s.sin6_addr, data + 1, 16);
    std::memcpy(&d.sin6_addr, data + 17, 16);
    std::memcpy(&s.sin6_port, data + 33, 2);
    std::memcpy(&d.sin6_port, data + 35, 2);
  } else {
    auto& s = reinterpret_cast<sockaddr_in&>(src);
    auto& d = reinterpret_cast<sockaddr_in&>(dst);
    s.sin_family = d.sin_family = AF_INET;
    std::memcpy(&s.sin_addr, data + 1, 4);
    std::memcpy(&d.sin_addr, data + 5, 4);
    std::memcpy(&s.sin_port, data + 9, 2);
    std::memcpy(&d.sin_port, data + 11, 2);
  }
  checkRoundTrip(src, dst, 1);
  checkRoundTrip(src, dst, 2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  DecodeResult whole = decodeExact(data, size);
  if (whole.status == DecodeStatus::Done) {
    FUZZ_CHECK(whole.length > 0 && whole.length <= size);
    FUZZ_CHECK(whole.length <= kMaxHeaderLength);
    if (whole.hasAddresses) checkRoundTrip(whole.source, whole.destination, whole.version);
  }
  if (whole.status == DecodeStatus::Error) FUZZ_CHECK(whole.error != nullptr);
  if (size > 0) {
    DecodeResult prefix = decodeExact(data, data[size - 1] % size);
    FUZZ_CHECK(prefix.status == DecodeStatus::NeedMore || sameResult(prefix, whole));
  }
  checkEncodersOn(data, size);
  return 0;
}
