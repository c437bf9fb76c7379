// The edge cache's store (l7/cache/cache_store.h): what sharing one store
// between the workers costs on a hit, against the per-worker stores it was
// chosen over (docs/cache.md, "Memory and sharing between workers").
//
//   Shared/Keys    N threads (workers) look up random keys of one shared
//                  store: 16 shards, a mutex each
//   Shared/HotKey  every thread looks up the same key: one shard's mutex
//                  and LRU list bounce between the cores
//   PerWorker      each thread its own store (no other thread touches it):
//                  the cost of a lookup without sharing
//   Insert         a miss storing a 4 KiB response (eviction included: the
//                  store is full)
// Each lookup includes the Vary match of the stored variant (no Vary).
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "l7/cache/cache_store.h"

namespace ringlb::l7::cache {
namespace {

constexpr size_t kKeys = 10'000;

std::string keyOf(size_t i) { return cacheKey("bench.test", "/objects/" + std::to_string(i)); }

StoredPtr responseOf(size_t bodyBytes) {
  auto r = std::make_shared<StoredResponse>();
  r->status = 200;
  r->reason = "OK";
  r->fields = {{"Content-Type", "text/plain"}, {"Cache-Control", "max-age=3600"}};
  r->body.assign(bodyBytes, 'x');
  r->freshness.lifetime = 3600;
  r->host = "bench.test";
  return r;
}

std::shared_ptr<CacheStore> filledStore() {
  auto store = std::make_shared<CacheStore>(uint64_t{256} << 20);
  for (size_t i = 0; i < kKeys; ++i) store->insert(keyOf(i), responseOf(100));
  return store;
}

const auto kMatchAny = [](const StoredResponse& s) { return s.varyNames.empty(); };

std::vector<std::string> keys() {
  std::vector<std::string> k;
  for (size_t i = 0; i < kKeys; ++i) k.push_back(keyOf(i));
  return k;
}

void BM_CacheHitShared(benchmark::State& state) {
  static std::shared_ptr<CacheStore> store;
  static std::vector<std::string> names;
  if (state.thread_index() == 0) {
    store = filledStore();
    names = keys();
  }
  std::mt19937 rng(static_cast<unsigned>(state.thread_index()) + 1);
  for (auto _ : state) {
    StoredPtr hit = store->find(names[rng() % kKeys], kMatchAny);
    benchmark::DoNotOptimize(hit);
  }
  if (state.thread_index() == 0) store.reset();
}
BENCHMARK(BM_CacheHitShared)->Name("Cache/Shared/Keys")->Threads(1)->Threads(2)->UseRealTime();

void BM_CacheHitHotKey(benchmark::State& state) {
  static std::shared_ptr<CacheStore> store;
  static std::string key;
  if (state.thread_index() == 0) {
    store = filledStore();
    key = keyOf(7);
  }
  for (auto _ : state) {
    StoredPtr hit = store->find(key, kMatchAny);
    benchmark::DoNotOptimize(hit);
  }
  if (state.thread_index() == 0) store.reset();
}
BENCHMARK(BM_CacheHitHotKey)->Name("Cache/Shared/HotKey")->Threads(1)->Threads(2)->UseRealTime();

void BM_CacheHitPerWorker(benchmark::State& state) {
  std::shared_ptr<CacheStore> store = filledStore();  // this thread's own
  std::vector<std::string> names = keys();
  std::mt19937 rng(static_cast<unsigned>(state.thread_index()) + 1);
  for (auto _ : state) {
    StoredPtr hit = store->find(names[rng() % kKeys], kMatchAny);
    benchmark::DoNotOptimize(hit);
  }
}
BENCHMARK(BM_CacheHitPerWorker)->Name("Cache/PerWorker")->Threads(1)->Threads(2)->UseRealTime();

void BM_CacheInsert(benchmark::State& state) {
  // 16 MiB of 4 KiB responses: full after ~3,500 inserts, then each evicts.
  CacheStore store(uint64_t{16} << 20);
  StoredPtr response = responseOf(4096);
  size_t i = 0;
  for (auto _ : state) {
    bool stored = store.insert(keyOf(i++ % 100'000), response);
    benchmark::DoNotOptimize(stored);
  }
}
BENCHMARK(BM_CacheInsert)->Name("Cache/Insert4KiB");

}  // namespace
}  // namespace ringlb::l7::cache
