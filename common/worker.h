// Worker: one thread, one io_uring, its own listeners, sessions and upstream
// state. Nothing on the data path is shared with another thread: the main and
// health threads reach a worker only through post().
//
// Construction, start(), post(), join() and the accessors marked "any thread"
// may be called from the main thread; everything else runs on the worker.
#pragma once

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/buffer_ring.h"
#include "common/byte_queue.h"
#include "common/deletable.h"
#include "common/io_context.h"
#include "common/listener_service.h"
#include "common/mailbox.h"
#include "common/ring.h"
#include "common/session.h"
#include "common/shared_services.h"
#include "common/stats.h"
#include "common/timer_wheel.h"
#include "common/upstream/backend_selector.h"
#include "common/wait_policy.h"
#include "config/model.h"

namespace ringlb {

using ServiceFactories = std::map<config::ListenerMode, ServiceFactory>;

struct WorkerOptions {
  SharedServices* shared = nullptr;  // the server's log, stats and health reports
  unsigned index = 0;
  unsigned workerCount = 1;
  uint32_t maxConnections = 100000;  // this worker's share of global.max_connections
  unsigned ringEntries = 1024;
  uint16_t bufferCount = 1024;  // provided buffers for receives
  uint32_t bufferSize = 16 * 1024;
  // Large buffers for bulk streams: per-op costs dominate bulk transfers on
  // loopback, so a stream that keeps filling small buffers moves to these
  // (FACTS.md: 64 KiB costs 0.73 CPU-s/GB, 1 MiB 0.33). Virtual memory only
  // until used.
  uint16_t bulkBufferCount = 64;
  uint32_t bulkBufferSize = 512 * 1024;
};

// The event loop's own counters (single writer: the worker; any thread reads).
struct WorkerCounters {
  Counter wakeups;           // waits for completions (io_uring_enter calls that wait)
  Counter batchedWaits;      // of which batched (WaitPolicy busy)
  Counter completions;       // CQEs dispatched
  Counter buffersExhausted;  // receives that found the provided buffers used up
  Counter recvRearms;        // multishot receives armed again on a socket
};

class Worker {
 public:
  Worker(WorkerOptions options, const ServiceFactories& factories);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Main thread: starts the thread and waits until its ring is set up.
  // Returns an empty string, or the reason it could not start.
  std::string start();
  // Any thread: run `task` on this worker between completion batches.
  void post(Mailbox::Task task);
  // Main thread: wait for the thread to end (after a stop).
  void join();

  // Running the worker on the calling thread instead (unit tests drive
  // sessions this way): setUp() ("" or why not), then turn() as often as
  // wanted (one wait for completions, at most `maxWait` or 500 ms, and
  // everything they trigger; false once a stop completed), then tearDown().
  std::string setUp();
  bool turn(std::chrono::milliseconds maxWait = std::chrono::milliseconds(500));
  void tearDown();

  // --- posted tasks (run on the worker) ---
  // New config: pools are built or updated (counters carry over by backend
  // identity); sessions keep the snapshot they started with.
  void applyConfig(std::shared_ptr<const config::Config> config);
  // A new BackendSet for one pool (from the health thread).
  void updatePool(std::shared_ptr<const upstream::BackendSet> set);
  void addListener(const config::ListenerConfig& listener, int fd);
  void removeListener(const std::string& name);
  // Stop accepting, let sessions finish, abort what is left at the deadline.
  void beginStop(std::chrono::milliseconds drainTimeout);
  // Abort every session now (a second stop signal, or the drain deadline);
  // `why` goes into the log line with the counts.
  void abortAll(std::string_view why);

  // --- worker thread ---
  unsigned index() const { return options_.index; }
  unsigned workerCount() const { return options_.workerCount; }
  Ring& ring() { return *ring_; }
  BufferRing& buffers() { return *buffers_; }
  BufferRing& bulkBuffers() { return *bulkBuffers_; }
  BufferRing& buffers(bool bulk) { return bulk ? *bulkBuffers_ : *buffers_; }
  // What streams use: the ring, buffers, timers and clock of this worker.
  IoContext& io() { return *io_; }
  const BufferStore& bufferStore() const { return io_->store; }
  // Deletes `owner` after the current batch of completions, timers and
  // mailbox tasks: an owner may ask for it from inside a callback of an
  // object it owns. It must have no op in flight by then.
  void deferDelete(Deletable* owner) { deferred_.push_back(owner); }
  TimerWheel& timers() { return *timers_; }
  const std::shared_ptr<const config::Config>& config() const { return config_; }
  // Any thread: what the server's threads share (outlives the worker).
  SharedServices& shared() const { return *options_.shared; }
  std::chrono::steady_clock::time_point now() const { return now_; }
  // The pool named `name` in the current config, or null.
  upstream::BackendSelector* pool(const std::string& name);

  void addSession(Session& s);
  // Unlinks the session and lets paused acceptors take new connections.
  void removeSession(Session& s);
  bool atConnectionLimit() const { return sessions_.size() >= options_.maxConnections; }
  size_t sessionCount() const { return sessions_.size(); }

  // Any thread: the worker loop has ended.
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // Any thread (relaxed; for status only).
  size_t activeConnections() const { return activeConnections_.load(std::memory_order_relaxed); }
  const WorkerCounters& counters() const { return counters_; }

 private:
  void threadMain(std::promise<std::string> ready);
  void loop();
  void reapFinishedListeners();
  void freeDeferred();
  bool stopComplete() const;
  std::optional<std::chrono::nanoseconds> waitBudget();

  WorkerOptions options_;
  const ServiceFactories& factories_;
  std::thread thread_;

  std::optional<Ring> ring_;
  std::optional<BufferRing> buffers_;
  std::optional<BufferRing> bulkBuffers_;
  BlockPool blocks_;
  std::optional<IoContext> io_;
  std::vector<Deletable*> deferred_;
  std::optional<Mailbox> mailbox_;
  std::optional<TimerWheel> timers_;
  std::shared_ptr<const config::Config> config_;
  std::map<std::string, std::unique_ptr<upstream::BackendSelector>> pools_;
  uint64_t poolVersion_ = 0;
  std::map<std::string, std::unique_ptr<ListenerService>> listeners_;
  std::vector<std::unique_ptr<ListenerService>> retiring_;  // stopped, sessions draining
  SessionList sessions_;
  std::atomic<size_t> activeConnections_{0};
  WorkerCounters counters_;
  std::atomic<bool> finished_{false};

  std::chrono::steady_clock::time_point now_;
  WaitPolicy waitPolicy_;
  bool stopping_ = false;
  bool aborted_ = false;  // stopping, and what was left has been aborted
  std::chrono::steady_clock::time_point drainDeadline_;
};

}  // namespace ringlb
