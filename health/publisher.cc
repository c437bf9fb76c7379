#include "health/publisher.h"

namespace ringlb::health {

Publisher::Publisher(PostToWorkers post) : post_(std::move(post)) {}

std::vector<bool> Publisher::upVector(const upstream::BackendSet& set) const {
  std::vector<bool> up(set.size(), true);
  for (size_t i = 0; i < set.size(); ++i) {
    auto it = up_.find(Key(set.pool(), set[static_cast<uint32_t>(i)].address));
    if (it != up_.end()) up[i] = it->second;
  }
  return up;
}

void Publisher::setConfig(const config::Config& config, upstream::MonoTime now) {
  std::lock_guard lock(mutex_);
  std::map<std::string, SetPtr> sets;
  std::map<Key, bool> up;
  for (const auto& [name, pool] : config.pools) {
    SetPtr base = upstream::BackendSet::fromConfig(pool, ++version_);
    for (const config::BackendConfig& b : pool.backends) {
      auto it = up_.find(Key(name, b.address));
      if (it != up_.end()) up.emplace(it->first, it->second);
    }
    sets.emplace(name, base);
  }
  up_ = std::move(up);
  for (auto& [name, set] : sets) {
    std::vector<bool> health = upVector(*set);
    bool anyDown = false;
    for (bool u : health) anyDown = anyDown || !u;
    if (!anyDown) continue;
    set = set->withHealth(health, now, ++version_);
    ++published_;
    post_(set);
  }
  sets_ = std::move(sets);
}

bool Publisher::update(const std::string& pool, const std::vector<BackendHealth>& states,
                       upstream::MonoTime now) {
  std::lock_guard lock(mutex_);
  auto it = sets_.find(pool);
  if (it == sets_.end()) return false;
  const upstream::BackendSet& set = *it->second;
  for (const BackendHealth& s : states) {
    if (set.find(s.address)) up_[Key(pool, s.address)] = s.up;
  }
  std::vector<bool> health = upVector(set);
  bool changed = false;
  for (size_t i = 0; i < set.size(); ++i) {
    changed = changed || set[static_cast<uint32_t>(i)].up != health[i];
  }
  if (!changed) return false;
  it->second = set.withHealth(health, now, ++version_);
  ++published_;
  post_(it->second);
  return true;
}

Publisher::SetPtr Publisher::current(const std::string& pool) const {
  std::lock_guard lock(mutex_);
  auto it = sets_.find(pool);
  return it == sets_.end() ? nullptr : it->second;
}

uint64_t Publisher::published() const {
  std::lock_guard lock(mutex_);
  return published_;
}

}  // namespace ringlb::health
