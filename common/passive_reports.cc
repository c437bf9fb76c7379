#include "common/passive_reports.h"

#include <utility>

namespace ringlb {

void PassiveReportQueue::push(PassiveReport report) {
  if (!isOpen()) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  std::lock_guard lock(mutex_);
  if (queue_.size() >= kMaxBacklog) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  queue_.push_back(std::move(report));
}

void PassiveReportQueue::close() {
  open_.store(false, std::memory_order_release);
  std::lock_guard lock(mutex_);
  queue_.clear();
}

void PassiveReportQueue::drain(std::vector<PassiveReport>& out) {
  std::lock_guard lock(mutex_);
  for (PassiveReport& r : queue_) out.push_back(std::move(r));
  queue_.clear();
}

void PassiveReportQueue::failure(std::string_view pool, std::string_view address,
                                 std::string_view reason) {
  if (!isOpen()) return;  // no health thread: skip the allocations
  push({std::string(pool), std::string(address), true, std::string(reason)});
}

void PassiveReportQueue::success(std::string_view pool, std::string_view address) {
  if (!wantsSuccesses() || !isOpen()) return;
  push({std::string(pool), std::string(address), false, {}});
}

}  // namespace ringlb
