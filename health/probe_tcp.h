// Active probes on the health thread's ring.
//
// Probe is the part every check shares: a fresh socket per check (never a
// data-path pooled connection), a connect, one timeout for the whole check,
// and a clean end: the result is reported once, then in-flight ops are
// cancelled and the socket is closed after their last CQE. TcpProbe passes
// as soon as the connect does; HttpProbe (probe_http.h) goes on to send a
// request and read the status line.
//
// Thread rules: health thread only. A Probe must outlive its in-flight ops:
// destroy it only when idle(). The ring, wheel and observer outlive it.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/op.h"
#include "common/ring.h"
#include "common/timer_wheel.h"
#include "config/model.h"

namespace ringlb::health {

class Probe;

class ProbeObserver {
 public:
  virtual ~ProbeObserver() = default;
  // Once per started check, unless cancel() came first. `detail` says why a
  // check failed ("connect: Connection refused", "timed out after 150ms
  // waiting for the response", "status 503"). The observer may start other
  // probes but must not destroy this one.
  virtual void onProbeResult(Probe& probe, bool ok, std::string_view detail) = 0;
  // Instead of a result: the check could not start because this host has no
  // socket to spare (out of descriptors or memory). That says nothing about
  // the backend, whose state must stay as it is. The probe is idle again.
  virtual void onProbeSkipped(Probe& probe, std::string_view detail) = 0;
};

class Probe : public OpOwner, public TimerHandler {
 public:
  using Duration = std::chrono::steady_clock::duration;
  using TimePoint = std::chrono::steady_clock::time_point;

  // `pool` and `address` name the backend (its identity) for the observer.
  Probe(Ring& ring, TimerWheel& timers, ProbeObserver& observer, std::string pool,
        std::string address);
  ~Probe() override;

  // Starts one check of `target`, to finish within `timeout`. Requires idle().
  void start(const config::SocketAddress& target, Duration timeout, TimePoint now);
  // Ends a running check without reporting it; ops complete later.
  void cancel();
  // No check running, no op in flight, no socket: may start or be destroyed.
  bool idle() const { return !running_ && opsInFlight() == 0 && fd_ < 0; }
  bool running() const { return running_; }

  const std::string& pool() const { return pool_; }
  const std::string& address() const { return address_; }

  void onCompletion(Op& op) final;
  void onTimer(Timer& timer) final;

 protected:
  // The connect succeeded: pass, or go on with more I/O.
  virtual void onConnected() = 0;
  // A completion of an op the subclass started (only while running()).
  virtual void onTransfer(Op& op) { (void)op; }
  // What the check was doing when it timed out after connecting.
  virtual const char* phaseAfterConnect() const { return "after connecting"; }

  // Reports the result (once) and starts the clean-up.
  void finish(bool ok, std::string_view detail);
  Ring& ring() { return ring_; }
  int fd() const { return fd_; }

 private:
  void end(bool notify, bool ok, std::string_view detail);
  void closeIfIdle();

  Ring& ring_;
  TimerWheel& timers_;
  ProbeObserver& observer_;
  std::string pool_;
  std::string address_;
  Timer timer_{*this};
  Op connectOp_{this, OpKind::Connect};
  Op cancelOp_{this, OpKind::Cancel};
  int fd_ = -1;
  // The connect SQE reads the address when it is submitted, after start()
  // returns: keep our own copy.
  config::SocketAddress target_;
  bool running_ = false;
  bool connected_ = false;
  Duration timeout_{};
};

// check = "tcp": the backend accepts a connection within the timeout.
class TcpProbe final : public Probe {
 public:
  using Probe::Probe;

 protected:
  void onConnected() override { finish(true, {}); }
};

}  // namespace ringlb::health
