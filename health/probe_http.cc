#include "health/probe_http.h"

#include <fmt/format.h>

#include <cstring>

#include "common/ascii.h"

namespace ringlb::health {
namespace {

constexpr std::string_view kVersionPrefix = "HTTP/1.";
// "HTTP/1.1 200" is the shortest complete prefix of a status line.
constexpr size_t kCodeEnd = 12;

// Checks the bytes that can be judged before the line is complete.
bool plausiblePrefix(std::string_view line) {
  for (size_t i = 0; i < line.size() && i < kVersionPrefix.size(); ++i) {
    if (line[i] != kVersionPrefix[i]) return false;
  }
  if (line.size() > 7 && !isDigit(line[7])) return false;
  if (line.size() > 8 && line[8] != ' ') return false;
  for (size_t i = 9; i < line.size() && i < kCodeEnd; ++i) {
    if (!isDigit(line[i])) return false;
  }
  return true;
}

}  // namespace

std::string buildHealthRequest(std::string_view path, std::string_view host) {
  return fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: ringlb-health\r\nAccept: */*\r\n"
      "Connection: close\r\n\r\n",
      path.empty() ? "/" : path, host);
}

StatusLine parseStatusLine(std::string_view received) {
  size_t eol = received.find('\n');
  std::string_view line = received.substr(0, eol);
  if (eol != std::string_view::npos && !line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (!plausiblePrefix(line)) return {StatusLineParse::Invalid, 0};
  if (eol == std::string_view::npos) return {StatusLineParse::NeedMore, 0};
  if (line.size() < kCodeEnd || (line.size() > kCodeEnd && line[kCodeEnd] != ' ')) {
    return {StatusLineParse::Invalid, 0};
  }
  auto code =
      static_cast<uint16_t>((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
  if (code < 100) return {StatusLineParse::Invalid, 0};
  return {StatusLineParse::Complete, code};
}

bool statusExpected(uint16_t status, std::span<const config::StatusRange> ranges) {
  for (const config::StatusRange& r : ranges) {
    if (status >= r.low && status <= r.high) return true;
  }
  return false;
}

HttpProbe::HttpProbe(Ring& ring, TimerWheel& timers, ProbeObserver& observer, std::string pool,
                     std::string address, std::string request,
                     std::vector<config::StatusRange> expect, bool overTls,
                     std::shared_ptr<tls::BackendTls> tls)
    : Probe(ring, timers, observer, std::move(pool), std::move(address)),
      request_(std::move(request)),
      expect_(std::move(expect)),
      overTls_(overTls),
      tls_(std::move(tls)) {}

void HttpProbe::onConnected() {
  sent_ = 0;
  received_ = 0;
  if (!overTls_) {
    sendRest();
    return;
  }
  session_ = tls_ ? tls_->client(address()) : nullptr;
  if (!session_) {
    finish(false, tls_ ? "TLS: cannot start a handshake" : "TLS: the pool's settings did not load");
    return;
  }
  cipherOut_.clear();
  cipherSent_ = 0;
  requestWritten_ = false;
  stepTls();
}

void HttpProbe::stepTls() {
  if (!session_->handshakeDone() && session_->handshake() == tls::TlsStatus::Error) {
    finish(false, "TLS: " + tls::BackendTls::failureReason(*session_));
    return;
  }
  if (session_->handshakeDone()) {
    if (!requestWritten_) {
      session_->writePlaintext(request_);
      requestWritten_ = true;
      sent_ = request_.size();  // for phaseAfterConnect
    }
    for (;;) {
      auto room = std::span<char>(head_.data() + received_, head_.size() - received_);
      tls::TlsStream::Read r = session_->readPlaintext(room);
      if (r.status == tls::TlsStatus::Error) {
        finish(false, "TLS: " + session_->error());
        return;
      }
      if (r.status != tls::TlsStatus::Ok) {
        if (r.status == tls::TlsStatus::Closed && judgeHead(true)) return;
        break;
      }
      received_ += r.bytes;
      if (judgeHead(false)) return;
    }
  }
  if (!sendOp_.inFlight()) {
    if (cipherSent_ == cipherOut_.size()) {
      cipherOut_.clear();
      cipherSent_ = 0;
      session_->takeCiphertext(cipherOut_);
    }
    if (cipherSent_ < cipherOut_.size()) {
      ring().send(sendOp_, fd(), cipherOut_.data() + cipherSent_, cipherOut_.size() - cipherSent_);
    }
  }
  if (!recvOp_.inFlight()) ring().recv(recvOp_, fd(), cipherIn_.data(), cipherIn_.size());
}

const char* HttpProbe::phaseAfterConnect() const {
  if (session_ && !session_->handshakeDone()) return "in the TLS handshake";
  return sent_ < request_.size() ? "sending the request" : "waiting for the status line";
}

void HttpProbe::sendRest() {
  ring().send(sendOp_, fd(), request_.data() + sent_, request_.size() - sent_);
}

void HttpProbe::recvMore() {
  ring().recv(recvOp_, fd(), head_.data() + received_, head_.size() - received_);
}

void HttpProbe::onTransfer(Op& op) {
  if (&op == &sendOp_) {
    onSent(op.result);
  } else if (&op == &recvOp_) {
    onReceived(op.result);
  }
}

void HttpProbe::onSent(int32_t result) {
  if (result < 0) {
    finish(false, fmt::format("send: {}", std::strerror(-result)));
    return;
  }
  if (session_) {
    cipherSent_ += static_cast<size_t>(result);
    stepTls();
    return;
  }
  sent_ += static_cast<size_t>(result);
  if (sent_ < request_.size()) {
    sendRest();
  } else {
    recvMore();
  }
}

void HttpProbe::onReceived(int32_t result) {
  if (result < 0) {
    finish(false, fmt::format("recv: {}", std::strerror(-result)));
    return;
  }
  if (session_) {
    if (result == 0) {
      if (!session_->handshakeDone()) {
        finish(false, "TLS: closed during the handshake");
      } else {
        judgeHead(true);
      }
      return;
    }
    session_->feedCiphertext({cipherIn_.data(), static_cast<size_t>(result)});
    stepTls();
    return;
  }
  received_ += static_cast<size_t>(result);
  if (!judgeHead(result == 0)) recvMore();
}

bool HttpProbe::judgeHead(bool closed) {
  StatusLine line = parseStatusLine(std::string_view(head_.data(), received_));
  switch (line.parse) {
    case StatusLineParse::Invalid: finish(false, "malformed status line"); return true;
    case StatusLineParse::Complete:
      finish(statusExpected(line.status, expect_), fmt::format("status {}", line.status));
      return true;
    case StatusLineParse::NeedMore: break;
  }
  if (closed) {
    finish(false, "connection closed before the status line");
    return true;
  }
  if (received_ == head_.size()) {
    finish(false, fmt::format("no status line in the first {} bytes", kMaxHead));
    return true;
  }
  return false;
}

}  // namespace ringlb::health
