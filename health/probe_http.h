// check = "http": after the connect, send `GET path HTTP/1.1` (Host: the
// configured host or the backend address, Connection: close) and read the
// response incrementally until its status line is complete; the check passes
// when the status falls in expect_status. At most kMaxHead bytes are read:
// a peer that sends more without a status line fails the check, as does one
// that accepts and never answers (the probe's timeout).
//
// A pool with [pools.NAME.tls] is probed over TLS, with the data path's
// verification (common/tls/backend_tls.h): a failed handshake fails the
// check with the reason ("TLS: certificate verify failed: ...").
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
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/tls/backend_tls.h"
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
  // `overTls`: the pool has [pools.NAME.tls]; `tls` its settings (null when
  // they did not load: every check fails, never plaintext).
  HttpProbe(Ring& ring, TimerWheel& timers, ProbeObserver& observer, std::string pool,
            std::string address, std::string request, std::vector<config::StatusRange> expect,
            bool overTls = false, std::shared_ptr<tls::BackendTls> tls = nullptr);

 protected:
  void onConnected() override;
  void onTransfer(Op& op) override;
  const char* phaseAfterConnect() const override;

 private:
  void sendRest();
  void recvMore();
  void onSent(int32_t result);
  void onReceived(int32_t result);
  // Judges what head_ holds; true when the check finished.
  bool judgeHead(bool closed);
  // TLS: moves the handshake, the request and the response along.
  void stepTls();

  std::string request_;
  std::vector<config::StatusRange> expect_;
  Op sendOp_{this, OpKind::Send};
  Op recvOp_{this, OpKind::Recv};
  size_t sent_ = 0;
  size_t received_ = 0;
  std::array<char, kMaxHead> head_{};
  bool overTls_;
  std::shared_ptr<tls::BackendTls> tls_;
  std::unique_ptr<tls::TlsStream> session_;  // this check's TLS connection
  std::string cipherOut_;
  size_t cipherSent_ = 0;
  std::array<char, 16384> cipherIn_{};
  bool requestWritten_ = false;
};

}  // namespace ringlb::health
