#include "common/dns/dns_channel.h"

#include <netinet/in.h>
#include <sys/time.h>

#include <cstring>

namespace ringlb::dns {
namespace {

// ares_library_init does nothing on Linux today, but must run once before
// any channel, and is not thread-safe: a function-local static is.
bool initLibrary() {
  static const int status = ares_library_init(ARES_LIB_INIT_ALL);
  return status == ARES_SUCCESS;
}

}  // namespace

// What c-ares calls back with: the caller's callback plus its channel, so
// pending() stays exact.
struct DnsChannel::Call {
  DnsChannel* channel;
  ares_addrinfo_callback callback;  // lookup()
  ares_callback queryCallback;      // querySrv()
  void* arg;
};

DnsChannel::DnsChannel(IoContext& io, const DnsOptions& options,
                       const std::vector<config::SocketAddress>& servers,
                       std::shared_ptr<size_t> watches)
    : io_(io), watchCount_(std::move(watches)) {
  if (!initLibrary()) {
    error_ = "c-ares could not be initialised";
    return;
  }
  ares_options o{};
  o.flags = ARES_FLAG_NOSEARCH;
  o.timeout = static_cast<int>(options.tryTimeout.count());
  o.tries = options.tries;
  o.domains = nullptr;
  o.ndomains = 0;  // and no search list read from resolv.conf either
  o.sock_state_cb = &DnsChannel::onSocketState;
  o.sock_state_cb_data = this;
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_DOMAINS |
             ARES_OPT_SOCK_STATE_CB;
  if (int rc = ares_init_options(&channel_, &o, mask); rc != ARES_SUCCESS) {
    channel_ = nullptr;
    error_ = std::string("resolver set-up failed: ") + ares_strerror(rc);
    return;
  }
  if (!servers.empty()) error_ = setServers(servers);
}

DnsChannel::~DnsChannel() {
  // Pending callbacks run with ARES_EDESTRUCTION and every socket is closed
  // (its watch released) inside ares_destroy.
  if (channel_ != nullptr) ares_destroy(channel_);
  for (auto& [fd, watch] : watches_) watch->release();
}

std::string DnsChannel::setServers(const std::vector<config::SocketAddress>& servers) {
  std::vector<ares_addr_port_node> nodes(servers.size());
  for (size_t i = 0; i < servers.size(); ++i) {
    const config::SocketAddress& s = servers[i];
    ares_addr_port_node& n = nodes[i];
    n.next = i + 1 < servers.size() ? &nodes[i + 1] : nullptr;
    n.family = s.family();
    if (s.family() == AF_INET) {
      n.addr.addr4 = reinterpret_cast<const sockaddr_in*>(&s.storage)->sin_addr;
    } else if (s.family() == AF_INET6) {
      std::memcpy(&n.addr.addr6, &reinterpret_cast<const sockaddr_in6*>(&s.storage)->sin6_addr,
                  sizeof n.addr.addr6);
    } else {
      return "a resolver address is neither IPv4 nor IPv6";
    }
    n.udp_port = n.tcp_port = s.port();  // 0: c-ares's default, 53
  }
  int rc = ares_set_servers_ports(channel_, nodes.data());
  return rc == ARES_SUCCESS ? "" : std::string("bad resolver list: ") + ares_strerror(rc);
}

void DnsChannel::lookup(const std::string& name, ares_addrinfo_callback callback, void* arg) {
  ares_addrinfo_hints hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = ARES_AI_NOSORT;
  ++pending_;
  ares_getaddrinfo(channel_, name.c_str(), nullptr, &hints, &DnsChannel::onDone,
                   new Call{this, callback, nullptr, arg});
  rearmTimer();
}

void DnsChannel::querySrv(const std::string& name, ares_callback callback, void* arg) {
  constexpr int kClassIn = 1;
  constexpr int kTypeSrv = 33;
  ++pending_;
  ares_query(channel_, name.c_str(), kClassIn, kTypeSrv, &DnsChannel::onQueryDone,
             new Call{this, nullptr, callback, arg});
  rearmTimer();
}

void DnsChannel::onQueryDone(void* arg, int status, int timeouts, unsigned char* answer,
                             int length) {
  auto* call = static_cast<Call*>(arg);
  --call->channel->pending_;
  call->queryCallback(call->arg, status, timeouts, answer, length);
  delete call;
}

void DnsChannel::onDone(void* arg, int status, int timeouts, ares_addrinfo* result) {
  auto* call = static_cast<Call*>(arg);
  --call->channel->pending_;
  call->callback(call->arg, status, timeouts, result);
  delete call;
}

void DnsChannel::onSocketState(void* data, ares_socket_t fd, int readable, int writable) {
  auto* self = static_cast<DnsChannel*>(data);
  auto it = self->watches_.find(fd);
  if (readable == 0 && writable == 0) {  // c-ares closes the socket next
    if (it != self->watches_.end()) {
      it->second->release();
      self->watches_.erase(it);
    }
    return;
  }
  if (it == self->watches_.end()) {
    it = self->watches_.emplace(fd, new DnsWatch(self->io_.ring, fd, *self, self->watchCount_))
             .first;
  }
  it->second->want(readable != 0, writable != 0);
}

void DnsChannel::onReady(int fd, bool readable, bool writable) {
  ares_process_fd(channel_, readable ? fd : ARES_SOCKET_BAD, writable ? fd : ARES_SOCKET_BAD);
  rearmTimer();
}

void DnsChannel::onTimer(Timer&) {
  // No socket: c-ares only checks which tries have timed out.
  ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  rearmTimer();
}

void DnsChannel::rearmTimer() {
  timeval tv{};
  if (ares_timeout(channel_, nullptr, &tv) == nullptr) {  // no query left
    io_.timers.cancel(timer_);
    return;
  }
  auto wait = std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec);
  io_.timers.schedule(timer_, io_.now + wait);
}

}  // namespace ringlb::dns
