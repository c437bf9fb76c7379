#include "common/passive_reports.h"

#include <utility>

namespace ringlb {

PassiveReportQueue& PassiveReportQueue::instance() {
  static PassiveReportQueue queue;
  return queue;
}

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

void reportPassiveFailure(std::string_view pool, std::string_view address,
                          std::string_view reason) {
  PassiveReportQueue& queue = PassiveReportQueue::instance();
  if (!queue.isOpen()) return;  // no health thread: skip the allocations
  queue.push({std::string(pool), std::string(address), true, std::string(reason)});
}

void reportPassiveSuccess(std::string_view pool, std::string_view address) {
  PassiveReportQueue& queue = PassiveReportQueue::instance();
  if (!queue.wantsSuccesses() || !queue.isOpen()) return;
  queue.push({std::string(pool), std::string(address), false, {}});
}

}  // namespace ringlb
