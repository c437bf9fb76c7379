#include "common/upstream/backend_set.h"

#include <cassert>

#include "common/upstream/smooth_wrr.h"

namespace ringlb::upstream {

BackendSet::BackendSet(Options options, std::vector<Backend> backends)
    : options_(std::move(options)), backends_(std::move(backends)) {
  computeServing();
  buildTables();
}

std::shared_ptr<const BackendSet> BackendSet::create(Options options,
                                                     std::vector<Backend> backends) {
  return std::shared_ptr<const BackendSet>(new BackendSet(std::move(options), std::move(backends)));
}

std::shared_ptr<const BackendSet> BackendSet::fromConfig(const config::PoolConfig& pool,
                                                         uint64_t version) {
  std::vector<Backend> backends;
  backends.reserve(pool.backends.size());
  for (const config::BackendConfig& b : pool.backends) {
    backends.push_back(Backend{.pool = pool.name,
                               .address = b.address,
                               .resolved = b.resolved,
                               .weight = b.weight == 0 ? 1 : b.weight,
                               .backup = b.backup});
  }
  return create(Options{.pool = pool.name,
                        .algorithm = pool.balance,
                        .hashKey = pool.hashKey,
                        .slowStart = pool.slowStart,
                        .version = version},
                std::move(backends));
}

std::shared_ptr<const BackendSet> BackendSet::withHealth(const std::vector<bool>& up, MonoTime now,
                                                         uint64_t version) const {
  assert(up.size() == backends_.size());
  std::vector<Backend> next = backends_;
  for (size_t i = 0; i < next.size(); ++i) {
    if (up[i] && !next[i].up) next[i].upSince = now;
    next[i].up = up[i];
  }
  Options options = options_;
  options.version = version;
  return create(std::move(options), std::move(next));
}

std::optional<uint32_t> BackendSet::find(std::string_view address) const {
  for (uint32_t i = 0; i < backends_.size(); ++i) {
    if (backends_[i].address == address) return i;
  }
  return std::nullopt;
}

void BackendSet::computeServing() {
  for (bool backups : {false, true}) {
    for (uint32_t i = 0; i < backends_.size(); ++i) {
      if (backends_[i].up && backends_[i].backup == backups) serving_.push_back(i);
    }
    if (!serving_.empty()) {
      servingBackups_ = backups;
      break;
    }
  }
  if (servingBackups_ || serving_.empty()) return;
  for (uint32_t i = 0; i < backends_.size(); ++i) {
    if (backends_[i].up && backends_[i].backup) standby_.push_back(i);
  }
}

void BackendSet::buildTables() {
  if (serving_.empty()) return;
  if (options_.algorithm == config::BalanceAlgorithm::Hash) {
    std::vector<MaglevTable::Entry> entries;
    for (uint32_t i : serving_) entries.push_back({backends_[i].address, backends_[i].weight, i});
    maglev_ = MaglevTable(entries, MaglevTable::sizeFor(backends_.size()));
  } else if (options_.algorithm == config::BalanceAlgorithm::RoundRobin) {
    std::vector<uint64_t> weights;
    for (uint32_t i : serving_) weights.push_back(backends_[i].weight);
    period_ = buildSmoothSchedule(weights);
    for (uint32_t& slot : period_) slot = serving_[slot];
  }
}

}  // namespace ringlb::upstream
