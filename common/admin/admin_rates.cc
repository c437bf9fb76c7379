#include "common/admin/admin_rates.h"

namespace ringlb::admin {
namespace {

std::string listenerKey(const ListenerView& l) { return "l/" + l.name; }
std::string backendKey(const BackendView& b) { return "b/" + b.pool + "/" + b.address; }

}  // namespace

void AdminRates::sample(const AdminSnapshot& snap, Clock::time_point now) {
  Sample s;
  s.at = now;
  for (const auto& l : snap.listeners) s.counters[listenerKey(l)] = l.rateCounter();
  for (const auto& p : snap.pools) {
    for (const auto& b : p.backends) s.counters[backendKey(b)] = b.requests;
  }
  samples_.push_back(std::move(s));
  // Keep one sample older than the window so the rate spans all of it.
  while (samples_.size() > 2 && now - samples_[1].at >= window_) samples_.pop_front();
}

double AdminRates::rate(const std::string& key, uint64_t current) const {
  if (samples_.size() < 2) return 0;
  const Sample& oldest = samples_.front();
  const Sample& newest = samples_.back();
  auto old = oldest.counters.find(key);
  auto last = newest.counters.find(key);
  const uint64_t latest = last != newest.counters.end() ? last->second : current;
  if (old == oldest.counters.end() || latest < old->second) return 0;
  const double seconds = std::chrono::duration<double>(newest.at - oldest.at).count();
  if (seconds <= 0) return 0;
  return static_cast<double>(latest - old->second) / seconds;
}

void AdminRates::fill(AdminSnapshot& snap) const {
  for (auto& l : snap.listeners) l.rate = rate(listenerKey(l), l.rateCounter());
  for (auto& p : snap.pools) {
    for (auto& b : p.backends) b.rate = rate(backendKey(b), b.requests);
  }
}

}  // namespace ringlb::admin
