// UpstreamConn: one keep-alive TCP connection to a backend, owned by the
// worker's UpstreamPool. It owns the connection's receive side: one multishot
// recv into the worker's provided buffers stays armed for the whole life of
// the connection, so that an idle connection notices at once when the
// backend closes it, and a request never races a second recv on the socket.
//
//   Active (attached to a session: completions go to its UpstreamHandler)
//     ──release──▶ Idle (any byte or EOF closes it; idle timeout closes it)
//     ──take────▶ Active
//   any ──close()──▶ Closing ──no op in flight──▶ freed (the pool is told)
//
// Sends are not here: they point into the session's memory, so the session
// owns those ops (and cancels them) itself.
//
// Worker thread only. The UpstreamPool must outlive every connection.
#pragma once

#include <cstdint>
#include <string>

#include "common/op.h"
#include "common/timer_wheel.h"

namespace ringlb {
class Worker;
}

namespace ringlb::l7 {

class UpstreamConn;
class UpstreamPool;

// Receives what the backend sends while a session holds the connection.
class UpstreamHandler {
 public:
  virtual ~UpstreamHandler() = default;
  // A recv completion: result > 0 hands over provided buffer op.bufferId()
  // (the handler recycles it); 0 is EOF; < 0 an error (the connection is
  // unusable). -ECANCELED (pause) and -ENOBUFS are handled here, not passed on.
  virtual void onUpstreamRecv(UpstreamConn& conn, const Op& op) = 0;
};

class UpstreamConn final : public OpOwner, public TimerHandler {
 public:
  UpstreamConn(UpstreamPool& pool, Worker& worker, int fd, std::string backend);
  ~UpstreamConn() override;

  int fd() const { return fd_; }
  const std::string& backend() const { return backend_; }
  // Requests this connection carried before the current one.
  uint32_t reuses() const { return reuses_; }
  bool idle() const { return state_ == State::Idle; }
  bool closing() const { return state_ == State::Closing; }

  // Active: completions go to `handler`.
  void attach(UpstreamHandler& handler);
  // Back to the pool (called by UpstreamPool::release).
  void makeIdle();
  // Backpressure: stop / resume receiving while attached.
  void pauseRecv();
  void resumeRecv();
  bool recvPaused() const { return paused_; }
  // Cancels the recv; the connection frees itself once no op is in flight.
  void close();

  void onCompletion(Op& op) override;
  void onTimer(Timer& timer) override;

  // Intrusive link for the pool's idle list.
  UpstreamConn* nextIdle = nullptr;
  UpstreamConn* prevIdle = nullptr;

 private:
  enum class State : uint8_t { Active, Idle, Closing };
  enum TimerId : uint8_t { kIdleTimer, kRearmTimer };

  void armRecv();
  void onRecv(Op& op);
  void maybeFree();

  UpstreamPool& pool_;
  Worker& worker_;
  int fd_;
  std::string backend_;
  State state_ = State::Active;
  UpstreamHandler* handler_ = nullptr;
  uint32_t reuses_ = 0;
  bool paused_ = false;
  bool inCallback_ = false;  // inside onCompletion: freeing waits until it returns
  Op recvOp_{this, OpKind::Recv};
  Op cancelOp_{this, OpKind::Cancel};
  Timer idleTimer_{*this, kIdleTimer};
  Timer rearmTimer_{*this, kRearmTimer};
};

}  // namespace ringlb::l7
