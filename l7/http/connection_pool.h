// ConnectionPool: the keep-alive connections of one listener on one worker,
// per backend (key: its address as configured, or a forward proxy's
// "host:port"). take() hands out the most recently used idle connection (the
// warmest); release() parks one, at most maxIdlePerKey per key, each for at
// most idleTimeout. Stopped (listener draining or removed), it parks
// nothing: idle connections close at once, released ones on release.
//
// Worker thread only. Owns every connection it made and frees it once closed
// (Worker::deferDelete); live() tells when all of them are gone.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "common/io_context.h"
#include "l7/http/backend_connection.h"

namespace ringlb {
class Worker;
}

namespace ringlb::l7 {

struct ConnectionPoolOptions {
  // Enough for the concurrency one worker serves: a cap below it makes
  // every release past it close a connection the next request reopens (at
  // wrk -c256 over two backends, a cap of 64 cost 40 % more CPU per request).
  uint32_t maxIdlePerKey = 512;
  std::chrono::milliseconds idleTimeout = std::chrono::seconds(60);
};

class ConnectionPool {
 public:
  explicit ConnectionPool(Worker& worker, ConnectionPoolOptions options = {});
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // An idle connection for `key`, attached to `user`, or null.
  BackendConnection* take(const std::string& key, BackendUser& user);
  // A new connection for `key` (connect() it next).
  BackendConnection* open(const std::string& key);
  void stop();

  size_t live() const { return live_; }
  size_t idleCount(const std::string& key) const;
  const ConnectionPoolOptions& options() const { return options_; }

 private:
  friend class BackendConnection;
  struct IdleList {
    BackendConnection* head = nullptr;
    uint32_t size = 0;
  };

  void park(BackendConnection& conn);
  void unlinkIdle(BackendConnection& conn);
  void free(BackendConnection& conn);

  Worker& worker_;
  ConnectionPoolOptions options_;
  std::unordered_map<std::string, IdleList> idle_;
  size_t live_ = 0;
  bool stopped_ = false;
};

}  // namespace ringlb::l7
