#include "common/config_watch.h"

#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string_view>

#include "common/log.h"

namespace ringlb {
namespace {

// The ConfigMap volume's current-version symlink (kubelet's atomic writer).
constexpr std::string_view kConfigMapData = "..data";

constexpr uint32_t kEvents =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_ATTRIB;

}  // namespace

ConfigWatch::ConfigWatch(std::string path) : path_(std::move(path)) {
  std::filesystem::path p = std::filesystem::absolute(path_);
  dir_ = p.parent_path().string();
  name_ = p.filename().string();
}

ConfigWatch::~ConfigWatch() { stop(); }

bool ConfigWatch::start(std::string* error) {
  if (fd_ >= 0) return true;
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    *error = fmt::format("inotify_init1: {}", std::strerror(errno));
    return false;
  }
  if (inotify_add_watch(fd, dir_.c_str(), kEvents) < 0) {
    *error = fmt::format("cannot watch {}: {}", dir_, std::strerror(errno));
    ::close(fd);
    return false;
  }
  fd_ = fd;
  baseline_ = contentHash().value_or(0);
  pending_ = false;
  return true;
}

void ConfigWatch::stop() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  pending_ = false;
}

void ConfigWatch::drain(Clock::time_point now) {
  alignas(inotify_event) char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return;  // EAGAIN: nothing more
    for (ssize_t at = 0; at < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + at);
      std::string_view name = e->len > 0 ? std::string_view(e->name) : std::string_view();
      if ((e->mask & IN_Q_OVERFLOW) != 0 || name == name_ || name == kConfigMapData) {
        pending_ = true;
        lastChange_ = now;
      }
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
}

bool ConfigWatch::poll(Clock::time_point now) {
  if (fd_ < 0) return false;
  drain(now);
  if (!pending_ || now - lastChange_ < kDebounce) return false;
  std::optional<size_t> hash = contentHash();
  if (!hash) return false;  // gone for now (a delete before a create): wait for it
  pending_ = false;
  if (*hash == baseline_) {
    logDebug("{} changed on disk with the same content: no reload", path_);
    return false;
  }
  baseline_ = *hash;
  return true;
}

std::optional<size_t> ConfigWatch::contentHash() const {
  // Through symlinks (a ConfigMap's file is one).
  std::ifstream in(path_, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return std::hash<std::string>{}(text.str());
}

}  // namespace ringlb
