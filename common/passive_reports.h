// Passive health reports: workers (L4 sessions, the HTTP proxy) tell the
// health thread about connect failures, resets and timeouts they saw on a
// backend, and about the exchange that succeeded after such a failure.
//
//   reports.failure("api", "127.0.0.1:9001", "connection refused");
//   reports.success("api", "127.0.0.1:9001");
//
// Any thread may call both; neither ever waits for the health thread. A
// failure takes a short mutex to append to a vector (failures are the rare
// path). A success costs one relaxed load while no failure run is open
// anywhere, so it may be called per connection or request. Reports are
// dropped while no health thread reads them, and beyond a bounded backlog.
//
// `pool` is the pool name, `address` the backend address as written in the
// config (Backend::address, SocketAddress::text): the backend's identity.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ringlb {

struct PassiveReport {
  std::string pool;
  std::string address;
  bool failure = true;
  std::string reason;  // failures only
};

// The MPSC queue of one server (SharedServices).
class PassiveReportQueue {
 public:
  static constexpr size_t kMaxBacklog = 65536;

  // Any thread: cheap while no health thread reads (nothing is allocated).
  void failure(std::string_view pool, std::string_view address, std::string_view reason);
  void success(std::string_view pool, std::string_view address);

  // Any thread. Dropped (and counted) while closed or when the backlog is full.
  void push(PassiveReport report);
  // Health thread: reports are kept from open() until close().
  void open() { open_.store(true, std::memory_order_release); }
  void close();
  // Health thread: moves every queued report to `out` (appended).
  void drain(std::vector<PassiveReport>& out);
  // Health thread: whether successes matter now (some failure run is open).
  void setWantSuccesses(bool want) { wantSuccesses_.store(want, std::memory_order_relaxed); }

  // Any thread.
  bool isOpen() const { return open_.load(std::memory_order_relaxed); }
  bool wantsSuccesses() const { return wantSuccesses_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> open_{false};
  std::atomic<bool> wantSuccesses_{false};
  std::atomic<uint64_t> dropped_{0};
  std::mutex mutex_;
  std::vector<PassiveReport> queue_;  // guarded by mutex_
};

}  // namespace ringlb
