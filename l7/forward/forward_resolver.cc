#include "l7/forward/forward_resolver.h"

#include <netdb.h>
#include <netinet/in.h>

#include <cstring>

#include "common/worker.h"

namespace ringlb::l7 {

ForwardResolver::ForwardResolver(Worker& worker) : worker_(worker), thread_([this] { run(); }) {}

ForwardResolver::~ForwardResolver() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    queue_.clear();
  }
  wake_.notify_one();
  thread_.join();
}

void ForwardResolver::resolve(std::shared_ptr<ResolveJob> job) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void ForwardResolver::run() {
  for (;;) {
    std::shared_ptr<ResolveJob> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    if (job->cancelled.load(std::memory_order_relaxed)) continue;  // its session ended
    lookUp(*job);
    // The mailbox's mutex orders the writes above before the worker's reads.
    worker_.post([job] {
      if (job->waiter != nullptr) job->waiter->onResolved(*job);
    });
  }
}

// Prefers an IPv4 address: services on loopback listen on 127.0.0.1 more
// often than on ::1, and only one address is tried.
void ForwardResolver::lookUp(ResolveJob& job) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  int rc = getaddrinfo(job.host.c_str(), nullptr, &hints, &list);
  if (rc != 0) {
    job.error = gai_strerror(rc);
    return;
  }
  const addrinfo* pick = nullptr;
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    if (pick == nullptr || (ai->ai_family == AF_INET && pick->ai_family != AF_INET)) pick = ai;
  }
  if (pick == nullptr) {
    job.error = "no IPv4 or IPv6 address";
  } else {
    std::memcpy(&job.address, pick->ai_addr, pick->ai_addrlen);
    job.length = pick->ai_addrlen;
    uint16_t port = htons(job.port);
    if (pick->ai_family == AF_INET) {
      reinterpret_cast<sockaddr_in&>(job.address).sin_port = port;
    } else {
      reinterpret_cast<sockaddr_in6&>(job.address).sin6_port = port;
    }
  }
  freeaddrinfo(list);
}

}  // namespace ringlb::l7
