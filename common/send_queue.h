// SendQueue: what one direction of a byte relay received and has not yet sent
// on, in order: an optional prefix (bytes the session made up, such as a
// response head) then provided buffers from the worker's rings, each sent
// partly or whole. The sender gathers it into one sendmsg and consumes what
// the kernel took; buffers go back to their ring once fully sent.
//
// Used by the tcp and forward sessions. Worker thread only; the queue must
// not change between gather() and the completion of that send, except for
// push() (new buffers go after the gathered ones).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ringlb {

class Worker;

class SendQueue {
 public:
  static constexpr size_t kMaxIov = 8;  // pieces per sendmsg

  // Bytes sent before any buffer (replaces an unsent prefix).
  void setPrefix(std::string bytes);
  // A received buffer of the worker's small (bulk = false) or bulk ring.
  // `offset` bytes of it were consumed already (not to be sent).
  void push(uint16_t bufferId, bool bulk, uint32_t length, uint32_t offset = 0);
  // Received buffers not yet fully sent: the measure for backpressure.
  size_t buffers() const { return chunks_.size() - head_; }
  // Nothing left to send, prefix included.
  bool empty() const { return buffers() == 0 && prefixSent_ == prefix_.size(); }
  // Up to kMaxIov pieces of what is unsent, for one sendmsg.
  const msghdr* gather(Worker& worker);
  // `sent` bytes of the gathered pieces went out.
  void consume(Worker& worker, size_t sent);
  // Drops everything unsent, buffers back to their rings.
  void clear(Worker& worker);

 private:
  struct Chunk {
    uint16_t bufferId;
    bool bulk;
    uint32_t length;
    uint32_t offset;
  };

  std::string prefix_;
  size_t prefixSent_ = 0;
  std::vector<Chunk> chunks_;  // entries [head_, size) are unsent
  size_t head_ = 0;
  std::array<iovec, kMaxIov> iov_{};
  msghdr msg_{};
};

}  // namespace ringlb
