#include "common/buffer_ring.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace ringlb {
namespace {

void* mapAnonymous(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    throw RingSetupError("cannot map buffer memory: " + std::string(std::strerror(errno)));
  }
  return p;
}

// Faults `bytes` at `p` in for writing: MADV_POPULATE_WRITE (Linux 5.14),
// else one write per page.
void makeResident(char* p, size_t bytes) {
  if (madvise(p, bytes, MADV_POPULATE_WRITE) == 0) return;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  for (size_t offset = 0; offset < bytes; offset += page) {
    static_cast<volatile char*>(p)[offset] = 0;
  }
}

}  // namespace

BufferRing::BufferRing(Ring& ring, uint16_t groupId, uint16_t count, uint32_t bufferSize,
                       Residency residency)
    : ring_(ring), groupId_(groupId), count_(count), bufferSize_(bufferSize) {
  if (count == 0 || (count & (count - 1)) != 0 || count > 32768) {
    throw RingSetupError("buffer ring size must be a power of two up to 32768");
  }
  // liburing 2.3 has no io_uring_setup_buf_ring: map and register by hand.
  ringBytes_ = sizeof(io_uring_buf) * count;
  ringMemory_ = static_cast<io_uring_buf_ring*>(mapAnonymous(ringBytes_));
  baseBytes_ = size_t{count} * bufferSize;
  base_ = static_cast<char*>(mapAnonymous(baseBytes_));
  // Huge pages: the kernel's copies into buffers would otherwise take a page
  // fault per 4 KiB on first use (8,192 for the 32 MiB bulk group, a sizeable
  // share of a short transfer's CPU in this VM) and more TLB misses after.
  // The ring hands buffers out in turn, so every page is touched soon anyway:
  // this changes when memory becomes resident, not how much. Advisory only.
  madvise(base_, baseBytes_, MADV_HUGEPAGE);
  if (residency == Residency::Now) makeResident(base_, baseBytes_);

  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(ringMemory_);
  reg.ring_entries = count;
  reg.bgid = groupId;
  int rc = io_uring_register_buf_ring(ring_.raw(), &reg, 0);
  if (rc < 0) {
    munmap(base_, baseBytes_);
    munmap(ringMemory_, ringBytes_);
    throw RingSetupError("cannot register a provided-buffer ring (needs Linux >= 5.19): " +
                         std::string(std::strerror(-rc)));
  }
  io_uring_buf_ring_init(ringMemory_);
  const int mask = io_uring_buf_ring_mask(count);
  for (uint16_t id = 0; id < count; ++id) {
    io_uring_buf_ring_add(ringMemory_, bufferAddress(id), bufferSize_, id, mask, id);
  }
  io_uring_buf_ring_advance(ringMemory_, count);
}

BufferRing::~BufferRing() {
  io_uring_unregister_buf_ring(ring_.raw(), groupId_);
  munmap(base_, baseBytes_);
  munmap(ringMemory_, ringBytes_);
}

std::span<char> BufferRing::take(uint16_t id, size_t length) {
  assert(id < count_ && length <= bufferSize_);
  ++outstanding_;
  return {bufferAddress(id), length};
}

void BufferRing::recycle(uint16_t id) {
  assert(id < count_ && outstanding_ > 0);
  --outstanding_;
  io_uring_buf_ring_add(ringMemory_, bufferAddress(id), bufferSize_, id,
                        io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(ringMemory_, 1);
}

}  // namespace ringlb
