#include "common/dns/dns_watch.h"

#include <poll.h>

#include <cerrno>
#include <cstring>

#include "common/log.h"

namespace ringlb::dns {

DnsWatch::DnsWatch(Ring& ring, int fd, DnsWatchHandler& handler, std::shared_ptr<size_t> alive)
    : ring_(ring), fd_(fd), handler_(&handler), alive_(std::move(alive)) {
  ++*alive_;
}

unsigned DnsWatch::events() const { return (wantRead_ ? POLLIN : 0) | (wantWrite_ ? POLLOUT : 0); }

void DnsWatch::want(bool readable, bool writable) {
  wantRead_ = readable;
  wantWrite_ = writable;
  if (pollOp_.inFlight()) {
    // A poll without the newly wanted event would not report it: cancel it,
    // and its completion re-arms with the new set.
    if ((events() & ~armed_) != 0 && !cancelOp_.inFlight()) ring_.cancelOp(cancelOp_, pollOp_);
    return;
  }
  if (!dispatching_) arm();
}

void DnsWatch::arm() {
  if (handler_ == nullptr || pollOp_.inFlight() || events() == 0) return;
  armed_ = events();
  io_uring_prep_poll_add(ring_.prepare(pollOp_), fd_, armed_);
}

void DnsWatch::release() {
  handler_ = nullptr;
  if (pollOp_.inFlight() && !cancelOp_.inFlight()) ring_.cancelOp(cancelOp_, pollOp_);
  if (!dispatching_) freeIfDone();
}

void DnsWatch::freeIfDone() {
  if (handler_ == nullptr && opsInFlight() == 0) delete this;
}

void DnsWatch::onCompletion(Op& op) {
  if (&op == &pollOp_ && handler_ != nullptr && op.result != -ECANCELED) {
    bool failed = op.result < 0;
    auto revents = static_cast<unsigned>(failed ? 0 : op.result);
    bool readable = wantRead_ && (failed || (revents & (POLLIN | POLLERR | POLLHUP)) != 0);
    bool writable = wantWrite_ && (failed || (revents & (POLLOUT | POLLERR | POLLHUP)) != 0);
    dispatching_ = true;
    // c-ares reads or writes the socket and sees the error itself.
    if (readable || writable) handler_->onReady(fd_, readable, writable);
    dispatching_ = false;
    if (failed && handler_ != nullptr) {
      // Not re-armed: a poll the kernel refuses would fail again at once.
      // The query's own timeout still ends it.
      logWarn("dns: poll on a resolver socket failed: {}", std::strerror(-op.result));
      wantRead_ = wantWrite_ = false;
    }
  }
  arm();
  freeIfDone();
}

}  // namespace ringlb::dns
