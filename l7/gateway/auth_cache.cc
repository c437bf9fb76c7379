#include "l7/gateway/auth_cache.h"

namespace ringlb::l7 {

AuthCache::AuthCache(size_t capacity) : capacity_(capacity) {
  slots_.reserve(capacity);
  index_.reserve(capacity);
}

bool AuthCache::contains(const Digest& d) {
  auto it = index_.find(d);
  if (it == index_.end()) return false;
  slots_[it->second].referenced = true;
  return true;
}

void AuthCache::insert(const Digest& d) {
  if (capacity_ == 0 || contains(d)) return;
  if (slots_.size() < capacity_) {
    index_.emplace(d, slots_.size());
    slots_.push_back({d, false});
    return;
  }
  // Second chance: clear referenced bits until an unreferenced slot comes up
  // (at most one full turn).
  while (slots_[hand_].referenced) {
    slots_[hand_].referenced = false;
    hand_ = (hand_ + 1) % capacity_;
  }
  index_.erase(slots_[hand_].digest);
  slots_[hand_] = {d, false};
  index_.emplace(d, hand_);
  hand_ = (hand_ + 1) % capacity_;
}

void AuthCache::clear() {
  slots_.clear();
  index_.clear();
  hand_ = 0;
}

}  // namespace ringlb::l7
