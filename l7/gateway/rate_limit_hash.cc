#include "l7/gateway/rate_limit_hash.h"

#include <bit>
#include <chrono>
#include <random>

namespace ringlb::l7 {
namespace {

struct SipState {
  uint64_t v0, v1, v2, v3;

  void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }

  void compress(uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

// Little-endian load of up to 8 bytes, whatever the host's byte order.
uint64_t loadLittleEndian(const char* p, size_t n) {
  uint64_t out = 0;
  for (size_t i = 0; i < n; ++i) out |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return out;
}

}  // namespace

uint64_t sipHash24(const SipHashKey& key, std::string_view data) {
  SipState s{key[0] ^ 0x736f6d6570736575ULL, key[1] ^ 0x646f72616e646f6dULL,
             key[0] ^ 0x6c7967656e657261ULL, key[1] ^ 0x7465646279746573ULL};
  size_t whole = data.size() & ~size_t{7};
  for (size_t i = 0; i < whole; i += 8) s.compress(loadLittleEndian(data.data() + i, 8));
  uint64_t last = uint64_t{data.size() & 0xff} << 56;
  s.compress(last | loadLittleEndian(data.data() + whole, data.size() - whole));
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

SipHashKey randomSipHashKey() {
  SipHashKey key{};
  try {
    std::random_device device;
    std::uniform_int_distribution<uint64_t> any;
    key = {any(device), any(device)};
  } catch (...) {
    // No random source (a sandbox without getrandom): the clock is a weaker
    // key, but still not one a client is shown.
    auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    key = {static_cast<uint64_t>(now) * 0x9e3779b97f4a7c15ULL, static_cast<uint64_t>(now)};
  }
  return key;
}

}  // namespace ringlb::l7
