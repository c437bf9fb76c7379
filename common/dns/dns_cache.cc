#include "common/dns/dns_cache.h"

namespace ringlb::dns {

std::shared_ptr<const DnsAnswer> DnsCache::find(const std::string& name, TimePoint now) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return nullptr;
  if (now >= it->second.expires) {
    erase(it);
    return nullptr;
  }
  return it->second.answer;
}

void DnsCache::store(const std::string& name, std::shared_ptr<const DnsAnswer> answer,
                     TimePoint expires) {
  if (capacity_ == 0) return;
  if (auto it = entries_.find(name); it != entries_.end()) erase(it);
  while (entries_.size() >= capacity_) erase(entries_.find(order_.front()));
  order_.push_back(name);
  entries_.emplace(name, Entry{std::move(answer), expires, std::prev(order_.end())});
}

void DnsCache::clear() {
  entries_.clear();
  order_.clear();
}

void DnsCache::erase(std::unordered_map<std::string, Entry>::iterator it) {
  order_.erase(it->second.age);
  entries_.erase(it);
}

}  // namespace ringlb::dns
