// AdminHistory: the last few minutes of the status page's charts, kept by the
// admin thread from the snapshot it takes about once a second (the same one
// AdminRates samples), so the charts need no Prometheus and do not depend on
// anyone watching.
//
// Each sample adds one point to every series: per listener, what it counts
// per second (requests for http/forward, connections for tcp, datagrams in
// for udp), its errors per second and, for http/forward (the kinds with a
// request-duration histogram), the p50/p95/p99 of the requests that finished
// since the previous sample, from the histogram's bucket deltas; per backend,
// requests (or connections) and failed connects per second. A point is null
// where nothing can be said: a series' first sample (no previous total), a
// total that went down (a counter reset), no request finished (percentiles).
// A bounded ring: at most `capacity` points; the oldest go first.
//
// Admin thread only.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "common/admin/admin_snapshot.h"

namespace ringlb::admin {

using HistogramBuckets = decltype(HistogramView::buckets);

// The q-quantile (0 < q < 1) in seconds of the observations in per-bucket
// counts `buckets` (not cumulative, the last is +Inf), interpolated linearly
// inside its bucket as Prometheus' histogram_quantile() does; one in the +Inf
// bucket counts as the largest finite bound. nullopt when there is none.
std::optional<double> histogramQuantile(const HistogramBuckets& buckets, double q);

class AdminHistory {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kDefaultCapacity = 300;  // 5 minutes at one sample a second

  struct Point {
    std::optional<double> rate;           // per second
    std::optional<double> errors;         // per second
    std::optional<double> p50, p95, p99;  // milliseconds; listeners with latency only
  };

  struct Series {
    // Listener: `name` and `mode`; backend: `pool` and `name` (its address).
    std::string pool;
    std::string name;
    std::string mode;
    bool latency = false;      // p50/p95/p99 are measured
    std::deque<Point> points;  // aligned with times(): the same length, oldest first

    // Internal: the totals at the previous sample.
    uint64_t lastCount = 0;
    uint64_t lastErrors = 0;
    HistogramBuckets lastBuckets{};
    bool primed = false;
  };

  explicit AdminHistory(size_t capacity = kDefaultCapacity) : capacity_(capacity) {}

  // Adds the point of `snap`, taken at `now`, to every series. Series of
  // listeners and backends no longer in `snap` are dropped; new ones start
  // with null points for the times before them.
  void sample(const AdminSnapshot& snap, Clock::time_point now);

  // Wall-clock time of each point (the snapshot's `now`), oldest first.
  const std::deque<std::chrono::system_clock::time_point>& times() const { return times_; }
  const std::vector<Series>& listeners() const { return listeners_; }  // snapshot order
  const std::vector<Series>& backends() const { return backends_; }    // pool, then config order
  size_t capacity() const { return capacity_; }

 private:
  void push(Series& s, uint64_t count, uint64_t errors, const HistogramView* hist, double seconds);
  void trim();

  size_t capacity_;
  std::deque<std::chrono::system_clock::time_point> times_;
  std::optional<Clock::time_point> lastSample_;
  std::vector<Series> listeners_;
  std::vector<Series> backends_;
};

// What a listener counts as an error, per second: 5xx answers (http,
// forward), connections refused before reaching a backend (tcp), those plus
// datagrams dropped or answered with an ICMP error (udp).
uint64_t listenerErrors(const ListenerView& l);

// GET /status/history: the series as JSON (docs/observability.md).
std::string renderHistoryJson(const AdminHistory& history);

}  // namespace ringlb::admin
