// check = "http": after the connect, send `GET path HTTP/1.1` (Host: the
// configured host or the backend address, Connection: close) and read the
// response incrementally until its status line is complete; the check passes
// when the status falls in expect_status. At most kMaxHead bytes are read:
// a peer that sends more without a status line fails the check, as does one
// that accepts and never answers (the probe's timeout).
//
// The request building and status-line parsing are pure functions (no I/O),
// so they are tested on their own. Health must not depend on l7/: the status
// line is all a check needs, and it is small.
//
// Thread rules: HttpProbe as Probe (health thread only); the free functions
// are pure and may be called anywhere.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"
#include "health/probe_tcp.h"

namespace ringlb::health {

// "GET /healthz HTTP/1.1\r\nHost: ...\r\n...Connection: close\r\n\r\n".
std::string buildHealthRequest(std::string_view path, std::string_view host);

enum class StatusLineParse : uint8_t { NeedMore, Invalid, Complete };

struct StatusLine {
  StatusLineParse parse = StatusLineParse::NeedMore;
  uint16_t status = 0;  // when Complete
};

// Parses the start of a response: "HTTP/1.x NNN[ reason]\r\n". NeedMore while
// the line may still become valid; Invalid as soon as it cannot.
StatusLine parseStatusLine(std::string_view received);

// Whether `status` lies in one of the inclusive ranges.
bool statusExpected(uint16_t status, std::span<const config::StatusRange> ranges);

class HttpProbe final : public Probe {
 public:
  static constexpr size_t kMaxHead = 8192;

  // `request` from buildHealthRequest; both it and `expect` are kept.
  HttpProbe(Ring& ring, TimerWheel& timers, ProbeObserver& observer, std::string pool,
            std::string address, std::string request, std::vector<config::StatusRange> expect);

 protected:
  void onConnected() override;
  void onTransfer(Op& op) override;
  const char* phaseAfterConnect() const override;

 private:
  void sendRest();
  void recvMore();
  void onSent(int32_t result);
  void onReceived(int32_t result);

  std::string request_;
  std::vector<config::StatusRange> expect_;
  Op sendOp_{this, OpKind::Send};
  Op recvOp_{this, OpKind::Recv};
  size_t sent_ = 0;
  size_t received_ = 0;
  std::array<char, kMaxHead> head_{};
};

}  // namespace ringlb::health
