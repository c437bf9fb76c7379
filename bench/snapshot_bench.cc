// The cost of a health change reaching the workers, in its pieces:
//
//   BM_SnapshotFromConfig_*   BackendSet::fromConfig (load/reload)
//   BM_SnapshotWithHealth_*   BackendSet::withHealth, one backend flapping
//                             (what the health thread builds per change;
//                             for hash pools this includes the Maglev table)
//   BM_SnapshotPoolUpdate_*   BackendSelector::update, the worker's swap
//   BM_SnapshotMailboxRoundTrip   post + eventfd wake through io_uring + drain,
//                             one thread, a shared_ptr payload
//   BM_SnapshotHealthChangeEndToEnd_*  withHealth on this thread, posted to
//                             a worker-like thread (own ring + Mailbox) that
//                             swaps it into its BackendSelector and acknowledges
//
// A full Worker is not used: it needs services, listeners and buffer rings;
// the worker-like thread runs the same enter/dispatch/drain loop.
#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/mailbox.h"
#include "common/ring.h"
#include "common/upstream/backend_selector.h"
#include "common/upstream/backend_set.h"

namespace ringlb::upstream {
namespace {

using config::BalanceAlgorithm;

config::PoolConfig poolConfig(BalanceAlgorithm algorithm, size_t n) {
  config::PoolConfig pool;
  pool.name = "bench";
  pool.balance = algorithm;
  pool.backends.resize(n);
  for (size_t i = 0; i < n; ++i) {
    std::string& address = pool.backends[i].address;
    address.append("10.0.").append(std::to_string(i / 256)).append(".");
    address.append(std::to_string(i % 256)).append(":80");
    pool.backends[i].weight = 1 + uint32_t(i % 3);
  }
  return pool;
}

// Two snapshots that differ in the health of backend 0, as a flap produces.
struct FlapPair {
  std::shared_ptr<const BackendSet> up;
  std::shared_ptr<const BackendSet> down;
};

FlapPair flapPair(BalanceAlgorithm algorithm, size_t n) {
  FlapPair pair;
  pair.up = BackendSet::fromConfig(poolConfig(algorithm, n), 1);
  std::vector<bool> health(n, true);
  health[0] = false;
  pair.down = pair.up->withHealth(health, MonoClock::now(), 2);
  return pair;
}

template <BalanceAlgorithm Algorithm>
void BM_SnapshotFromConfig(benchmark::State& state) {
  const config::PoolConfig pool = poolConfig(Algorithm, size_t(state.range(0)));
  uint64_t version = 0;
  for (auto _ : state) {
    auto set = BackendSet::fromConfig(pool, ++version);
    benchmark::DoNotOptimize(set.get());
  }
}

template <BalanceAlgorithm Algorithm>
void BM_SnapshotWithHealth(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  auto base = BackendSet::fromConfig(poolConfig(Algorithm, n), 1);
  std::vector<bool> health(n, true);
  const MonoTime now = MonoClock::now();
  uint64_t version = 1;
  for (auto _ : state) {
    health[0] = !health[0];
    auto set = base->withHealth(health, now, ++version);
    benchmark::DoNotOptimize(set.get());
  }
}

template <BalanceAlgorithm Algorithm>
void BM_SnapshotPoolUpdate(benchmark::State& state) {
  FlapPair pair = flapPair(Algorithm, size_t(state.range(0)));
  BackendSelector pool(pair.up, 11);
  bool down = false;
  for (auto _ : state) {
    down = !down;
    pool.update(down ? pair.down : pair.up);
    benchmark::DoNotOptimize(&pool.backends());
  }
}

// One thread: post, wait for the eventfd read to complete, run the task.
void BM_SnapshotMailboxRoundTrip(benchmark::State& state) {
  Ring ring(16);
  Mailbox mailbox(ring);
  mailbox.start();
  auto payload = std::make_shared<const int>(42);
  uint64_t received = 0;
  for (auto _ : state) {
    mailbox.post([&received, p = payload] { received += uint64_t(*p); });
    while (!mailbox.woken()) ring.run(true, std::chrono::milliseconds(100));
    mailbox.drain();
  }
  benchmark::DoNotOptimize(received);
  mailbox.stop();
  while (mailbox.opsInFlight() != 0) ring.run(true, std::chrono::milliseconds(10));
  if (received != 42 * uint64_t(state.iterations())) state.SkipWithError("lost tasks");
}

// A thread shaped like a Worker: owns its ring (created on the thread, as
// SINGLE_ISSUER requires), its Mailbox and a BackendSelector, and runs the worker's
// enter/dispatch/drain loop until told to stop.
class WorkerLike {
 public:
  explicit WorkerLike(std::shared_ptr<const BackendSet> initial) {
    std::atomic<bool> ready{false};
    thread_ = std::thread([this, &ready, initial] {
      Ring ring(64);
      Mailbox mailbox(ring);
      BackendSelector pool(initial, 11);
      pool_ = &pool;
      mailbox_ = &mailbox;
      mailbox.start();
      ready.store(true, std::memory_order_release);
      while (!stop_) {
        ring.enter(true, std::chrono::milliseconds(500));
        ring.dispatch();
        if (mailbox.woken()) mailbox.drain();
      }
      mailbox.stop();
      while (mailbox.opsInFlight() != 0) ring.run(true, std::chrono::milliseconds(10));
    });
    while (!ready.load(std::memory_order_acquire)) std::this_thread::yield();
  }

  ~WorkerLike() {
    mailbox_->post([this] { stop_ = true; });
    thread_.join();
  }

  // Any thread: swap `set` in on the worker; acked() then reports its version.
  void publish(std::shared_ptr<const BackendSet> set) {
    mailbox_->post([this, s = std::move(set)]() mutable {
      const uint64_t version = s->version();
      pool_->update(std::move(s));
      acked_.store(version, std::memory_order_release);
    });
  }
  uint64_t acked() const { return acked_.load(std::memory_order_acquire); }

 private:
  std::thread thread_;
  Mailbox* mailbox_ = nullptr;
  BackendSelector* pool_ = nullptr;  // worker thread only
  bool stop_ = false;                // worker thread only
  std::atomic<uint64_t> acked_{0};
};

template <BalanceAlgorithm Algorithm>
void BM_SnapshotHealthChangeEndToEnd(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  auto base = BackendSet::fromConfig(poolConfig(Algorithm, n), 1);
  WorkerLike worker(base);
  std::vector<bool> health(n, true);
  uint64_t version = 1;
  for (auto _ : state) {
    health[0] = !health[0];
    worker.publish(base->withHealth(health, MonoClock::now(), ++version));
    while (worker.acked() != version) std::this_thread::yield();
  }
}

#define RINGLB_SNAPSHOT_BENCH(name, algorithm, label) \
  BENCHMARK(name<algorithm>)->Name(#name "_" label)->Arg(10)->Arg(100)

RINGLB_SNAPSHOT_BENCH(BM_SnapshotFromConfig, BalanceAlgorithm::RoundRobin, "RoundRobin");
RINGLB_SNAPSHOT_BENCH(BM_SnapshotFromConfig, BalanceAlgorithm::Hash, "Maglev");
RINGLB_SNAPSHOT_BENCH(BM_SnapshotWithHealth, BalanceAlgorithm::RoundRobin, "RoundRobin");
RINGLB_SNAPSHOT_BENCH(BM_SnapshotWithHealth, BalanceAlgorithm::Hash, "Maglev");
RINGLB_SNAPSHOT_BENCH(BM_SnapshotPoolUpdate, BalanceAlgorithm::RoundRobin, "RoundRobin");
RINGLB_SNAPSHOT_BENCH(BM_SnapshotPoolUpdate, BalanceAlgorithm::Hash, "Maglev");
BENCHMARK(BM_SnapshotMailboxRoundTrip);
RINGLB_SNAPSHOT_BENCH(BM_SnapshotHealthChangeEndToEnd, BalanceAlgorithm::RoundRobin, "RoundRobin")
    ->UseRealTime();
RINGLB_SNAPSHOT_BENCH(BM_SnapshotHealthChangeEndToEnd, BalanceAlgorithm::Hash, "Maglev")
    ->UseRealTime();

}  // namespace
}  // namespace ringlb::upstream
