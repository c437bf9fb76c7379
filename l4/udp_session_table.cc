#include "l4/udp_session_table.h"

#include <netinet/in.h>

#include <algorithm>
#include <cassert>
#include <cstring>

#include "common/upstream/hash_key.h"

namespace ringlb::l4 {

std::optional<UdpFlowKey> UdpFlowKey::from(const sockaddr* addr, socklen_t len) {
  UdpFlowKey key;
  if (addr->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(addr);
    key.family = AF_INET;
    key.port = sin->sin_port;
    std::memcpy(key.ip.data(), &sin->sin_addr, 4);
    return key;
  }
  if (addr->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(addr);
    key.family = AF_INET6;
    key.port = sin6->sin6_port;
    key.scopeId = sin6->sin6_scope_id;
    std::memcpy(key.ip.data(), &sin6->sin6_addr, 16);
    return key;
  }
  return std::nullopt;
}

std::string_view UdpFlowKey::ipBytes() const {
  return {reinterpret_cast<const char*>(ip.data()), family == AF_INET ? 4u : 16u};
}

size_t UdpFlowKeyHash::operator()(const UdpFlowKey& key) const {
  // The key has no padding worth hashing: hash its fields' bytes in one go.
  char bytes[16 + 4 + 2 + 1];
  std::memcpy(bytes, key.ip.data(), 16);
  std::memcpy(bytes + 16, &key.scopeId, 4);
  std::memcpy(bytes + 20, &key.port, 2);
  bytes[22] = static_cast<char>(key.family);
  return upstream::hashBytes({bytes, sizeof bytes});
}

UdpSessionTable::UdpSessionTable(size_t capacity) : capacity_(std::max<size_t>(1, capacity)) {
  index_.reserve(std::min<size_t>(capacity_, 4096));
}

UdpFlowEntry* UdpSessionTable::find(const UdpFlowKey& key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : it->second;
}

void UdpSessionTable::insert(UdpFlowEntry& entry) {
  assert(!full() && !entry.inTable_);
  bool added = index_.emplace(entry.key_, &entry).second;
  assert(added && "a flow with this client address is already in the table");
  (void)added;
  entry.inTable_ = true;
  linkNewest(entry);
}

void UdpSessionTable::touch(UdpFlowEntry& entry) {
  if (!entry.inTable_ || newest_ == &entry) return;
  unlink(entry);
  linkNewest(entry);
}

void UdpSessionTable::remove(UdpFlowEntry& entry) {
  if (!entry.inTable_) return;
  index_.erase(entry.key_);
  unlink(entry);
  entry.inTable_ = false;
}

void UdpSessionTable::unlink(UdpFlowEntry& entry) {
  if (entry.older_ != nullptr) entry.older_->newer_ = entry.newer_;
  if (entry.newer_ != nullptr) entry.newer_->older_ = entry.older_;
  if (oldest_ == &entry) oldest_ = entry.newer_;
  if (newest_ == &entry) newest_ = entry.older_;
  entry.older_ = entry.newer_ = nullptr;
}

void UdpSessionTable::linkNewest(UdpFlowEntry& entry) {
  entry.older_ = newest_;
  entry.newer_ = nullptr;
  if (newest_ != nullptr) newest_->newer_ = &entry;
  newest_ = &entry;
  if (oldest_ == nullptr) oldest_ = &entry;
}

}  // namespace ringlb::l4
