// Session: one client connection (or UDP flow) owned by a worker. The worker
// keeps every live session in a list so that a drain can tell them to finish
// and a deadline can abort them.
//
// Worker thread only. A session frees itself (Worker::deferDelete) once it is closed
// and has no op in flight; it must unlink itself before that.
#pragma once

#include "common/op.h"

namespace ringlb {

class Session : public OpOwner {
 public:
  // Stop taking new requests; finish the one in progress, then close
  // (HTTP keep-alive ends; a TCP tunnel just goes on until it ends).
  virtual void beginDrain() {}
  // Close now, cancelling every op (the drain deadline passed).
  virtual void abort() = 0;

 private:
  friend class SessionList;
  Session* prev_ = nullptr;
  Session* next_ = nullptr;
};

// An intrusive list: linking and unlinking never allocate.
class SessionList {
 public:
  void add(Session& s) {
    s.prev_ = nullptr;
    s.next_ = head_;
    if (head_ != nullptr) head_->prev_ = &s;
    head_ = &s;
    ++size_;
  }
  void remove(Session& s) {
    if (s.prev_ != nullptr) s.prev_->next_ = s.next_;
    if (s.next_ != nullptr) s.next_->prev_ = s.prev_;
    if (head_ == &s) head_ = s.next_;
    s.prev_ = s.next_ = nullptr;
    --size_;
  }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Calls f on each session; f may remove the session it is given.
  template <typename F>
  void forEach(F&& f) {
    for (Session* s = head_; s != nullptr;) {
      Session* next = s->next_;
      f(*s);
      s = next;
    }
  }

 private:
  Session* head_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ringlb
