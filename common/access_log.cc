#include "common/access_log.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "common/log.h"
#include "common/server.h"
#include "common/socket.h"

namespace ringlb {
namespace {

// How long the writer sleeps when every ring was empty: the latency of a line.
constexpr auto kWriterPoll = std::chrono::milliseconds(20);
constexpr auto kWarnInterval = std::chrono::seconds(1);

// Length of the well-formed UTF-8 sequence at s[0], or 0 (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF).
size_t utf8Length(std::string_view s) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;   // overlong
    if (c == 0xF4 && b(1) >= 0x90) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

void appendField(std::string& out, std::string_view key, std::string_view value) {
  out += ",\"";
  out += key;
  out += "\":\"";
  appendJsonEscaped(out, value.empty() ? "-" : value);
  out += '"';
}

// Milliseconds with microsecond precision: "12.345".
void appendMs(std::string& out, std::string_view key, std::chrono::microseconds d) {
  int64_t us = d.count() < 0 ? 0 : d.count();
  fmt::format_to(std::back_inserter(out), ",\"{}\":{}.{:03}", key, us / 1000, us % 1000);
}

void appendTime(std::string& out, std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  fmt::format_to(std::back_inserter(out), "\"time\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\"",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ms % 1000);
}

bool ownedFd(int fd) { return fd > STDERR_FILENO; }

}  // namespace

void appendJsonEscaped(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8Length(s.substr(i));
      if (n == 0) {
        out += "\\ufffd";  // not UTF-8: JSON strings cannot hold raw bytes
        ++i;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xf];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
}

std::string_view accessModeName(AccessMode mode) {
  switch (mode) {
    case AccessMode::Http: return "http";
    case AccessMode::Tcp: return "tcp";
    case AccessMode::Udp: return "udp";
    case AccessMode::Forward: return "forward";
  }
  return "-";
}

std::string_view accessEndName(AccessEnd end) {
  switch (end) {
    case AccessEnd::None: return "-";
    case AccessEnd::Closed: return "closed";
    case AccessEnd::ClientClosed: return "client_closed";
    case AccessEnd::ClientReset: return "client_reset";
    case AccessEnd::ClientError: return "client_error";
    case AccessEnd::BackendReset: return "backend_reset";
    case AccessEnd::BackendError: return "backend_error";
    case AccessEnd::BackendUnreachable: return "backend_unreachable";
    case AccessEnd::NoBackend: return "no_backend";
    case AccessEnd::ConnectFailed: return "connect_failed";
    case AccessEnd::ConnectTimeout: return "connect_timeout";
    case AccessEnd::IdleTimeout: return "idle_timeout";
    case AccessEnd::Evicted: return "evicted";
    case AccessEnd::Drained: return "drained";
    case AccessEnd::DrainAborted: return "drain_aborted";
    case AccessEnd::BadProxyHeader: return "bad_proxy_header";
    case AccessEnd::ProxyHeaderTimeout: return "proxy_header_timeout";
    case AccessEnd::BadRequest: return "bad_request";
    case AccessEnd::HeaderTimeout: return "header_timeout";
    case AccessEnd::Denied: return "denied";
    case AccessEnd::ResolveFailed: return "resolve_failed";
    case AccessEnd::ResolveTimeout: return "resolve_timeout";
    case AccessEnd::ResponseTimeout: return "response_timeout";
    case AccessEnd::BadResponse: return "bad_response";
    case AccessEnd::BodyTooLarge: return "body_too_large";
    case AccessEnd::NoSocket: return "no_socket";
  }
  return "-";
}

AccessEnd accessEndForError(int err, bool clientSide) {
  if (isResetError(err)) return clientSide ? AccessEnd::ClientReset : AccessEnd::BackendReset;
  return clientSide ? AccessEnd::ClientError : AccessEnd::BackendError;
}

namespace {

void appendBytes(std::string& out, const AccessRecord& r) {
  fmt::format_to(std::back_inserter(out), ",\"bytes_in\":{},\"bytes_out\":{}", r.bytesIn,
                 r.bytesOut);
}

void appendHttpFields(std::string& out, const AccessRecord& r) {
  appendField(out, "route", r.route);
  appendField(out, "pool", r.pool);
  appendField(out, "backend", r.backend);
  appendField(out, "method", r.method);
  appendField(out, "path", r.path);
  if (!r.protocol.empty()) appendField(out, "proto", r.protocol);
  fmt::format_to(std::back_inserter(out), ",\"status\":{}", r.status);
  appendBytes(out, r);
  appendMs(out, "duration_ms", r.duration);
  if (r.upstreamConnect) appendMs(out, "upstream_connect_ms", *r.upstreamConnect);
  if (r.upstreamResponse) appendMs(out, "upstream_response_ms", *r.upstreamResponse);
  appendField(out, "request_id", r.requestId);
  if (!r.error.empty()) appendField(out, "error", r.error);
  if (!r.user.empty()) appendField(out, "user", r.user);
  if (!r.authFailure.empty()) appendField(out, "auth_failure", r.authFailure);
  if (!r.rateLimit.empty()) appendField(out, "rate_limit", r.rateLimit);
  if (!r.cache.empty()) appendField(out, "cache", r.cache);
}

void appendTcpFields(std::string& out, const AccessRecord& r) {
  appendField(out, "pool", r.pool);
  appendField(out, "backend", r.backend);
  appendBytes(out, r);
  appendMs(out, "duration_ms", r.duration);
  if (r.upstreamConnect) appendMs(out, "upstream_connect_ms", *r.upstreamConnect);
}

void appendUdpFields(std::string& out, const AccessRecord& r) {
  appendField(out, "pool", r.pool);
  appendField(out, "backend", r.backend);
  fmt::format_to(std::back_inserter(out), ",\"datagrams_in\":{},\"datagrams_out\":{}",
                 r.datagramsIn, r.datagramsOut);
  appendBytes(out, r);
  appendMs(out, "duration_ms", r.duration);
}

void appendForwardFields(std::string& out, const AccessRecord& r) {
  appendField(out, "method", r.method);
  appendField(out, "destination", r.destination);
  appendField(out, "path", r.path);
  appendField(out, "backend", r.backend);
  fmt::format_to(std::back_inserter(out), ",\"status\":{}", r.status);
  appendBytes(out, r);
  appendMs(out, "duration_ms", r.duration);
  if (!r.acl.empty()) appendField(out, "acl", r.acl);
  if (!r.verdict.empty()) appendField(out, "verdict", r.verdict);
  if (!r.user.empty()) appendField(out, "user", r.user);
  if (!r.authFailure.empty()) appendField(out, "auth_failure", r.authFailure);
}

}  // namespace

void formatAccessLine(const AccessRecord& r, std::string& out) {
  out += '{';
  appendTime(out, r.time);
  appendField(out, "client", r.client);
  appendField(out, "listener", r.listener);
  appendField(out, "mode", accessModeName(r.mode));
  switch (r.mode) {
    case AccessMode::Http: appendHttpFields(out, r); break;
    case AccessMode::Tcp: appendTcpFields(out, r); break;
    case AccessMode::Udp: appendUdpFields(out, r); break;
    case AccessMode::Forward: appendForwardFields(out, r); break;
  }
  if (r.mode != AccessMode::Http) appendField(out, "end", accessEndName(r.end));
  out += "}\n";
}

// ---------------------------------------------------------------- AccessLog

// A single-producer single-consumer byte ring. Lines are published whole, so
// the writer always sees complete lines between tail and head.
struct AccessLog::Ring {
  explicit Ring(size_t bytes) : data(new char[bytes]), size(bytes) {}
  std::unique_ptr<char[]> data;
  size_t size;
  alignas(64) std::atomic<uint64_t> head{0};  // written by the producer
  alignas(64) std::atomic<uint64_t> tail{0};  // written by the writer
  alignas(64) std::atomic<uint64_t> dropped{0};
};

AccessLog::AccessLog(size_t ringBytes) : ringBytes_(ringBytes) {}

AccessLog::~AccessLog() { shutdown(); }

std::string AccessLog::open(const std::string& destination, unsigned producers) {
  int fd = -1;
  if (destination == "stdout") {
    fd = STDOUT_FILENO;
  } else if (destination == "stderr") {
    fd = STDERR_FILENO;
  } else if (destination != "off") {
    fd = ::open(destination.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return fmt::format("cannot open {}: {}", destination, std::strerror(errno));
  }
  if (rings_.empty()) {
    for (unsigned i = 0; i < producers; ++i) rings_.push_back(std::make_unique<Ring>(ringBytes_));
  }
  uint64_t generation = 0;
  {
    std::lock_guard lock(mutex_);
    if (fdPending_ && ownedFd(pendingFd_)) ::close(pendingFd_);
    pendingFd_ = fd;
    fdPending_ = true;
    stop_ = false;
    generation = ++fdRequested_;
  }
  if (fd >= 0 && !writer_.joinable()) writer_ = std::thread([this] { writerLoop(); });
  if (writer_.joinable()) {
    // Wait for the switch, so that every line appended after open() returns
    // goes to the new destination (a rotated file gets nothing more).
    std::unique_lock lock(mutex_);
    cv_.notify_all();
    cv_.wait(lock, [&] { return fdApplied_ >= generation; });
  }
  // Release: a producer that sees `enabled` also sees the rings.
  enabled_.store(fd >= 0 && writer_.joinable(), std::memory_order_release);
  return "";
}

void AccessLog::shutdown() {
  enabled_.store(false, std::memory_order_relaxed);
  if (writer_.joinable()) {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    writer_.join();
  }
  if (ownedFd(fd_)) ::close(fd_);
  fd_ = -1;
  std::lock_guard lock(mutex_);
  if (fdPending_ && ownedFd(pendingFd_)) ::close(pendingFd_);
  fdPending_ = false;
}

void AccessLog::append(unsigned index, std::string_view line) {
  if (!enabled_.load(std::memory_order_acquire) || index >= rings_.size()) return;
  Ring& r = *rings_[index];
  uint64_t head = r.head.load(std::memory_order_relaxed);
  uint64_t tail = r.tail.load(std::memory_order_acquire);
  if (line.size() > r.size - (head - tail)) {
    r.dropped.store(r.dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return;  // the writer is behind: never wait for it
  }
  size_t at = head % r.size;
  size_t first = std::min(line.size(), r.size - at);
  std::memcpy(r.data.get() + at, line.data(), first);
  std::memcpy(r.data.get(), line.data() + first, line.size() - first);
  r.head.store(head + line.size(), std::memory_order_release);
}

void AccessLog::append(unsigned index, const AccessRecord& r, std::string& scratch) {
  if (!enabled()) return;
  scratch.clear();
  formatAccessLine(r, scratch);
  append(index, scratch);
}

uint64_t AccessLog::dropped() const {
  uint64_t n = 0;
  for (const auto& r : rings_) n += r->dropped.load(std::memory_order_relaxed);
  return n;
}

void AccessLog::flush() {
  std::unique_lock lock(mutex_);
  if (!writer_.joinable()) return;
  uint64_t mine = ++flushRequested_;
  cv_.notify_all();
  cv_.wait(lock, [&] { return flushDone_ >= mine || stop_; });
}

void AccessLog::writerLoop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    uint64_t flushTarget = flushRequested_;
    bool stopping = stop_;
    bool swap = fdPending_;
    int next = pendingFd_;
    uint64_t generation = fdRequested_;
    fdPending_ = false;
    lock.unlock();
    bool wrote = drainAll();  // lines queued before the switch go to the old file
    if (swap) {
      if (ownedFd(fd_) && fd_ != next) ::close(fd_);
      fd_ = next;
    }
    warnDrops(std::chrono::steady_clock::now());
    lock.lock();
    flushDone_ = flushTarget;
    if (swap) fdApplied_ = generation;
    cv_.notify_all();
    if (stopping) return;
    if (!wrote && !stop_ && !fdPending_ && flushRequested_ == flushTarget) {
      cv_.wait_for(lock, kWriterPoll);
    }
  }
}

bool AccessLog::drainAll() {
  bool wrote = false;
  for (auto& ring : rings_) {
    Ring& r = *ring;
    uint64_t tail = r.tail.load(std::memory_order_relaxed);
    uint64_t head = r.head.load(std::memory_order_acquire);
    if (head == tail) continue;
    size_t len = head - tail;
    size_t at = tail % r.size;
    size_t first = std::min(len, r.size - at);
    iovec iov[2] = {{r.data.get() + at, first}, {r.data.get(), len - first}};
    int count = len > first ? 2 : 1;
    // Whole ring contents at once: lines of two workers never interleave.
    while (fd_ >= 0 && count > 0) {
      ssize_t n = ::writev(fd_, iov, count);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // disk full, closed pipe: these lines are lost
      auto done = static_cast<size_t>(n);
      while (count > 0 && done >= iov[0].iov_len) {
        done -= iov[0].iov_len;
        iov[0] = iov[1];
        --count;
      }
      if (count > 0) {
        iov[0].iov_base = static_cast<char*>(iov[0].iov_base) + done;
        iov[0].iov_len -= done;
      }
    }
    r.tail.store(head, std::memory_order_release);
    wrote = true;
  }
  return wrote;
}

void AccessLog::warnDrops(std::chrono::steady_clock::time_point now) {
  if (now - lastWarn_ < kWarnInterval) return;
  uint64_t total = dropped();
  if (total == droppedWarned_) return;
  logWarn("access log: {} lines dropped, the writer fell behind ({} in total)",
          total - droppedWarned_, total);
  droppedWarned_ = total;
  lastWarn_ = now;
}

// ---------------------------------------------------------------- extension

namespace {

class AccessLogExtension final : public ServerExtension {
 public:
  explicit AccessLogExtension(AccessLog& log) : log_(log) {}

  std::string start(const config::Config& config, std::vector<Worker*> workers) override {
    std::string error = log_.open(config.global.accessLog, static_cast<unsigned>(workers.size()));
    return error.empty() ? "" : "access log: " + error;
  }

  // SIGHUP re-opens the file even when its name is unchanged: log rotation.
  void reload(const std::shared_ptr<const config::Config>& config) override {
    std::string error = log_.open(config->global.accessLog, 0);
    if (!error.empty()) logWarn("access log: {}; the old destination stays", error);
  }

  void stop() override { log_.shutdown(); }

 private:
  AccessLog& log_;
};

}  // namespace

std::unique_ptr<ServerExtension> makeAccessLogExtension(AccessLog& log) {
  return std::make_unique<AccessLogExtension>(log);
}

}  // namespace ringlb
