#include "common/byte_queue.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace ringlb {

char* BufferStore::data(BufferSource source, uint16_t id) const {
  switch (source) {
    case BufferSource::Small: return small.data(id);
    case BufferSource::Bulk: return bulk.data(id);
    case BufferSource::Block: return blocks.data(id);
  }
  return nullptr;
}

void BufferStore::release(BufferSource source, uint16_t id) const {
  switch (source) {
    case BufferSource::Small: small.recycle(id); break;
    case BufferSource::Bulk: bulk.recycle(id); break;
    case BufferSource::Block: blocks.release(id); break;
  }
}

void ByteQueue::push(BufferSource source, uint16_t id, uint32_t length, uint32_t offset) {
  assert(offset <= length);
  if (offset == length) {
    buffers_->release(source, id);
    return;
  }
  chunks_.push_back({source, id, offset, length});
  bytes_ += length - offset;
}

void ByteQueue::append(std::string_view bytes) {
  while (!bytes.empty()) {
    // The last buffer is a block this queue filled: its free tail is ours.
    if (buffers() > 0 && chunks_.back().source == BufferSource::Block &&
        chunks_.back().length < BlockPool::kBlockSize) {
      Chunk& last = chunks_.back();
      size_t n = std::min(bytes.size(), BlockPool::kBlockSize - last.length);
      std::memcpy(buffers_->blocks.data(last.id) + last.length, bytes.data(), n);
      last.length += static_cast<uint32_t>(n);
      bytes_ += n;
      bytes.remove_prefix(n);
      continue;
    }
    chunks_.push_back({BufferSource::Block, buffers_->blocks.acquire(), 0, 0});
  }
}

void ByteQueue::moveTo(ByteQueue& to, size_t n) {
  assert(n <= bytes_);
  while (n > 0) {
    Chunk& c = chunks_[head_];
    size_t avail = c.length - c.offset;
    if (n < avail) {
      // The rest of this buffer stays here: copy the moved part.
      to.append({buffers_->data(c.source, c.id) + c.offset, n});
      c.offset += static_cast<uint32_t>(n);
      bytes_ -= n;
      return;
    }
    to.push(c.source, c.id, c.length, c.offset);
    bytes_ -= avail;
    n -= avail;
    ++head_;
    pop();
  }
}

void ByteQueue::consume(size_t n) {
  assert(n <= bytes_);
  bytes_ -= n;
  while (n > 0) {
    Chunk& c = chunks_[head_];
    size_t take = std::min<size_t>(n, c.length - c.offset);
    c.offset += static_cast<uint32_t>(take);
    n -= take;
    if (c.offset == c.length) {
      buffers_->release(c.source, c.id);
      ++head_;
      pop();
    }
  }
}

// Called after head_ advanced past a chunk: keeps the vector from growing
// forever under a stream that never fully drains.
void ByteQueue::pop() {
  if (head_ == chunks_.size()) {
    chunks_.clear();
    head_ = 0;
  } else if (head_ >= 32 && head_ * 2 >= chunks_.size()) {
    chunks_.erase(chunks_.begin(), chunks_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

void ByteQueue::clear() {
  for (size_t i = head_; i < chunks_.size(); ++i) {
    buffers_->release(chunks_[i].source, chunks_[i].id);
  }
  chunks_.clear();
  head_ = 0;
  bytes_ = 0;
}

std::string_view ByteQueue::front() const {
  if (empty()) return {};
  const Chunk& c = chunks_[head_];
  return {buffers_->data(c.source, c.id) + c.offset, c.length - c.offset};
}

size_t ByteQueue::gather(iovec* iov, size_t max) const {
  size_t n = 0;
  for (size_t i = head_; i < chunks_.size() && n < max; ++i) {
    const Chunk& c = chunks_[i];
    iov[n++] = {buffers_->data(c.source, c.id) + c.offset, c.length - c.offset};
  }
  return n;
}

}  // namespace ringlb
