// DnsChannel: one c-ares channel driven by a worker's ring and timer wheel,
// with no thread of its own. c-ares says which sockets it wants watched
// (ARES_OPT_SOCK_STATE_CB); each gets a DnsWatch (a poll on the ring) whose
// events go to ares_process_fd. The channel's next deadline (ares_timeout)
// arms one timer, which lets c-ares retry and time out queries.
//
// Set up for a proxy: names are looked up as given (no search domains),
// /etc/hosts first when the system says so, addresses not sorted by c-ares
// (RFC 6724 sorting opens a socket per address).
//
// Thread rules: worker thread only. A lookup's callback runs exactly once:
// inside lookup() (a hosts-file hit, a literal, a bad name), from a poll
// completion or the timer, or from the destructor (ARES_EDESTRUCTION); it
// must not destroy the channel. The IoContext outlives the channel; the ring
// keeps running after it (the watches of closed sockets free themselves at
// their last CQE).
#pragma once

#include <ares.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/dns/dns_options.h"
#include "common/dns/dns_watch.h"
#include "common/io_context.h"
#include "common/timer_wheel.h"
#include "config/model.h"

namespace ringlb::dns {

class DnsChannel final : public DnsWatchHandler, public TimerHandler {
 public:
  // `servers` empty: the system's (/etc/resolv.conf). `watches` counts the
  // channel's socket watches still alive (see DnsWatch).
  DnsChannel(IoContext& io, const DnsOptions& options,
             const std::vector<config::SocketAddress>& servers, std::shared_ptr<size_t> watches);
  ~DnsChannel() override;
  DnsChannel(const DnsChannel&) = delete;
  DnsChannel& operator=(const DnsChannel&) = delete;

  // Empty when the channel works; else why not (lookups must not be started).
  const std::string& error() const { return error_; }
  // Starts looking up the A and AAAA records of `name`.
  void lookup(const std::string& name, ares_addrinfo_callback callback, void* arg);
  // Starts a query for the SRV records of `name`; the callback gets the raw
  // answer (ares_parse_srv_reply reads it).
  void querySrv(const std::string& name, ares_callback callback, void* arg);
  // Lookups started whose callback has not run yet.
  size_t pending() const { return pending_; }

  void onReady(int fd, bool readable, bool writable) override;
  void onTimer(Timer& timer) override;

 private:
  struct Call;
  static void onSocketState(void* data, ares_socket_t fd, int readable, int writable);
  static void onDone(void* arg, int status, int timeouts, ares_addrinfo* result);
  static void onQueryDone(void* arg, int status, int timeouts, unsigned char* answer, int length);
  std::string setServers(const std::vector<config::SocketAddress>& servers);
  void rearmTimer();

  IoContext& io_;
  std::shared_ptr<size_t> watchCount_;
  ares_channel channel_ = nullptr;
  std::string error_;
  size_t pending_ = 0;
  std::unordered_map<int, DnsWatch*> watches_;  // open sockets; released when c-ares closes one
  Timer timer_{*this};
};

}  // namespace ringlb::dns
