// The access log (`global.access_log`): one JSON object per line: per http
// request, per tcp and udp session, per forward request or CONNECT tunnel.
//
//   formatAccessLine()  record -> JSON line (pure, any thread); the keys
//                       depend on the record's mode (docs/observability.md)
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

// The listener mode that wrote a line: its `mode` key.
enum class AccessMode : uint8_t { Http, Tcp, Udp, Forward };

// How a tcp/udp session or a forward request ended: the `end` key of those
// lines (http lines have none). The first cause wins: a session that timed
// out and was then reset ended by the timeout.
enum class AccessEnd : uint8_t {
  None,                // not set ("-")
  Closed,              // both sides finished normally (an http exchange: the response)
  ClientClosed,        // forward: the client left before a complete request head
  ClientReset,         // the client reset the connection (or it died)
  ClientError,         // another socket error on the client side
  BackendReset,        // the backend (origin, tunnel end) reset the connection
  BackendError,        // another socket error on the backend side
  BackendUnreachable,  // udp: ICMP unreachable from the backend
  NoBackend,           // no backend available in the pool (or the pool is gone)
  ConnectFailed,       // the last connect was refused or failed
  ConnectTimeout,      // the last connect did not finish within connect_timeout
  IdleTimeout,         // nothing moved either way for idle_timeout
  Evicted,             // udp: the session table was full; the oldest flow made room
  Drained,             // udp: the listener stopped (drain, or removed by a reload)
  DrainAborted,        // still open when drain_timeout passed
  BadProxyHeader,      // tcp: malformed or missing PROXY protocol header
  ProxyHeaderTimeout,  // tcp: no complete PROXY header in time
  BadRequest,          // forward: malformed request or target (400, 414, 431)
  HeaderTimeout,       // forward: no complete request head within header_timeout (408)
  Denied,              // forward: refused by the ACL (403)
  ResolveFailed,       // forward: the destination's name did not resolve (502)
  ResolveTimeout,      // forward: resolving took longer than the connect window (504)
  ResponseTimeout,     // forward: no response head within response_timeout (504)
  BadResponse,         // forward: no valid response head from the origin (502)
  BodyTooLarge,        // forward: the request body is over max_body_size (413)
  NoSocket,            // no socket for the backend: out of descriptors or memory here
};

std::string_view accessModeName(AccessMode mode);
// The `end` value ("closed", "client_reset", ...); "-" for None.
std::string_view accessEndName(AccessEnd end);
// A socket error `err` (positive errno) on the client side or the backend
// side as an end reason: *_reset for a reset (isResetError), else *_error.
AccessEnd accessEndForError(int err, bool clientSide);

// What one line says. Views must outlive formatAccessLine() only. Which
// fields a mode writes: see formatAccessLine() and docs/observability.md.
struct AccessRecord {
  AccessMode mode = AccessMode::Http;
  std::chrono::system_clock::time_point time;
  std::string_view client;  // "ip:port"
  std::string_view listener;
  std::string_view route;    // "routes[N]" or "-" (the listener's pool)
  std::string_view pool;     // "-" when none was chosen
  std::string_view backend;  // "ip:port" or "-"
  std::string_view method;
  std::string_view path;
  std::string_view protocol;  // http: "HTTP/1.1", "HTTP/1.0" or "HTTP/2"; empty: not written
  uint16_t status = 0;
  uint64_t bytesIn = 0;   // bytes from the client (http: request head and body)
  uint64_t bytesOut = 0;  // bytes sent to the client (http: the response)
  std::chrono::microseconds duration{0};
  std::optional<std::chrono::microseconds> upstreamConnect;
  std::optional<std::chrono::microseconds> upstreamResponse;
  std::string_view requestId;  // "-" when none
  std::string_view error;      // http: the failure's name (docs/errors.md); "" when none
  // http routes with auth: who the request authenticated as, or why it was
  // refused; with rate_limit: "ok" or "limited". Empty: not written.
  std::string_view user;
  std::string_view authFailure;
  std::string_view rateLimit;
  // http routes with cache: hit, miss, stale, revalidated or bypass.
  std::string_view cache;
  // tcp, udp, forward.
  AccessEnd end = AccessEnd::None;
  // udp: datagrams from the client (forwarded) and sent to the client.
  uint64_t datagramsIn = 0;
  uint64_t datagramsOut = 0;
  // forward: "host:port" as the client named it, and the ACL's verdict
  // ("" when none was taken: no `acl` key).
  std::string_view destination;
  std::string_view acl;
  // forward: "allowed", "denied" (the ACL) or "login_required" (users_file);
  // "" when the request never got that far (a bad head).
  std::string_view verdict;
};

// Appends `s` as a JSON string body (no quotes): quote, backslash and control
// bytes escaped, invalid UTF-8 replaced by U+FFFD, so any input gives valid JSON.
void appendJsonEscaped(std::string& out, std::string_view s);
// Appends one JSON object and a newline. Any thread.
//   every mode: time, client, listener, mode
//   http:    route, pool, backend, method, path, status, bytes_in, bytes_out,
//            duration_ms, [upstream_connect_ms], [upstream_response_ms], request_id
//   tcp:     pool, backend, bytes_in, bytes_out, duration_ms, [upstream_connect_ms], end
//   udp:     pool, backend, datagrams_in, datagrams_out, bytes_in, bytes_out,
//            duration_ms, end
//   forward: method, destination, path, backend, status, bytes_in, bytes_out,
//            duration_ms, [acl], end
void formatAccessLine(const AccessRecord& r, std::string& out);

class AccessLog {
 public:
  static constexpr size_t kDefaultRingBytes = size_t{1} << 20;

  explicit AccessLog(size_t ringBytes = kDefaultRingBytes);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

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
  // Formats `r` into `scratch` (cleared first; a warm scratch string keeps its
  // capacity, so this does not allocate) and appends it.
  void append(unsigned index, const AccessRecord& r, std::string& scratch);

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

// The ServerExtension that drives `log` from the config.
std::unique_ptr<ServerExtension> makeAccessLogExtension(AccessLog& log);

}  // namespace ringlb
