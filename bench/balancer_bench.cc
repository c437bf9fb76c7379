// Cost of choosing a backend, per algorithm, for 3, 100 and 1000 backends.
//
// BM_Pick_*: Balancer::pick() alone over a fixed random load (what the issue
// targets: < 50 ns at 100 backends). BM_PickRelease_*: the whole per-request
// cycle through BackendSelector (pick, count start, count end), which for
// least_conn includes the O(log n) load updates.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "common/upstream/backend_selector.h"
#include "common/upstream/balancer.h"
#include "common/upstream/hash_key.h"
#include "common/upstream/rng.h"

namespace ringlb::upstream {
namespace {

std::shared_ptr<const BackendSet> makePool(config::BalanceAlgorithm algorithm, size_t n) {
  std::vector<Backend> backends(n);
  FastRng rng(7);
  for (size_t i = 0; i < n; ++i) {
    backends[i].pool = "bench";
    backends[i].address = "10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ":80";
    backends[i].weight = 1 + rng.below(4);
  }
  BackendSet::Options options;
  options.pool = "bench";
  options.algorithm = algorithm;
  return BackendSet::create(options, std::move(backends));
}

std::vector<uint64_t> keyHashes() {
  std::vector<uint64_t> hashes(4096);
  for (size_t i = 0; i < hashes.size(); ++i) hashes[i] = hashBytes("client-" + std::to_string(i));
  return hashes;
}

template <config::BalanceAlgorithm Algorithm>
void BM_Pick(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  auto set = makePool(Algorithm, n);
  std::vector<uint32_t> active(n);
  FastRng rng(3);
  for (uint32_t& a : active) a = rng.below(50);
  auto balancer = makeBalancer(*set, active, 11);
  const auto hashes = keyHashes();
  PickInput in{.now = MonoClock::now(), .hasKey = true};
  size_t i = 0;
  for (auto _ : state) {
    in.keyHash = hashes[i++ & (hashes.size() - 1)];
    benchmark::DoNotOptimize(balancer->pick(in));
  }
}

template <config::BalanceAlgorithm Algorithm>
void BM_PickRelease(benchmark::State& state) {
  const size_t n = size_t(state.range(0));
  BackendSelector pool(makePool(Algorithm, n), 11);
  // A standing load of 10 requests per backend, so least_conn has real work.
  std::vector<Lease> standing;
  for (size_t k = 0; k < 10 * n; ++k) standing.push_back(std::move(pool.acquire({}).lease));
  const auto hashes = keyHashes();
  const MonoTime now = MonoClock::now();
  size_t i = 0;
  for (auto _ : state) {
    PickResult r = pool.acquire(now, hashes[i++ & (hashes.size() - 1)]);
    benchmark::DoNotOptimize(r.lease.id());
    pool.release(r.lease);
  }
  for (Lease& l : standing) pool.release(l);
}

using config::BalanceAlgorithm;

BENCHMARK(BM_Pick<BalanceAlgorithm::RoundRobin>)
    ->Name("BM_Pick_RoundRobin")
    ->Arg(3)
    ->Arg(100)
    ->Arg(1000);
BENCHMARK(BM_Pick<BalanceAlgorithm::LeastConn>)
    ->Name("BM_Pick_LeastConn")
    ->Arg(3)
    ->Arg(100)
    ->Arg(1000);
BENCHMARK(BM_Pick<BalanceAlgorithm::RandomTwo>)
    ->Name("BM_Pick_RandomTwo")
    ->Arg(3)
    ->Arg(100)
    ->Arg(1000);
BENCHMARK(BM_Pick<BalanceAlgorithm::Hash>)->Name("BM_Pick_Maglev")->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK(BM_PickRelease<BalanceAlgorithm::RoundRobin>)
    ->Name("BM_PickRelease_RoundRobin")
    ->Arg(3)
    ->Arg(100)
    ->Arg(1000);
BENCHMARK(BM_PickRelease<BalanceAlgorithm::LeastConn>)
    ->Name("BM_PickRelease_LeastConn")
    ->Arg(3)
    ->Arg(100)
    ->Arg(1000);
BENCHMARK(BM_PickRelease<BalanceAlgorithm::RandomTwo>)
    ->Name("BM_PickRelease_RandomTwo")
    ->Arg(3)
    ->Arg(100)
    ->Arg(1000);
BENCHMARK(BM_PickRelease<BalanceAlgorithm::Hash>)
    ->Name("BM_PickRelease_Maglev")
    ->Arg(3)
    ->Arg(100)
    ->Arg(1000);

}  // namespace
}  // namespace ringlb::upstream
