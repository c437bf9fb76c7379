// Relay: two streams pumping bytes both ways until both directions ended:
// the one byte relay of ringlb (tcp sessions, CONNECT tunnels, HTTP
// Upgrade). Received bytes move to the other stream's send queue without a
// copy; each stream's receiving waits while the other side's send queue is
// full (Stream::limitBy). An EOF becomes a half-close on the other side once
// everything before it was sent; a reset is passed on as a reset.
//
//   start() ── both directions open ──▶ one side EOF: half-close the other
//        ──▶ both ended ──▶ onRelayEnd(closed)
//   any error ──▶ onRelayEnd(client_reset | backend_error | ...)
//
// The relay becomes the streams' handler from start(); their owner keeps
// owning them, hears of their Closed events, and closes them after
// onRelayEnd.
//
// Worker thread only. The streams and the handler must outlive the relay.
#pragma once

#include <chrono>

#include "common/access_log.h"
#include "common/stream.h"

namespace ringlb {

class Relay;

// The streams' owner. Stream events the relay does not take (Closed, and
// everything once the relay ended) reach it as before the relay started.
class RelayHandler : public StreamHandler {
 public:
  // The relay is over; `end` says how (AccessEnd::Closed: both sides
  // finished). Called once; the owner then closes the streams.
  virtual void onRelayEnd(Relay& relay, AccessEnd end) = 0;
};

class Relay final : public StreamHandler {
 public:
  // `client` is the side clients connect from (for the end reason).
  Relay(Stream& client, Stream& backend, RelayHandler& handler);

  // Takes over both streams' events and starts moving bytes (anything
  // already received goes first).
  void start();
  bool ended() const { return ended_; }
  // When a byte last moved, for idle timeouts.
  std::chrono::steady_clock::time_point lastActivity() const { return lastActivity_; }

  void onStreamEvent(Stream& stream, StreamEvent event) override;

 private:
  Stream& other(Stream& s) { return &s == &client_ ? backend_ : client_; }
  void pump(Stream& from);
  void checkDone();
  void end(AccessEnd how);

  Stream& client_;
  Stream& backend_;
  RelayHandler& handler_;
  std::chrono::steady_clock::time_point lastActivity_{};
  bool ended_ = false;
};

}  // namespace ringlb
