// DnsWatch: one socket c-ares wants watched, as a one-shot IORING_OP_POLL_ADD
// on the worker's ring. One-shot and re-armed after each event, so readiness
// is level-triggered as c-ares expects (it may leave bytes of a TCP answer
// queued for the next event); a multishot poll is edge-triggered.
//
// Worker thread only. The channel creates a watch when c-ares opens a
// socket and release()s it when c-ares closes it; from then on the watch
// owns itself: it cancels its poll and deletes itself at its last CQE (the
// kernel may still hold the poll after the fd was closed). Its handler must
// outlive it until release(). `alive` counts the watches not yet freed, so
// an owner can tell when nothing of its own is left on the ring.
#pragma once

#include <cstddef>
#include <memory>

#include "common/op.h"
#include "common/ring.h"

namespace ringlb::dns {

class DnsWatchHandler {
 public:
  virtual ~DnsWatchHandler() = default;
  // The socket is ready for what was asked (at least one of the two).
  virtual void onReady(int fd, bool readable, bool writable) = 0;
};

class DnsWatch final : public OpOwner {
 public:
  DnsWatch(Ring& ring, int fd, DnsWatchHandler& handler, std::shared_ptr<size_t> alive);
  DnsWatch(const DnsWatch&) = delete;
  DnsWatch& operator=(const DnsWatch&) = delete;

  // What c-ares wants to hear about now (at least one is true).
  void want(bool readable, bool writable);
  // c-ares is closing the socket: no more events; the watch frees itself.
  void release();

  void onCompletion(Op& op) override;

 private:
  ~DnsWatch() override { --*alive_; }  // only through release()
  unsigned events() const;
  void arm();
  void freeIfDone();

  Ring& ring_;
  int fd_;
  DnsWatchHandler* handler_;  // null once released
  std::shared_ptr<size_t> alive_;
  bool wantRead_ = false;
  bool wantWrite_ = false;
  unsigned armed_ = 0;        // the events of the poll in flight
  bool dispatching_ = false;  // inside onCompletion: it re-arms when done
  Op pollOp_{this, OpKind::Recv};
  Op cancelOp_{this, OpKind::Cancel};
};

}  // namespace ringlb::dns
