// DnsCache: answers kept until they expire, at most `capacity` names; a full
// cache forgets the name stored longest ago. Keys are names as the resolver
// gives them (lower case).
//
// Single-threaded: one cache per resolver, on its worker thread. Time is
// passed in, so tests need no clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/dns/dns_answer.h"

namespace ringlb::dns {

class DnsCache {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  explicit DnsCache(size_t capacity) : capacity_(capacity) {}

  // The answer for `name` while now < its expiry; null otherwise (an
  // expired entry is dropped).
  std::shared_ptr<const DnsAnswer> find(const std::string& name, TimePoint now);
  // Keeps `answer` until `expires`, replacing an older answer for the name.
  void store(const std::string& name, std::shared_ptr<const DnsAnswer> answer, TimePoint expires);
  void clear();
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::shared_ptr<const DnsAnswer> answer;
    TimePoint expires;
    std::list<std::string>::iterator age;  // its place in order_
  };

  void erase(std::unordered_map<std::string, Entry>::iterator it);

  size_t capacity_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> order_;  // stored longest ago first
};

}  // namespace ringlb::dns
