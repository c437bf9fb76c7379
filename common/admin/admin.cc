#include "common/admin/admin.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>

#include "common/admin/admin_connection.h"
#include "common/admin/admin_history.h"
#include "common/admin/admin_rates.h"
#include "common/admin/admin_snapshot.h"
#include "common/log.h"

namespace ringlb::admin {
namespace {

using Clock = std::chrono::steady_clock;

// Beyond this many open admin connections new ones wait in the backlog.
constexpr size_t kMaxConnections = 256;
// After a failed accept (out of descriptors): the listener, still readable,
// is left out of poll() this long instead of failing again at once.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
// How often request rates and the charts' history are sampled.
constexpr auto kRateTick = std::chrono::seconds(1);

// A listening socket for the admin bind. No SO_REUSEPORT: a second process
// on the same port must fail, not share it.
int openAdminListener(const config::SocketAddress& addr, std::string* error) {
  int fd = ::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = fmt::format("admin: cannot create a socket: {}", std::strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, addr.sa(), addr.length) != 0 || ::listen(fd, 128) != 0) {
    *error = fmt::format("admin: cannot listen on {}: {} (change [admin] bind or free the port)",
                         addr.text, std::strerror(errno));
    ::close(fd);
    return -1;
  }
  return fd;
}

class AdminServer final : public ServerExtension {
 public:
  explicit AdminServer(const SharedServices& shared) : shared_(shared) {}
  ~AdminServer() override { stop(); }

  std::string start(const config::Config& config, std::vector<Worker*> workers) override;
  void reload(const std::shared_ptr<const config::Config>& config) override;
  void stop() override;

 private:
  void threadMain();
  int pollTimeoutMs(Clock::time_point now, Clock::time_point nextTick) const;
  void acceptAll(Clock::time_point now);
  void serveReady(const std::vector<pollfd>& fds, Clock::time_point now);
  void expire(Clock::time_point now);
  AdminReply respond(const http::MessageHead& head);
  AdminSnapshot snapshot();

  const SharedServices& shared_;
  int listenFd_ = -1;
  int wakeFd_ = -1;
  std::thread thread_;
  std::vector<Worker*> workers_;
  std::chrono::system_clock::time_point startTime_;
  std::string bindText_;

  mutable std::mutex configMutex_;  // guards config_ (reload() swaps it)
  std::shared_ptr<const config::Config> config_;

  // Admin thread only.
  AdminConnection::Responder responder_;
  std::list<AdminConnection> connections_;
  Clock::time_point acceptRetryAt_{};  // after a failed accept, not before
  bool acceptFailureLogged_ = false;   // once until an accept succeeds
  AdminRates rates_;
  AdminHistory history_;
};

std::string AdminServer::start(const config::Config& config, std::vector<Worker*> workers) {
  if (!config.admin) return "";
  std::string error;
  listenFd_ = openAdminListener(config.admin->bind, &error);
  if (listenFd_ < 0) return error;
  wakeFd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakeFd_ < 0) {
    ::close(listenFd_);
    listenFd_ = -1;
    return fmt::format("admin: eventfd failed: {}", std::strerror(errno));
  }
  workers_ = std::move(workers);
  startTime_ = std::chrono::system_clock::now();
  bindText_ = config.admin->bind.text;
  config_ = std::make_shared<const config::Config>(config);
  responder_ = [this](const http::MessageHead& head) { return respond(head); };
  thread_ = std::thread([this] { threadMain(); });
  logInfo("admin endpoint on http://{}/ (/status, /status/history, /metrics, /healthz)", bindText_);
  return "";
}

void AdminServer::reload(const std::shared_ptr<const config::Config>& config) {
  if (listenFd_ < 0) {
    if (config->admin) logWarn("[admin] added: the admin endpoint starts at the next restart");
    return;
  }
  if (!config->admin || config->admin->bind.text != bindText_) {
    logWarn("[admin] changed: the admin endpoint keeps {} until the next restart", bindText_);
  }
  std::lock_guard lock(configMutex_);
  config_ = config;
}

void AdminServer::stop() {
  if (thread_.joinable()) {
    uint64_t one = 1;
    ssize_t n = ::write(wakeFd_, &one, sizeof one);
    (void)n;  // an eventfd write only fails on overflow, and then it is readable anyway
    thread_.join();
  }
  connections_.clear();
  if (listenFd_ >= 0) ::close(listenFd_);
  if (wakeFd_ >= 0) ::close(wakeFd_);
  listenFd_ = wakeFd_ = -1;
}

void AdminServer::threadMain() {
  blockServerSignals();
  auto nextTick = Clock::now();
  std::vector<pollfd> fds;
  for (;;) {
    auto now = Clock::now();
    if (now >= nextTick) {
      AdminSnapshot snap = snapshot();
      rates_.sample(snap, now);
      history_.sample(snap, now);
      nextTick = now + kRateTick;
    }
    fds.clear();
    fds.push_back({wakeFd_, POLLIN, 0});
    // At the connection cap, or backing off from a failed accept, the
    // listener is not polled: new clients wait in the backlog.
    bool accepting = connections_.size() < kMaxConnections && now >= acceptRetryAt_;
    fds.push_back({accepting ? listenFd_ : -1, POLLIN, 0});
    for (const auto& c : connections_) fds.push_back({c.fd(), c.events(), 0});
    int n = ::poll(fds.data(), fds.size(), pollTimeoutMs(now, nextTick));
    if (n < 0 && errno != EINTR) {
      logError("admin: poll failed: {}; the admin endpoint stops", std::strerror(errno));
      return;
    }
    if (fds[0].revents != 0) return;  // stop()
    now = Clock::now();
    serveReady(fds, now);
    if (fds[1].revents != 0) acceptAll(now);
    expire(now);
  }
}

int AdminServer::pollTimeoutMs(Clock::time_point now, Clock::time_point nextTick) const {
  auto until = nextTick;
  if (acceptRetryAt_ > now) until = std::min(until, acceptRetryAt_);
  for (const auto& c : connections_) until = std::min(until, c.deadline());
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
  return static_cast<int>(std::clamp<int64_t>(ms + 1, 0, 1000));
}

void AdminServer::acceptAll(Clock::time_point now) {
  while (connections_.size() < kMaxConnections) {
    int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        if (!acceptFailureLogged_) {
          logWarn("admin: accept failed: {}; retried every {} ms", std::strerror(errno),
                  kAcceptBackoff.count());
        }
        acceptFailureLogged_ = true;
        acceptRetryAt_ = now + kAcceptBackoff;
      }
      return;
    }
    acceptFailureLogged_ = false;
    connections_.emplace_back(fd, now, responder_);
  }
}

// fds[2..] are the connections in list order, as built before poll().
void AdminServer::serveReady(const std::vector<pollfd>& fds, Clock::time_point now) {
  size_t i = 2;
  for (auto it = connections_.begin(); it != connections_.end() && i < fds.size(); ++i) {
    if (fds[i].revents != 0 && !it->onReady(fds[i].revents, now)) {
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
}

void AdminServer::expire(Clock::time_point now) {
  connections_.remove_if([now](const AdminConnection& c) { return now >= c.deadline(); });
}

AdminSnapshot AdminServer::snapshot() {
  std::shared_ptr<const config::Config> config;
  {
    std::lock_guard lock(configMutex_);
    config = config_;
  }
  return collectAdminSnapshot(shared_, *config, workers_, startTime_);
}

AdminReply AdminServer::respond(const http::MessageHead& head) {
  return answerAdminRequest(
      head,
      [this] {
        AdminSnapshot snap = snapshot();
        rates_.fill(snap);
        return snap;
      },
      [this](std::string_view host, std::string_view prefix) {
        size_t purged = shared_.caches.purge(host, prefix);
        logInfo("admin: cache purge host={} path_prefix={}: {} responses dropped",
                host.empty() ? "*" : host, prefix.empty() ? "/" : prefix, purged);
        return purged;
      },
      [this] { return renderHistoryJson(history_); });
}

}  // namespace

std::unique_ptr<ServerExtension> makeAdminServer(const SharedServices& shared) {
  return std::make_unique<AdminServer>(shared);
}

}  // namespace ringlb::admin
