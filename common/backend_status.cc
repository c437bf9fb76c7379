#include "common/backend_status.h"

namespace ringlb {

void BackendStatusBoard::setBackends(const std::vector<BackendStatus>& current) {
  std::lock_guard lock(mutex_);
  std::map<std::pair<std::string, std::string>, BackendStatus> next;
  for (const auto& b : current) {
    auto key = std::make_pair(b.pool, b.address);
    auto it = backends_.find(key);
    BackendStatus entry = it != backends_.end() ? it->second : b;
    entry.weight = b.weight;
    entry.backup = b.backup;
    next.emplace(std::move(key), std::move(entry));
  }
  backends_ = std::move(next);
}

void BackendStatusBoard::update(const std::string& pool, const std::string& address,
                                const std::function<void(BackendStatus&)>& change) {
  std::lock_guard lock(mutex_);
  auto it = backends_.find({pool, address});
  if (it != backends_.end()) change(it->second);
}

std::vector<BackendStatus> BackendStatusBoard::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<BackendStatus> out;
  out.reserve(backends_.size());
  for (const auto& [key, status] : backends_) out.push_back(status);
  return out;
}

}  // namespace ringlb
