#include "l7/upstream_pool.h"

#include <cassert>

namespace ringlb::l7 {

UpstreamPool::UpstreamPool(Worker& worker, UpstreamPoolOptions options)
    : worker_(worker), options_(options) {}

UpstreamPool::~UpstreamPool() { assert(live_ == 0); }

UpstreamConn* UpstreamPool::take(const std::string& backend) {
  auto it = idle_.find(backend);
  if (it == idle_.end() || it->second.head == nullptr) return nullptr;
  UpstreamConn* conn = it->second.head;
  unlinkIdle(*conn);
  return conn;
}

UpstreamConn* UpstreamPool::adopt(int fd, const std::string& backend) {
  ++live_;
  return new UpstreamConn(*this, worker_, fd, backend);
}

void UpstreamPool::release(UpstreamConn& conn) {
  IdleList& list = idle_[conn.backend()];
  if (stopped_ || list.size >= options_.maxIdlePerBackend) {
    conn.close();
    return;
  }
  conn.nextIdle = list.head;
  conn.prevIdle = nullptr;
  if (list.head != nullptr) list.head->prevIdle = &conn;
  list.head = &conn;
  ++list.size;
  conn.makeIdle();
}

void UpstreamPool::unlinkIdle(UpstreamConn& conn) {
  auto it = idle_.find(conn.backend());
  assert(it != idle_.end());
  IdleList& list = it->second;
  if (conn.prevIdle != nullptr) conn.prevIdle->nextIdle = conn.nextIdle;
  if (conn.nextIdle != nullptr) conn.nextIdle->prevIdle = conn.prevIdle;
  if (list.head == &conn) list.head = conn.nextIdle;
  conn.prevIdle = conn.nextIdle = nullptr;
  --list.size;
}

void UpstreamPool::stop() {
  stopped_ = true;
  for (auto& [backend, list] : idle_) {
    while (list.head != nullptr) list.head->close();  // close() unlinks it
  }
}

size_t UpstreamPool::idleCount(const std::string& backend) const {
  auto it = idle_.find(backend);
  return it == idle_.end() ? 0 : it->second.size;
}

}  // namespace ringlb::l7
