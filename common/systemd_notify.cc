#include "common/systemd_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>

#include <cstdlib>

#include "common/log.h"

namespace ringlb {
namespace {

// systemd >= 253 reads MONOTONIC_USEC with RELOADING=1 (Type=notify-reload)
// to tell this reload from an older one; older versions ignore it.
uint64_t monotonicMicros() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

}  // namespace

SystemdNotifier::SystemdNotifier() { enabled_ = std::getenv("NOTIFY_SOCKET") != nullptr; }

void SystemdNotifier::send(const std::string& state) {
  if (!enabled_) return;
  int rc = sd_notify(0, state.c_str());
  if (rc < 0) logWarn("sd_notify: {} (NOTIFY_SOCKET={})", -rc, std::getenv("NOTIFY_SOCKET"));
}

void SystemdNotifier::ready(std::string_view status) {
  send("READY=1\nSTATUS=" + std::string(status));
}

void SystemdNotifier::reloading(std::string_view status) {
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonicMicros()) +
       "\nSTATUS=" + std::string(status));
}

void SystemdNotifier::stopping(std::string_view status) {
  send("STOPPING=1\nSTATUS=" + std::string(status));
}

void SystemdNotifier::status(std::string_view status) { send("STATUS=" + std::string(status)); }

}  // namespace ringlb
