#include "l7/tls_conn.h"

namespace ringlb::l7 {

uint16_t TlsPlainBuffers::acquire() {
  if (!free_.empty()) {
    uint16_t id = free_.back();
    free_.pop_back();
    if (!buffers_[id]) buffers_[id] = std::make_unique<char[]>(kSize);
    return id;
  }
  buffers_.push_back(std::make_unique<char[]>(kSize));
  return static_cast<uint16_t>(buffers_.size() - 1);
}

void TlsPlainBuffers::release(uint16_t id) {
  // Memory beyond the few spares goes back to the allocator; the id stays
  // for reuse, so ids remain small.
  if (free_.size() >= kKeep) buffers_[id].reset();
  free_.push_back(id);
}

}  // namespace ringlb::l7
