// UdpSessionTable: one worker's UDP flows of one listener, keyed by the
// client's address (IPv4 or IPv6, with port), in least-recently-used order.
//
// Entries are intrusive (a UdpFlowEntry lives inside its session), so a touch
// or a removal never allocates; only insert may grow the hash index. The
// table does not own its entries and never frees one: when it is full the
// caller takes lruVictim(), ends that session (which removes it) and then
// inserts the new one.
//
// Thread rules: worker thread only. An entry must be removed before it dies.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>

namespace ringlb::l4 {

// A client address reduced to the bytes that tell two flows apart.
struct UdpFlowKey {
  std::array<uint8_t, 16> ip{};  // IPv4 uses the first 4 bytes
  uint32_t scopeId = 0;          // IPv6 link-local zone
  uint16_t port = 0;             // network byte order
  uint8_t family = 0;            // AF_INET or AF_INET6 (fits in 8 bits)

  // nullopt for a family other than AF_INET / AF_INET6 or a short length.
  static std::optional<UdpFlowKey> from(const sockaddr* addr, socklen_t len);
  // The address bytes without the port (4 or 16): the source_ip hash key.
  std::string_view ipBytes() const;
  bool operator==(const UdpFlowKey& other) const = default;
};

struct UdpFlowKeyHash {
  size_t operator()(const UdpFlowKey& key) const;
};

// The table's hook inside a session.
class UdpFlowEntry {
 public:
  explicit UdpFlowEntry(const UdpFlowKey& key) : key_(key) {}
  UdpFlowEntry(const UdpFlowEntry&) = delete;
  UdpFlowEntry& operator=(const UdpFlowEntry&) = delete;

  const UdpFlowKey& key() const { return key_; }
  bool inTable() const { return inTable_; }

 private:
  friend class UdpSessionTable;
  UdpFlowKey key_;
  UdpFlowEntry* older_ = nullptr;  // towards the LRU end
  UdpFlowEntry* newer_ = nullptr;  // towards the MRU end
  bool inTable_ = false;
};

class UdpSessionTable {
 public:
  // `capacity` >= 1: how many flows the table holds before eviction.
  explicit UdpSessionTable(size_t capacity);
  ~UdpSessionTable() = default;
  UdpSessionTable(const UdpSessionTable&) = delete;
  UdpSessionTable& operator=(const UdpSessionTable&) = delete;

  UdpFlowEntry* find(const UdpFlowKey& key) const;
  // Inserts as most recently used. Precondition: !full(), key not present.
  void insert(UdpFlowEntry& entry);
  // Marks `entry` as most recently used.
  void touch(UdpFlowEntry& entry);
  // A no-op when the entry is not in the table.
  void remove(UdpFlowEntry& entry);
  // The least recently used entry, or null when empty.
  UdpFlowEntry* lruVictim() const { return oldest_; }

  bool full() const { return index_.size() >= capacity_; }
  size_t size() const { return index_.size(); }
  size_t capacity() const { return capacity_; }
  // Calls f on each entry, oldest first; f may remove the entry it is given.
  template <typename F>
  void forEach(F&& f) {
    for (UdpFlowEntry* e = oldest_; e != nullptr;) {
      UdpFlowEntry* next = e->newer_;
      f(*e);
      e = next;
    }
  }

 private:
  void unlink(UdpFlowEntry& entry);
  void linkNewest(UdpFlowEntry& entry);

  size_t capacity_;
  std::unordered_map<UdpFlowKey, UdpFlowEntry*, UdpFlowKeyHash> index_;
  UdpFlowEntry* oldest_ = nullptr;
  UdpFlowEntry* newest_ = nullptr;
};

}  // namespace ringlb::l4
