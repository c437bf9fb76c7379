// The per-connection budgets that stop HTTP/2 floods (docs/http2.md):
// frames that cost the proxy work without moving a request forward (client
// RST_STREAMs: Rapid Reset, CVE-2023-44487; SETTINGS, PING, PRIORITY and
// empty DATA) each draw from a token bucket. A burst is allowed; a
// sustained rate above the refill is an attack, answered with GOAWAY
// ENHANCE_YOUR_CALM.
//
// Thread rules: a plain value owned by one H2Session (worker thread).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace ringlb::l7 {

// The documented defaults (docs/http2.md).
struct H2Limits {
  static constexpr uint32_t kMaxConcurrentStreams = 100;
  static constexpr uint32_t kStreamWindow = 256 * 1024;           // our receive window a stream
  static constexpr uint32_t kConnectionWindow = 4 * 1024 * 1024;  // and for the connection
  static constexpr uint32_t kResetBurst = 200;                    // client RST_STREAMs
  static constexpr uint32_t kResetsPerSecond = 100;
  static constexpr uint32_t kControlBurst = 1000;  // SETTINGS, PING, PRIORITY, empty DATA
  static constexpr uint32_t kControlPerSecond = 100;
  static constexpr uint32_t kMaxOutboundAcks = 1000;   // unread SETTINGS/PING ACKs queued
  static constexpr size_t kResponseQueue = 64 * 1024;  // response bytes queued a stream
  static constexpr size_t kRequestQueue = 64 * 1024;   // request bytes held a stream
  static constexpr size_t kSendQueue = 256 * 1024;     // bytes queued on the socket
};

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(uint32_t burst, uint32_t perSecond)
      : burst_(burst), perSecond_(perSecond), tokens_(burst) {}

  // Takes one token; false when the bucket is empty (the limit struck).
  bool take(Clock::time_point now) {
    if (last_ != Clock::time_point{}) {
      double seconds = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min<double>(burst_, tokens_ + seconds * perSecond_);
    }
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

 private:
  uint32_t burst_;
  uint32_t perSecond_;
  double tokens_;
  Clock::time_point last_{};
};

}  // namespace ringlb::l7
