// An Op is the completion record of one io_uring operation. Its address is the
// SQE's user_data (never bit-packed, never a stack object). It lives inside
// its owner, which counts the ops it has in flight.
//
// Worker thread only: an Op and its owner belong to the thread of their Ring.
#pragma once

#include <cassert>
#include <cstdint>

#include "common/deletable.h"

namespace ringlb {

enum class OpKind : uint8_t {
  Nop,
  Accept,
  Recv,
  Send,
  Connect,
  Close,
  Cancel,
  Timeout,
  Read,
  Write,
  Shutdown,
  Wakeup,
};

class OpOwner;

struct Op {
  OpOwner* owner = nullptr;
  OpKind kind = OpKind::Nop;
  // Set by the Ring just before onCompletion(); valid only during that call.
  int32_t result = 0;
  uint32_t flags = 0;
  // Ops of this record in flight (a multishot op counts once until its last CQE).
  uint16_t pending = 0;

  Op() = default;
  Op(OpOwner* o, OpKind k) : owner(o), kind(k) {}
  Op(const Op&) = delete;
  Op& operator=(const Op&) = delete;

  bool inFlight() const { return pending != 0; }
  bool hasMore() const;  // the CQE being dispatched is not the op's last one
  bool hasBuffer() const;
  uint16_t bufferId() const;
};

// Owns ops and receives their completions. An owner must not be destroyed
// while opsInFlight() != 0: cancel, then wait for every CQE.
class OpOwner : public Deletable {
 public:
  ~OpOwner() override;
  virtual void onCompletion(Op& op) = 0;
  uint32_t opsInFlight() const { return opsInFlight_; }

 private:
  friend class Ring;
  uint32_t opsInFlight_ = 0;
};

}  // namespace ringlb
