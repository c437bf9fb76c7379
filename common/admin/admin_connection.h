// AdminConnection: one client of the admin endpoint on a non-blocking socket,
// driven by the admin thread's poll loop.
//
//   ReadingHead ──head complete──▶ Writing ──all sent──▶ ReadingHead (keep-alive)
//                                                    └──▶ done (close)
//
// Memory is bounded: the head goes into the parser's fixed buffer (limits
// below), at most kMaxPending pipelined bytes wait, and the reply is one
// rendered page. A client that sends nothing for kIdleTimeout, or does not
// take its reply within kWriteTimeout, is closed.
//
// Admin thread only. Owns the fd.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "common/admin/admin_http.h"
#include "common/http1/http1_parser.h"

namespace ringlb::admin {

class AdminConnection {
 public:
  using Clock = std::chrono::steady_clock;
  // Produces the reply to a complete head (the routes and renderers).
  using Responder = std::function<AdminReply(const http::MessageHead&)>;

  static constexpr auto kIdleTimeout = std::chrono::seconds(10);
  static constexpr auto kWriteTimeout = std::chrono::seconds(30);
  static constexpr size_t kMaxPending = 16 * 1024;

  // `respond` must outlive the connection.
  AdminConnection(int fd, Clock::time_point now, const Responder& respond);
  ~AdminConnection();
  AdminConnection(const AdminConnection&) = delete;
  AdminConnection& operator=(const AdminConnection&) = delete;

  int fd() const { return fd_; }
  // POLLIN while waiting for a request, POLLOUT while a reply is pending.
  short events() const;
  Clock::time_point deadline() const { return deadline_; }

  // Handles readiness (`revents` from poll). Returns false once the
  // connection is finished and should be destroyed.
  bool onReady(short revents, Clock::time_point now);

 private:
  bool readAndAnswer(Clock::time_point now);
  // Feeds pending bytes to the parser; queues a reply when a head completes.
  void parsePending(Clock::time_point now);
  // Sends what it can; then, with keep-alive, answers a pipelined request.
  bool flush(Clock::time_point now);
  // Reads and drops what the client sent that we will not read, so that
  // close() sends a FIN after the reply rather than a reset.
  void discardInput();
  void queueReply(const AdminReply& reply, bool headOnly, bool keepAlive, Clock::time_point now);

  int fd_;
  const Responder& respond_;
  http::Http1Parser parser_;
  std::string pending_;  // received, not yet fed to the parser
  std::string out_;
  size_t outOffset_ = 0;
  bool writing_ = false;
  bool closeAfterWrite_ = false;
  bool peerClosed_ = false;
  Clock::time_point deadline_;
};

}  // namespace ringlb::admin
