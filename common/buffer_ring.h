// A provided-buffer ring (IORING_REGISTER_PBUF_RING): the kernel picks a
// buffer for each multishot recv, so an idle connection holds no buffer.
//
// A buffer handed out by a completion belongs to the receiver until it calls
// recycle(). Worker thread only; must outlive every recv op that names its
// group, and the Ring must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "common/ring.h"

namespace ringlb {

class BufferRing {
 public:
  // When the buffers' memory becomes resident.
  enum class Residency {
    // On the kernel's first copy into each page: no memory until traffic
    // comes, at the price of page faults inside the copies then.
    OnFirstUse,
    // Faulted in by the constructor. The ring hands buffers out in turn, so
    // under traffic every page is touched within milliseconds anyway; doing
    // it up front keeps those faults out of the first requests' latency.
    Now,
  };

  // `count` must be a power of two (<= 32768).
  BufferRing(Ring& ring, uint16_t groupId, uint16_t count, uint32_t bufferSize,
             Residency residency = Residency::OnFirstUse);
  ~BufferRing();
  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  uint16_t groupId() const { return groupId_; }
  uint16_t count() const { return count_; }
  uint32_t bufferSize() const { return bufferSize_; }
  // Buffers currently owned by receivers (not in the ring).
  uint32_t outstanding() const { return outstanding_; }

  // The data of buffer `id` as filled by a completion of `length` bytes. The
  // caller now owns the buffer.
  std::span<char> take(uint16_t id, size_t length);
  // The memory of buffer `id` (already taken).
  char* data(uint16_t id) const { return bufferAddress(id); }
  // Returns a buffer to the kernel.
  void recycle(uint16_t id);

 private:
  char* bufferAddress(uint16_t id) const { return base_ + size_t{id} * bufferSize_; }

  Ring& ring_;
  io_uring_buf_ring* ringMemory_ = nullptr;
  size_t ringBytes_ = 0;
  char* base_ = nullptr;
  size_t baseBytes_ = 0;
  uint16_t groupId_;
  uint16_t count_;
  uint32_t bufferSize_;
  uint32_t outstanding_ = 0;
};

}  // namespace ringlb
