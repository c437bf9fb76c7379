// AdminRates: request rates for the status page and /status, measured by the
// admin thread itself from the counter totals it samples about once a second,
// so a rate does not depend on how often anyone scrapes.
//
// Admin thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <string>

#include "common/admin/admin_snapshot.h"

namespace ringlb::admin {

class AdminRates {
 public:
  using Clock = std::chrono::steady_clock;

  explicit AdminRates(std::chrono::seconds window = std::chrono::seconds(10)) : window_(window) {}

  // Records the counters of `snap` as seen at `now`.
  void sample(const AdminSnapshot& snap, Clock::time_point now);
  // Fills the `rate` fields of `snap` (per second, over up to the window).
  void fill(AdminSnapshot& snap) const;

 private:
  struct Sample {
    Clock::time_point at;
    std::map<std::string, uint64_t> counters;  // "l/NAME" or "b/POOL/ADDRESS"
  };

  double rate(const std::string& key, uint64_t current) const;

  std::chrono::seconds window_;
  std::deque<Sample> samples_;  // oldest first
};

}  // namespace ringlb::admin
