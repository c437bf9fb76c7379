// The access log (`global.access_log`): one JSON object per line per request.
//
//   formatAccessLine()  record -> JSON line (pure, any thread)
//   AccessLog           per-producer lock-free byte rings drained by one
//                       writer thread; a full ring drops the line and counts
//                       it, so a slow disk never blocks a worker
//   makeAccessLogExtension()  opens the destination at start, re-opens it on
//                       every reload (SIGHUP: log rotation), stops at exit
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ringlb {

class ServerExtension;

// What one request line says. Views must outlive formatAccessLine() only.
struct AccessRecord {
  std::chrono::system_clock::time_point time;
  std::string_view client;  // "ip:port"
  std::string_view listener;
  std::string_view route;    // "routes[N]" or "-" (the listener's pool)
  std::string_view pool;     // "-" when none was chosen
  std::string_view backend;  // "ip:port" or "-"
  std::string_view method;
  std::string_view path;
  uint16_t status = 0;
  uint64_t bytesIn = 0;   // request head and body bytes from the client
  uint64_t bytesOut = 0;  // response bytes sent to the client
  std::chrono::microseconds duration{0};
  std::optional<std::chrono::microseconds> upstreamConnect;
  std::optional<std::chrono::microseconds> upstreamResponse;
  std::string_view requestId;  // "-" when none
};

// Appends `s` as a JSON string body (no quotes): quote, backslash and control
// bytes escaped, invalid UTF-8 replaced by U+FFFD, so any input gives valid JSON.
void appendJsonEscaped(std::string& out, std::string_view s);
// Appends one JSON object and a newline. Any thread.
void formatAccessLine(const AccessRecord& r, std::string& out);

class AccessLog {
 public:
  static constexpr size_t kDefaultRingBytes = size_t{1} << 20;

  explicit AccessLog(size_t ringBytes = kDefaultRingBytes);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // The process's log, used by the http workers. Lives until exit, so a
  // worker may call append() at any time.
  static AccessLog& global();

  // Main thread. Opens `destination` (off | stdout | stderr | path, append
  // mode) and hands it to the writer, which it starts on first use; the old
  // file is closed once the writer switched. Sizes the rings for `producers`
  // on the first call (later calls never move them). "" or why it failed.
  std::string open(const std::string& destination, unsigned producers);
  // Main thread: writes what is buffered, stops the writer, closes the file.
  void shutdown();

  // Producer `index` only (one thread per index). Cheap when disabled.
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  // Copies the line into the producer's ring, or drops it when the ring is full.
  void append(unsigned index, std::string_view line);

  // Any thread.
  uint64_t dropped() const;
  // Test hook, any thread: blocks until every line appended before it was written.
  void flush();

 private:
  struct Ring;

  void writerLoop();
  bool drainAll();  // writer thread; true if it wrote anything
  void warnDrops(std::chrono::steady_clock::time_point now);

  size_t ringBytes_;
  std::vector<std::unique_ptr<Ring>> rings_;  // sized once, never moved
  std::atomic<bool> enabled_{false};

  std::mutex mutex_;  // guards the fields below (main thread <-> writer)
  std::condition_variable cv_;
  int pendingFd_ = -1;
  bool fdPending_ = false;
  uint64_t fdRequested_ = 0;  // open() calls
  uint64_t fdApplied_ = 0;    // of which the writer switched to
  bool stop_ = false;
  uint64_t flushRequested_ = 0;
  uint64_t flushDone_ = 0;

  std::thread writer_;
  int fd_ = -1;  // writer thread (before start: main thread)
  uint64_t droppedWarned_ = 0;
  std::chrono::steady_clock::time_point lastWarn_{};
};

// The ServerExtension that drives AccessLog::global() from the config.
std::unique_ptr<ServerExtension> makeAccessLogExtension();

}  // namespace ringlb
