#include "common/send_queue.h"

#include <algorithm>

#include "common/buffer_ring.h"
#include "common/worker.h"

namespace ringlb {

void SendQueue::setPrefix(std::string bytes) {
  prefix_ = std::move(bytes);
  prefixSent_ = 0;
}

void SendQueue::push(uint16_t bufferId, bool bulk, uint32_t length, uint32_t offset) {
  chunks_.push_back({bufferId, bulk, length, offset});
}

const msghdr* SendQueue::gather(Worker& worker) {
  size_t n = 0;
  if (prefixSent_ < prefix_.size()) {
    iov_[n++] = {prefix_.data() + prefixSent_, prefix_.size() - prefixSent_};
  }
  for (size_t i = head_; i < chunks_.size() && n < kMaxIov; ++i) {
    const Chunk& c = chunks_[i];
    iov_[n++] = {worker.buffers(c.bulk).data(c.bufferId) + c.offset, c.length - c.offset};
  }
  msg_ = {};
  msg_.msg_iov = iov_.data();
  msg_.msg_iovlen = n;
  return &msg_;
}

void SendQueue::consume(Worker& worker, size_t sent) {
  size_t fromPrefix = std::min(sent, prefix_.size() - prefixSent_);
  prefixSent_ += fromPrefix;
  sent -= fromPrefix;
  if (!prefix_.empty() && prefixSent_ == prefix_.size()) {
    std::string().swap(prefix_);  // a response head is sent once: free it
    prefixSent_ = 0;
  }
  while (sent > 0 && head_ < chunks_.size()) {
    Chunk& c = chunks_[head_];
    auto take = static_cast<uint32_t>(std::min<size_t>(sent, c.length - c.offset));
    c.offset += take;
    sent -= take;
    if (c.offset == c.length) {
      worker.buffers(c.bulk).recycle(c.bufferId);
      ++head_;
    }
  }
  if (head_ == chunks_.size()) {
    chunks_.clear();
    head_ = 0;
  } else if (head_ >= 32 && head_ * 2 >= chunks_.size()) {
    // A stream that never fully drains must not grow the vector forever.
    chunks_.erase(chunks_.begin(), chunks_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

void SendQueue::clear(Worker& worker) {
  for (size_t i = head_; i < chunks_.size(); ++i) {
    worker.buffers(chunks_[i].bulk).recycle(chunks_[i].bufferId);
  }
  chunks_.clear();
  head_ = 0;
  std::string().swap(prefix_);
  prefixSent_ = 0;
}

}  // namespace ringlb
