// Server: the main thread. Loads the config, opens the listening sockets,
// starts the workers, then waits for signals:
//   SIGHUP          reload (a bad file is refused and the old config keeps serving);
//                   with global.watch_config, a change of the file does the same
//                   (ConfigWatch)
//   SIGTERM/SIGINT  stop accepting, drain up to global.drain_timeout, exit 0;
//                   a second signal aborts what is left at once.
//
// Main thread only.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/discovery/discovered_backends.h"
#include "common/shared_services.h"
#include "common/systemd_notify.h"
#include "common/worker.h"
#include "config/model.h"

namespace ringlb {

class ConfigWatch;
namespace discovery {
class PoolDiscovery;
}

// Hooks for the parts that live outside common/ (health thread, admin).
class ServerExtension {
 public:
  virtual ~ServerExtension() = default;
  // After the workers started; returns "" or why the server cannot start.
  virtual std::string start(const config::Config& config, std::vector<Worker*> workers) = 0;
  // A new config was accepted and posted to the workers.
  virtual void reload(const std::shared_ptr<const config::Config>& config) = 0;
  virtual void stop() = 0;
};

class Server {
 public:
  explicit Server(ServiceFactories factories);
  ~Server();

  void addExtension(std::unique_ptr<ServerExtension> extension);
  // What the workers and extensions share (make extensions with it).
  SharedServices& shared() { return shared_; }
  // Loads `path` and serves until stopped. Returns the process exit code.
  int run(const std::string& path);
  // Serves an already validated config (used by `ringlb demo`).
  int serve(config::Config config);

 private:
  struct OpenListener {
    config::ListenerConfig config;
    std::vector<int> fds;  // one per worker
  };

  bool openListener(const config::ListenerConfig& listener, OpenListener* out, std::string* error);
  // Starts the workers with the config and opens the listening sockets into
  // `listeners` (nothing is accepted yet).
  bool startWorkers(const config::Config& config, std::vector<OpenListener>* listeners,
                    std::string* error);
  // Hands each worker its listening sockets: accepting starts. After the
  // extensions, so that the first connection already has an access log.
  void startAccepting(std::vector<OpenListener> listeners);
  // False (with the listener named) when a listener's mode has no factory.
  bool modesSupported(const config::Config& config, std::string* error) const;
  void waitForSignals();
  // Loads the file again and applies it; false when it was refused (the
  // running config stays). `why` starts its log line.
  bool reload(std::string_view why);
  // reload() told to systemd (RELOADING, then READY with the outcome).
  void notifiedReload(std::string_view why);
  // Applies `next` (listeners opened and closed, workers and extensions told);
  // `fromFile` false for a set found by DNS discovery (not counted as a reload).
  bool applyReload(std::shared_ptr<const config::Config> next, bool fromFile = true);
  // Starts, re-targets or ends DNS discovery as `config`'s pools say; at
  // start (`waitFirst`), waits a few seconds for the first answers and fills
  // `config` with them.
  void followDiscovery(config::Config& config, bool waitFirst);
  // Applies the sets DNS discovery found since the last call, like a reload.
  void applyDiscovered();
  // Starts or stops watching the file as global.watch_config says.
  void followWatchConfig();
  // "N listeners, M connections open" (systemd's STATUS).
  std::string statusLine() const;
  void stopWorkers(bool abort);

  ServiceFactories factories_;
  SharedServices shared_;  // before the workers and extensions: outlives them
  std::vector<std::unique_ptr<ServerExtension>> extensions_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::shared_ptr<const config::Config> config_;
  std::string path_;
  SystemdNotifier notifier_;
  std::unique_ptr<ConfigWatch> watch_;                           // global.watch_config
  std::unique_ptr<discovery::PoolDiscovery> discovery_;          // pools with `discover`
  std::map<std::string, discovery::DiscoveredPool> discovered_;  // their last good sets
};

// Blocks SIGHUP, SIGTERM, SIGINT and SIGPIPE in the calling thread (and the
// threads it starts), so that only the main thread's sigwait sees them.
void blockServerSignals();
// Raises the soft RLIMIT_NOFILE to the hard limit.
void raiseFileLimit();

}  // namespace ringlb
