#include "common/op.h"

#include <liburing.h>

namespace ringlb {

bool Op::hasMore() const { return (flags & IORING_CQE_F_MORE) != 0; }
bool Op::hasBuffer() const { return (flags & IORING_CQE_F_BUFFER) != 0; }
uint16_t Op::bufferId() const { return static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT); }

OpOwner::~OpOwner() {
  // Destroying an owner with an op in flight would leave the kernel holding a
  // dangling user_data pointer.
  assert(opsInFlight_ == 0 && "OpOwner destroyed with ops in flight");
}

}  // namespace ringlb
