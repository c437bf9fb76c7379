#include "common/block_pool.h"

#include <cassert>
#include <cstdlib>

namespace ringlb {

uint16_t BlockPool::acquire() {
  if (!free_.empty()) {
    uint16_t id = free_.back();
    free_.pop_back();
    return id;
  }
  uint16_t id;
  if (!empty_.empty()) {
    id = empty_.back();
    empty_.pop_back();
  } else {
    // 65,536 blocks are 1 GiB of queued bytes on one worker: the receive
    // caps keep far below; running out is a broken invariant.
    if (blocks_.size() > UINT16_MAX) std::abort();
    id = static_cast<uint16_t>(blocks_.size());
    blocks_.emplace_back();
  }
  blocks_[id] = std::make_unique_for_overwrite<char[]>(kBlockSize);
  return id;
}

void BlockPool::release(uint16_t id) {
  assert(blocks_[id] != nullptr);
  if (free_.size() < kKeep) {
    free_.push_back(id);
    return;
  }
  blocks_[id].reset();
  empty_.push_back(id);
}

}  // namespace ringlb
