#include "common/upstream/backend_selector.h"

#include <algorithm>
#include <cassert>

namespace ringlb::upstream {

Lease& Lease::operator=(Lease&& other) noexcept {
  backend_ = other.backend_;
  id_ = other.id_;
  index_ = other.index_;
  generation_ = other.generation_;
  other.backend_ = nullptr;
  return *this;
}

BackendSelector::BackendSelector(std::shared_ptr<const BackendSet> set, uint64_t seed)
    : seed_(seed) {
  update(std::move(set));
}

void BackendSelector::update(std::shared_ptr<const BackendSet> set) {
  std::vector<uint32_t> ids(set->size());
  std::vector<uint32_t> active(set->size(), 0);
  carryOver(*set, ids, active);
  balancer_.reset();  // it reads active_ and set_, about to be replaced
  set_ = std::move(set);
  ids_ = std::move(ids);
  active_ = std::move(active);
  indexOfId_.clear();
  for (uint32_t i = 0; i < ids_.size(); ++i) indexOfId_[ids_[i]] = i;
  exclude_.resize(set_->size());
  ++generation_;
  balancer_ = makeBalancer(*set_, active_, seed_ ^ (generation_ * 0x9e3779b97f4a7c15ULL));
}

void BackendSelector::carryOver(const BackendSet& next, std::vector<uint32_t>& ids,
                                std::vector<uint32_t>& active) {
  std::unordered_map<std::string_view, uint32_t> oldIndex;
  if (set_) {
    for (uint32_t i = 0; i < set_->size(); ++i) oldIndex[(*set_)[i].address] = i;
  }
  for (uint32_t i = 0; i < next.size(); ++i) {
    const std::string& address = next[i].address;
    if (auto it = oldIndex.find(address); it != oldIndex.end()) {
      ids[i] = ids_[it->second];
      active[i] = active_[it->second];
      oldIndex.erase(it);
    } else if (auto r = std::find_if(retired_.begin(), retired_.end(),
                                     [&](const Retired& x) { return x.address == address; });
               r != retired_.end()) {
      ids[i] = r->id;  // a backend removed and added back before draining
      active[i] = r->active;
      retired_.erase(r);
    } else {
      ids[i] = nextId_++;
    }
  }
  for (const auto& [address, index] : oldIndex) {
    if (active_[index] > 0) retired_.push_back({ids_[index], std::string(address), active_[index]});
  }
}

PickResult BackendSelector::acquire(MonoTime now, std::optional<uint64_t> keyHash,
                                    const TriedSet* tried) {
  if (set_->serving().empty()) {
    ++counters_.noBackendUp;
    return {Lease{}, PickFailure::NoBackendUp};
  }
  PickInput in{.now = now, .keyHash = keyHash.value_or(0), .hasKey = keyHash.has_value()};
  if (tried && tried->size() > 0) {
    markTried(*tried);
    in.exclude = &exclude_;
  }
  uint32_t index = balancer_->pick(in);
  if (index == kNoBackend && in.exclude != nullptr) {
    index = pickStandby(exclude_);
    if (index != kNoBackend) ++counters_.backupFallbacks;
  }
  if (index == kNoBackend) {
    ++counters_.allTried;
    return {Lease{}, PickFailure::AllTried};
  }
  ++counters_.picks;
  return {start(index), PickFailure::None};
}

uint32_t BackendSelector::pickStandby(const IndexMask& exclude) const {
  uint32_t best = kNoBackend;
  for (uint32_t i : set_->standby()) {
    if (exclude.test(i)) continue;
    if (best == kNoBackend ||
        compareLoad(active_[i], (*set_)[i].weight, active_[best], (*set_)[best].weight) < 0) {
      best = i;
    }
  }
  return best;
}

void BackendSelector::markTried(const TriedSet& tried) {
  exclude_.clear();
  for (uint32_t i = 0; i < ids_.size(); ++i) {
    if (tried.contains(ids_[i])) exclude_.set(i);
  }
}

Lease BackendSelector::start(uint32_t index) {
  ++active_[index];
  balancer_->onLoadChanged(index);
  Lease lease;
  lease.backend_ = &(*set_)[index];
  lease.id_ = ids_[index];
  lease.index_ = index;
  lease.generation_ = generation_;
  return lease;
}

void BackendSelector::release(Lease& lease) {
  if (!lease) return;
  uint32_t index = lease.index_;
  bool current = lease.generation_ == generation_;
  if (!current) {
    // Started on an older snapshot: find the backend by its stable id.
    if (auto it = indexOfId_.find(lease.id_); it != indexOfId_.end()) {
      index = it->second;
      current = true;
    }
  }
  if (current) {
    assert(active_[index] > 0);
    --active_[index];
    balancer_->onLoadChanged(index);
  } else {
    auto r = std::find_if(retired_.begin(), retired_.end(),
                          [&](const Retired& x) { return x.id == lease.id_; });
    assert(r != retired_.end() && r->active > 0);
    if (r != retired_.end() && --r->active == 0) retired_.erase(r);
  }
  lease = Lease{};
}

uint32_t BackendSelector::activeCount(std::string_view address) const {
  if (auto index = set_->find(address)) return active_[*index];
  for (const Retired& r : retired_) {
    if (r.address == address) return r.active;
  }
  return 0;
}

}  // namespace ringlb::upstream
