#include "common/mailbox.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace ringlb {

Mailbox::Mailbox(Ring& ring) : ring_(ring), eventFd_(eventfd(0, EFD_CLOEXEC)) {
  if (eventFd_ < 0) {
    throw RingSetupError("cannot create an eventfd: " + std::string(std::strerror(errno)));
  }
}

Mailbox::~Mailbox() { close(eventFd_); }

void Mailbox::post(Task task) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(task));
  }
  uint64_t one = 1;
  // A full counter (2^64-2 pending wake-ups) cannot happen: each read resets it.
  [[maybe_unused]] ssize_t n = write(eventFd_, &one, sizeof one);
}

void Mailbox::start() { armRead(); }

void Mailbox::stop() {
  stopping_ = true;
  if (readOp_.inFlight()) ring_.cancelOp(cancelOp_, readOp_);
}

void Mailbox::armRead() { ring_.read(readOp_, eventFd_, &counter_, sizeof counter_); }

size_t Mailbox::drain() {
  woken_ = false;
  {
    std::lock_guard lock(mutex_);
    running_.swap(queue_);
  }
  size_t n = running_.size();
  for (Task& task : running_) task();
  running_.clear();
  return n;
}

void Mailbox::onCompletion(Op& op) {
  if (op.kind != OpKind::Read) return;  // the cancel's own completion
  if (stopping_) return;
  // Tasks run from the worker loop after the batch (drain()), not from inside
  // a completion: a snapshot swap never happens mid-batch.
  woken_ = true;
  armRead();
}

}  // namespace ringlb
