// A bounded set of SHA-256 digests with CLOCK (second chance) eviction. The
// basic-auth verifier keeps the digests of successful verifications in it
// so that a client sending the same good credentials again does not pay
// for bcrypt/yescrypt on every request.
//
// Thread rules: one owner (a worker's AuthVerifier); not thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace ringlb::l7 {

class AuthCache {
 public:
  using Digest = std::array<uint8_t, 32>;

  // capacity 0: nothing is ever remembered.
  explicit AuthCache(size_t capacity);

  // True when `d` is held; it then survives the next sweep of the clock.
  bool contains(const Digest& d);
  // Remembers `d`, evicting the first entry not used since the last sweep
  // when full.
  void insert(const Digest& d);
  void clear();

  size_t size() const { return index_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  struct DigestHash {
    // The digest is already uniformly distributed: its first bytes will do.
    size_t operator()(const Digest& d) const {
      size_t h;
      std::memcpy(&h, d.data(), sizeof(h));
      return h;
    }
  };
  struct Slot {
    Digest digest;
    bool referenced = false;
  };

  size_t capacity_;
  std::vector<Slot> slots_;
  std::unordered_map<Digest, size_t, DigestHash> index_;  // digest -> slot
  size_t hand_ = 0;
};

}  // namespace ringlb::l7
