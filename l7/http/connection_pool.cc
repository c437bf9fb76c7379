#include "l7/http/connection_pool.h"

#include <cassert>

#include "common/worker.h"

namespace ringlb::l7 {

ConnectionPool::ConnectionPool(Worker& worker, ConnectionPoolOptions options)
    : worker_(worker), options_(options) {}

ConnectionPool::~ConnectionPool() { assert(live_ == 0); }

BackendConnection* ConnectionPool::take(const std::string& key, BackendUser& user) {
  auto it = idle_.find(key);
  if (it == idle_.end() || it->second.head == nullptr) return nullptr;
  BackendConnection* conn = it->second.head;
  unlinkIdle(*conn);
  conn->attach(user);
  return conn;
}

BackendConnection* ConnectionPool::open(const std::string& key) {
  ++live_;
  return new BackendConnection(*this, worker_.io(), key);
}

void ConnectionPool::park(BackendConnection& conn) {
  IdleList& list = idle_[conn.key()];
  if (stopped_ || list.size >= options_.maxIdlePerKey) {
    conn.close();
    return;
  }
  conn.nextIdle = list.head;
  conn.prevIdle = nullptr;
  if (list.head != nullptr) list.head->prevIdle = &conn;
  list.head = &conn;
  ++list.size;
  conn.makeIdle(options_.idleTimeout);
}

void ConnectionPool::unlinkIdle(BackendConnection& conn) {
  auto it = idle_.find(conn.key());
  assert(it != idle_.end());
  IdleList& list = it->second;
  if (conn.prevIdle != nullptr) conn.prevIdle->nextIdle = conn.nextIdle;
  if (conn.nextIdle != nullptr) conn.nextIdle->prevIdle = conn.prevIdle;
  if (list.head == &conn) list.head = conn.nextIdle;
  conn.prevIdle = conn.nextIdle = nullptr;
  --list.size;
}

void ConnectionPool::stop() {
  stopped_ = true;
  for (auto& [key, list] : idle_) {
    while (list.head != nullptr) list.head->close();  // close() unlinks it
  }
}

void ConnectionPool::free(BackendConnection& conn) {
  --live_;
  worker_.deferDelete(&conn);
}

size_t ConnectionPool::idleCount(const std::string& key) const {
  auto it = idle_.find(key);
  return it == idle_.end() ? 0 : it->second.size;
}

}  // namespace ringlb::l7
