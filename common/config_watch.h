// ConfigWatch: `global.watch_config`: notices that the config file changed
// and says when to reload it, as SIGHUP would. It watches the file's
// directory with inotify, not the file, so that every way of changing it is
// seen: a write in place (IN_CLOSE_WRITE), an editor's rename over it
// (IN_MOVED_TO), a delete and create, and a Kubernetes ConfigMap update
// (the kubelet swaps the directory's `..data` symlink; the file is a link
// through it). Changes are debounced: the reload comes once nothing changed
// for kDebounce, so a burst of writes is one reload, and a file whose
// content is unchanged (a resync that rewrote it) is not reloaded.
//
// Main thread only (the server's signal loop polls it).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace ringlb {

class ConfigWatch {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kDebounce = std::chrono::milliseconds(300);

  // `path`: the config file as given on the command line.
  explicit ConfigWatch(std::string path);
  ~ConfigWatch();
  ConfigWatch(const ConfigWatch&) = delete;
  ConfigWatch& operator=(const ConfigWatch&) = delete;

  // Starts watching (the file's content now is the baseline); false with
  // `error` when inotify cannot watch the directory.
  bool start(std::string* error);
  void stop();
  bool active() const { return fd_ >= 0; }

  // Reads what inotify has (never blocks). True once the file changed and
  // stayed quiet for kDebounce, and its content differs from the baseline,
  // which then becomes the new one.
  bool poll(Clock::time_point now);

 private:
  void drain(Clock::time_point now);
  // Nullopt while the file cannot be read.
  std::optional<size_t> contentHash() const;

  std::string path_;
  std::string dir_;
  std::string name_;
  int fd_ = -1;
  size_t baseline_ = 0;
  bool pending_ = false;
  Clock::time_point lastChange_{};
};

}  // namespace ringlb
