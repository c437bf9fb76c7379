// SystemdNotifier: tells systemd where the service stands, for units with
// Type=notify (deploy/systemd/ringlb.service): READY=1 once the listeners
// accept, RELOADING=1 while a reload runs (READY=1 again after it, whatever
// its outcome), STOPPING=1 when a drain starts, and STATUS= lines an
// operator sees in `systemctl status` (connections open, the last reload).
//
// Outside systemd ($NOTIFY_SOCKET unset) every call does nothing.
//
// Main thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringlb {

class SystemdNotifier {
 public:
  SystemdNotifier();

  bool enabled() const { return enabled_; }
  void ready(std::string_view status);
  void reloading(std::string_view status);
  void stopping(std::string_view status);
  void status(std::string_view status);

 private:
  void send(const std::string& state);

  bool enabled_ = false;
};

}  // namespace ringlb
