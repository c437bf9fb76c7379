#include "health/probe_tcp.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cassert>
#include <cstring>

#include "common/socket.h"

namespace ringlb::health {

Probe::Probe(Ring& ring, TimerWheel& timers, ProbeObserver& observer, std::string pool,
             std::string address)
    : ring_(ring),
      timers_(timers),
      observer_(observer),
      pool_(std::move(pool)),
      address_(std::move(address)) {}

Probe::~Probe() { assert(idle() && "Probe destroyed while a check or an op is still in flight"); }

void Probe::start(const config::SocketAddress& target, Duration timeout, TimePoint now) {
  assert(idle());
  running_ = true;
  connected_ = false;
  timeout_ = timeout;
  int fd = openTcpSocket(target.family());
  if (fd < 0 && isLocalResourceError(-fd)) {
    running_ = false;  // nothing started: no timer, no op, no socket
    observer_.onProbeSkipped(*this, fmt::format("socket: {}", std::strerror(-fd)));
    return;
  }
  if (fd < 0) {
    finish(false, fmt::format("socket: {}", std::strerror(-fd)));
    return;
  }
  fd_ = fd;
  target_ = target;
  ring_.connect(connectOp_, fd_, target_.sa(), target_.length);
  timers_.schedule(timer_, now + timeout);
}

void Probe::cancel() { end(/*notify=*/false, false, {}); }

void Probe::finish(bool ok, std::string_view detail) { end(/*notify=*/true, ok, detail); }

void Probe::end(bool notify, bool ok, std::string_view detail) {
  if (!running_) return;
  running_ = false;
  timers_.cancel(timer_);
  // The socket closes once the cancelled ops have completed (closeIfIdle).
  if (fd_ >= 0 && opsInFlight() > 0) ring_.cancelFd(cancelOp_, fd_);
  if (notify) observer_.onProbeResult(*this, ok, detail);
  closeIfIdle();
}

void Probe::closeIfIdle() {
  if (running_ || opsInFlight() != 0 || fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
}

void Probe::onCompletion(Op& op) {
  if (running_) {
    if (&op == &connectOp_) {
      if (op.result < 0) {
        finish(false, fmt::format("connect: {}", std::strerror(-op.result)));
      } else {
        connected_ = true;
        onConnected();
      }
    } else if (&op != &cancelOp_) {
      onTransfer(op);
    }
  }
  closeIfIdle();
}

void Probe::onTimer(Timer& /*timer*/) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout_).count();
  finish(false, fmt::format("timed out after {}ms {}", ms,
                            connected_ ? phaseAfterConnect() : "connecting"));
}

}  // namespace ringlb::health
