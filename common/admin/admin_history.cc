#include "common/admin/admin_history.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace ringlb::admin {
namespace {

using json = nlohmann::ordered_json;

bool hasLatency(const std::string& mode) { return mode == "http" || mode == "forward"; }

const char* rateUnit(const std::string& mode) {
  if (mode == "tcp") return "connections/s";
  if (mode == "udp") return "datagrams/s";
  return "requests/s";
}

const char* errorsUnit(const std::string& mode) {
  if (mode == "tcp") return "refused connections/s";
  if (mode == "udp") return "refused or dropped datagrams/s";
  return "5xx answers/s";
}

struct SeriesKey {
  std::string pool, name, mode;
  bool latency = false;
};

bool same(const AdminHistory::Series& s, const SeriesKey& k) {
  return s.pool == k.pool && s.name == k.name && s.mode == k.mode;
}

// The series for `keys`, in their order: kept ones carry their points and
// totals, new ones start with a null point for each of the `points` times
// already kept. Usually nothing changed, and each key is at its old index.
std::vector<AdminHistory::Series> rebuild(std::vector<AdminHistory::Series>& old,
                                          const std::vector<SeriesKey>& keys, size_t points) {
  std::vector<AdminHistory::Series> out;
  out.reserve(keys.size());
  std::vector<bool> taken(old.size(), false);
  for (size_t k = 0; k < keys.size(); ++k) {
    size_t at = k < old.size() && !taken[k] && same(old[k], keys[k]) ? k : old.size();
    for (size_t j = 0; at == old.size() && j < old.size(); ++j) {
      if (!taken[j] && same(old[j], keys[k])) at = j;
    }
    if (at != old.size()) {
      taken[at] = true;
      out.push_back(std::move(old[at]));
      continue;
    }
    AdminHistory::Series s;
    s.pool = keys[k].pool;
    s.name = keys[k].name;
    s.mode = keys[k].mode;
    s.latency = keys[k].latency;
    s.points.resize(points);
    out.push_back(std::move(s));
  }
  return out;
}

// Rounded so the JSON stays short: 1/1000 of a request per second or of a millisecond.
json number(const std::optional<double>& v) {
  if (!v) return nullptr;
  return std::round(*v * 1000) / 1000;
}

json column(const std::deque<AdminHistory::Point>& points,
            std::optional<double> AdminHistory::Point::*field) {
  json out = json::array();
  for (const auto& p : points) out.push_back(number(p.*field));
  return out;
}

}  // namespace

std::optional<double> histogramQuantile(const HistogramBuckets& buckets, double q) {
  uint64_t total = 0;
  for (uint64_t n : buckets) total += n;
  if (total == 0) return std::nullopt;
  const double rank = q * static_cast<double>(total);
  uint64_t below = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (buckets[i] == 0 || static_cast<double>(below + buckets[i]) < rank) {
      below += buckets[i];
      continue;
    }
    if (i == kDurationBuckets.size()) return kDurationBuckets.back();  // +Inf
    const double lower = i == 0 ? 0.0 : kDurationBuckets[i - 1];
    const double upper = kDurationBuckets[i];
    const double within = (rank - static_cast<double>(below)) / static_cast<double>(buckets[i]);
    return lower + (upper - lower) * std::clamp(within, 0.0, 1.0);
  }
  return kDurationBuckets.back();
}

uint64_t listenerErrors(const ListenerView& l) {
  uint64_t n = 0;
  if (l.mode == "http" || l.mode == "forward") {
    for (const auto& [code, count] : l.requestsByCode) {
      if (code >= 500 && code <= 599) n += count;
    }
    return n;
  }
  for (uint64_t r : l.rejected) n += r;
  if (l.mode == "udp") n += l.udpDropped + l.udpIcmpErrors;
  return n;
}

void AdminHistory::push(Series& s, uint64_t count, uint64_t errors, const HistogramView* hist,
                        double seconds) {
  Point p;
  if (s.primed && seconds > 0) {
    // A total below the previous one is a counter that started again: no
    // rate can be told for that interval (and never a negative one).
    if (count >= s.lastCount) p.rate = static_cast<double>(count - s.lastCount) / seconds;
    if (errors >= s.lastErrors) p.errors = static_cast<double>(errors - s.lastErrors) / seconds;
    if (hist != nullptr) {
      HistogramBuckets delta{};
      bool reset = false;
      for (size_t i = 0; i < delta.size(); ++i) {
        reset = reset || hist->buckets[i] < s.lastBuckets[i];
        delta[i] = hist->buckets[i] - s.lastBuckets[i];
      }
      if (!reset) {
        auto ms = [&](double q) -> std::optional<double> {
          auto v = histogramQuantile(delta, q);
          if (!v) return std::nullopt;
          return *v * 1000;
        };
        p.p50 = ms(0.50);
        p.p95 = ms(0.95);
        p.p99 = ms(0.99);
      }
    }
  }
  s.lastCount = count;
  s.lastErrors = errors;
  if (hist != nullptr) s.lastBuckets = hist->buckets;
  s.primed = true;
  s.points.push_back(p);
}

void AdminHistory::sample(const AdminSnapshot& snap, Clock::time_point now) {
  const double seconds =
      lastSample_ ? std::chrono::duration<double>(now - *lastSample_).count() : 0.0;
  lastSample_ = now;

  std::vector<SeriesKey> listenerKeys;
  for (const auto& l : snap.listeners) {
    listenerKeys.push_back({"", l.name, l.mode, hasLatency(l.mode)});
  }
  std::vector<SeriesKey> backendKeys;
  for (const auto& p : snap.pools) {
    for (const auto& b : p.backends) backendKeys.push_back({b.pool, b.address, "", false});
  }
  listeners_ = rebuild(listeners_, listenerKeys, times_.size());
  backends_ = rebuild(backends_, backendKeys, times_.size());

  times_.push_back(snap.now);
  for (size_t i = 0; i < snap.listeners.size(); ++i) {
    const ListenerView& l = snap.listeners[i];
    push(listeners_[i], l.rateCounter(), listenerErrors(l),
         listeners_[i].latency ? &l.requestDuration : nullptr, seconds);
  }
  size_t i = 0;
  for (const auto& p : snap.pools) {
    for (const auto& b : p.backends) {
      push(backends_[i++], b.requests, b.connectFailures, nullptr, seconds);
    }
  }
  trim();
}

void AdminHistory::trim() {
  while (times_.size() > capacity_) {
    times_.pop_front();
    for (auto& s : listeners_) s.points.pop_front();
    for (auto& s : backends_) s.points.pop_front();
  }
}

std::string renderHistoryJson(const AdminHistory& history) {
  using Point = AdminHistory::Point;
  json times = json::array();
  for (const auto& t : history.times()) {
    times.push_back(
        std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
  }
  json listeners = json::array();
  for (const auto& s : history.listeners()) {
    json l = {
        {"name", s.name},
        {"mode", s.mode},
        {"rate_unit", rateUnit(s.mode)},
        {"errors_unit", errorsUnit(s.mode)},
        {"latency", s.latency},
        {"rate", column(s.points, &Point::rate)},
        {"errors", column(s.points, &Point::errors)},
    };
    if (s.latency) {
      l["p50_ms"] = column(s.points, &Point::p50);
      l["p95_ms"] = column(s.points, &Point::p95);
      l["p99_ms"] = column(s.points, &Point::p99);
    }
    listeners.push_back(std::move(l));
  }
  json backends = json::array();
  for (const auto& s : history.backends()) {
    backends.push_back({
        {"pool", s.pool},
        {"address", s.name},
        {"rate_unit", "requests/s"},
        {"errors_unit", "failed connects/s"},
        {"rate", column(s.points, &Point::rate)},
        {"errors", column(s.points, &Point::errors)},
    });
  }
  json doc = {
      {"interval_seconds", 1},
      {"capacity", history.capacity()},
      {"latency_max_ms", kDurationBuckets.back() * 1000},
      {"t", times},
      {"listeners", listeners},
      {"backends", backends},
  };
  // Compact: the page fetches it every 2 s. Invalid UTF-8 in a name becomes U+FFFD.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace ringlb::admin
