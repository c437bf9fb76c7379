// A small, fast pseudo-random generator (wyrand) for balancer decisions. Not
// for anything security related.
//
// Thread rules: one instance per owner (per worker); not synchronised.
#pragma once

#include <cstdint>

namespace ringlb::upstream {

class FastRng {
 public:
  explicit FastRng(uint64_t seed) : state_(seed) {}

  uint64_t next() {
    state_ += 0xa0761d6478bd642fULL;
    const __uint128_t m = __uint128_t{state_} * (state_ ^ 0xe7037ed1a0b428dbULL);
    return uint64_t(m >> 64) ^ uint64_t(m);
  }

  // Uniform in [0, n) by multiply-shift (no division); n > 0.
  uint32_t below(uint32_t n) { return uint32_t((next() >> 32) * n >> 32); }

 private:
  uint64_t state_;
};

// Maps a 64-bit hash to [0, n) without division.
inline uint64_t reduceHash(uint64_t hash, uint64_t n) {
  return uint64_t((__uint128_t{hash} * n) >> 64);
}

}  // namespace ringlb::upstream
