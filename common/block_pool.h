// BlockPool: fixed-size memory blocks a worker hands to byte queues for bytes
// it owns (heads it wrote, TLS plaintext, the tail of a split buffer), named
// by a 16-bit id like the provided receive buffers. Released blocks are kept
// for reuse up to kKeep, so steady traffic allocates nothing.
//
// Worker thread only. Outlives every queue holding one of its blocks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace ringlb {

class BlockPool {
 public:
  static constexpr size_t kBlockSize = 16 * 1024;  // one TLS record, one small receive buffer
  static constexpr size_t kKeep = 256;             // free blocks kept (4 MiB)

  uint16_t acquire();
  char* data(uint16_t id) const { return blocks_[id].get(); }
  void release(uint16_t id);

  size_t inUse() const { return blocks_.size() - free_.size() - empty_.size(); }

 private:
  std::vector<std::unique_ptr<char[]>> blocks_;  // a freed slot holds null
  std::vector<uint16_t> free_;                   // slots with memory, ready to hand out
  std::vector<uint16_t> empty_;                  // slots whose memory went back to the heap
};

}  // namespace ringlb
