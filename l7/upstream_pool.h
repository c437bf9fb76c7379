// UpstreamPool: the keep-alive connections of one http listener on one
// worker, per backend address. take() hands out the most recently used idle
// connection (the warmest); release() parks a connection (at most
// maxIdlePerBackend per backend, each for at most idleTimeout); a connection
// the backend closes while parked is dropped at once.
//
// Worker thread only. Must outlive every connection it made: live() tells
// when all of them are gone.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "l7/upstream_conn.h"

namespace ringlb::l7 {

struct UpstreamPoolOptions {
  uint32_t maxIdlePerBackend = 64;
  std::chrono::milliseconds idleTimeout = std::chrono::seconds(60);
};

class UpstreamPool {
 public:
  UpstreamPool(Worker& worker, UpstreamPoolOptions options = {});
  ~UpstreamPool();
  UpstreamPool(const UpstreamPool&) = delete;
  UpstreamPool& operator=(const UpstreamPool&) = delete;

  // An idle connection to `backend`, now active, or null.
  UpstreamConn* take(const std::string& backend);
  // Wraps a freshly connected socket (takes the fd); active.
  UpstreamConn* adopt(int fd, const std::string& backend);
  // The session is done with `conn` and it may carry another request
  // (closed instead once the pool is stopped).
  void release(UpstreamConn& conn);
  // Closes every idle connection and parks none from now on (listener
  // draining or removed): live() then falls to 0 as exchanges end.
  void stop();

  size_t live() const { return live_; }
  size_t idleCount(const std::string& backend) const;
  const UpstreamPoolOptions& options() const { return options_; }

  // From UpstreamConn.
  void unlinkIdle(UpstreamConn& conn);
  void onFreed() { --live_; }

 private:
  struct IdleList {
    UpstreamConn* head = nullptr;  // most recently released
    uint32_t size = 0;
  };

  Worker& worker_;
  UpstreamPoolOptions options_;
  std::unordered_map<std::string, IdleList> idle_;
  size_t live_ = 0;
  bool stopped_ = false;
};

}  // namespace ringlb::l7
