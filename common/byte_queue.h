// ByteQueue: bytes in order, held in buffers rather than copied: provided
// receive buffers of the worker's two rings (what a socket received) and
// blocks of its BlockPool (what a session wrote: heads, TLS plaintext). It is
// the one queue of buffers every stream uses for both directions: what was
// received and not yet read, and what is to be sent.
//
// A buffer has one owner at a time: moveTo() hands whole buffers to another
// queue (a relay moves received bytes to the other side's send queue without
// copying); a buffer cut in two by a move has its moved part copied.
// Buffers go back to their ring or pool once fully consumed.
//
// Worker thread only. The Buffers must outlive every queue.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/block_pool.h"
#include "common/buffer_ring.h"

namespace ringlb {

enum class BufferSource : uint8_t { Small, Bulk, Block };

// Where a worker's buffers live: its two receive rings and its block pool.
struct BufferStore {
  BufferRing& small;
  BufferRing& bulk;
  BlockPool& blocks;

  char* data(BufferSource source, uint16_t id) const;
  void release(BufferSource source, uint16_t id) const;
};

class ByteQueue {
 public:
  explicit ByteQueue(const BufferStore& buffers) : buffers_(&buffers) {}
  ~ByteQueue() { clear(); }
  ByteQueue(const ByteQueue&) = delete;
  ByteQueue& operator=(const ByteQueue&) = delete;

  // A buffer (received, or a filled block) whose bytes [offset, length) are
  // queued; the queue owns it from now on.
  void push(BufferSource source, uint16_t id, uint32_t length, uint32_t offset = 0);
  // Copies `bytes` into blocks (filling the last one first).
  void append(std::string_view bytes);
  // Moves the first `n` bytes (n <= size()) to the end of `to`.
  void moveTo(ByteQueue& to, size_t n);
  // Drops the first `n` bytes (n <= size()).
  void consume(size_t n);
  void clear();

  bool empty() const { return bytes_ == 0; }
  size_t size() const { return bytes_; }
  // Buffers held: what receive backpressure counts.
  size_t buffers() const { return chunks_.size() - head_; }
  // The unread bytes of the first buffer (empty when the queue is).
  std::string_view front() const;
  // Up to `max` pieces of the front, for one sendmsg; returns how many.
  size_t gather(iovec* iov, size_t max) const;

 private:
  struct Chunk {
    BufferSource source;
    uint16_t id;
    uint32_t offset;  // first unread byte
    uint32_t length;  // end of the bytes
  };

  void pop();

  const BufferStore* buffers_;
  std::vector<Chunk> chunks_;  // [head_, size) are queued
  size_t head_ = 0;
  size_t bytes_ = 0;
};

}  // namespace ringlb
