// ForwardResolver: host names resolved off the worker thread. One thread per
// resolver runs getaddrinfo (which blocks) on queued jobs and posts each
// result back to the worker's mailbox, where the waiting session (if it is
// still waiting) gets it.
//
// Thread rules: construct, resolve() and destroy on the worker thread. The
// waiter of a job is read and written on the worker thread only, so a session
// that ends first just clears it. The destructor joins the thread, so it may
// wait for one getaddrinfo in progress.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace ringlb {
class Worker;
}

namespace ringlb::l7 {

struct ResolveJob;

class ResolveWaiter {
 public:
  virtual ~ResolveWaiter() = default;
  // Worker thread: the job is done (ok() or error set).
  virtual void onResolved(const ResolveJob& job) = 0;
};

struct ResolveJob {
  // Input (set before resolve()).
  std::string host;
  uint16_t port = 0;
  // Output (written by the resolver thread before the result is posted).
  sockaddr_storage address{};
  socklen_t length = 0;
  std::string error;  // empty on success
  // Worker thread only.
  ResolveWaiter* waiter = nullptr;
  // Set by the worker when nobody waits any more: a queued job is skipped.
  std::atomic<bool> cancelled{false};

  bool ok() const { return error.empty(); }
};

class ForwardResolver {
 public:
  explicit ForwardResolver(Worker& worker);
  ~ForwardResolver();
  ForwardResolver(const ForwardResolver&) = delete;
  ForwardResolver& operator=(const ForwardResolver&) = delete;

  // Worker thread: queue `job`; its waiter hears back on this worker.
  void resolve(std::shared_ptr<ResolveJob> job);

 private:
  void run();
  static void lookUp(ResolveJob& job);

  Worker& worker_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<ResolveJob>> queue_;  // guarded by mutex_
  bool stopping_ = false;                          // guarded by mutex_
  std::thread thread_;
};

}  // namespace ringlb::l7
