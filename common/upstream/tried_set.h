// The backends one session already tried (by stable backend id), so that a
// retry goes elsewhere. Up to kInline ids without allocating.
//
// Thread rules: owned by one session (worker thread).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace ringlb::upstream {

class TriedSet {
 public:
  static constexpr size_t kInline = 8;

  void add(uint32_t id) {
    if (contains(id)) return;
    if (count_ < kInline) {
      inline_[count_++] = id;
    } else {
      overflow_.push_back(id);
    }
  }
  bool contains(uint32_t id) const {
    return std::find(inline_.begin(), inline_.begin() + count_, id) != inline_.begin() + count_ ||
           std::find(overflow_.begin(), overflow_.end(), id) != overflow_.end();
  }
  size_t size() const { return count_ + overflow_.size(); }
  bool empty() const { return count_ == 0; }
  void clear() {
    count_ = 0;
    overflow_.clear();
  }

 private:
  std::array<uint32_t, kInline> inline_{};
  size_t count_ = 0;
  std::vector<uint32_t> overflow_;
};

}  // namespace ringlb::upstream
