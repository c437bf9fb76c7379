// A tiny HTTP/1.1 server for `ringlb demo` and for tests: answers every
// request with "hello from NAME" (and GET /healthz with "ok"), keep-alive.
// It runs on its own thread with poll(2): it stands in for an application
// server, it is not part of the proxy's data path.
#pragma once

#include <atomic>
#include <string>
#include <thread>

namespace ringlb::demo {

class DemoBackend {
 public:
  explicit DemoBackend(std::string name);
  ~DemoBackend();
  DemoBackend(const DemoBackend&) = delete;
  DemoBackend& operator=(const DemoBackend&) = delete;

  // Listens on 127.0.0.1:port (0 = any free port). Returns "" or the reason.
  std::string start(uint16_t port);
  void stop();
  uint16_t port() const { return port_; }
  uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }

 private:
  void serve();

  std::string name_;
  int listenFd_ = -1;
  int stopPipe_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<uint64_t> requests_{0};
};

}  // namespace ringlb::demo
