// FakeDnsServer: a DNS server on 127.0.0.1 (UDP, a port the kernel picks)
// that answers A, AAAA and SRV queries from a table, NXDOMAIN for names it does
// not know, and can hold back (delay) or never send (drop) the answers for
// one name. It counts the queries it receives per name and type, so tests
// can tell a cached answer from a new query.
//
// It serves from its own thread (poll(2) on the socket and a wake-up pipe),
// so a test's worker loop and the server never wait for each other. The
// table and the counters are guarded by a mutex: any thread may change or
// read them. Destruction stops and joins the thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ringlb::testing {

class FakeDnsServer {
 public:
  static constexpr uint16_t kTypeA = 1;
  static constexpr uint16_t kTypeAAAA = 28;
  static constexpr uint16_t kTypeSrv = 33;

  FakeDnsServer() {
    fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) wake_[0] = wake_[1] = -1;
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeDnsServer() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    char c = 0;
    (void)!write(wake_[1], &c, 1);
    thread_.join();
    ::close(fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  FakeDnsServer(const FakeDnsServer&) = delete;
  FakeDnsServer& operator=(const FakeDnsServer&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Adds an address record for `name` ("192.0.2.1" is an A, "2001:db8::1" an AAAA).
  void add(const std::string& name, const std::string& ip, uint32_t ttl) {
    Record r;
    r.ttl = ttl;
    if (inet_pton(AF_INET, ip.c_str(), r.bytes) == 1) {
      r.type = kTypeA;
      r.size = 4;
    } else {
      inet_pton(AF_INET6, ip.c_str(), r.bytes);
      r.type = kTypeAAAA;
      r.size = 16;
    }
    std::lock_guard lock(mutex_);
    table_[lower(name)].push_back(r);
  }
  // An SRV record for `name` pointing at `target`.
  void addSrv(const std::string& name, uint16_t priority, uint16_t weight, uint16_t port,
              const std::string& target, uint32_t ttl) {
    Record r;
    r.type = kTypeSrv;
    r.ttl = ttl;
    put16(r.rdata, priority);
    put16(r.rdata, weight);
    put16(r.rdata, port);
    size_t start = 0;
    while (start < target.size()) {
      size_t dot = std::min(target.find('.', start), target.size());
      r.rdata.push_back(static_cast<char>(dot - start));
      r.rdata.append(target, start, dot - start);
      start = dot + 1;
    }
    r.rdata.push_back('\0');
    std::lock_guard lock(mutex_);
    table_[lower(name)].push_back(r);
  }
  // Forgets every record of `name` (NXDOMAIN from now on).
  void remove(const std::string& name) {
    std::lock_guard lock(mutex_);
    table_.erase(lower(name));
  }
  // A name that exists with no address record: answers say so (NOERROR, no data).
  void addEmpty(const std::string& name) {
    std::lock_guard lock(mutex_);
    table_[lower(name)];
  }
  // Answers for `name` leave `delay` after the query came.
  void delay(const std::string& name, std::chrono::milliseconds delay) {
    std::lock_guard lock(mutex_);
    delays_[lower(name)] = delay;
  }
  // Queries for `name` (every name when empty) are never answered.
  void drop(const std::string& name) {
    std::lock_guard lock(mutex_);
    dropped_.insert(lower(name));
  }
  // Queries received for `name` of `type` so far (answered or not).
  int queries(const std::string& name, uint16_t type) {
    std::lock_guard lock(mutex_);
    return counts_[{lower(name), type}];
  }

 private:
  struct Record {
    uint16_t type = 0;
    uint32_t ttl = 0;
    unsigned char bytes[16] = {};
    size_t size = 0;
    std::string rdata;  // SRV: written as is
  };
  struct Pending {
    std::chrono::steady_clock::time_point due;
    std::string bytes;
    sockaddr_in to;
  };

  static std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }
  static void put16(std::string& out, uint16_t v) {
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v & 0xff));
  }
  static void put32(std::string& out, uint32_t v) {
    put16(out, static_cast<uint16_t>(v >> 16));
    put16(out, static_cast<uint16_t>(v & 0xffff));
  }

  void serve() {
    for (;;) {
      int timeout = -1;
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        if (!pending_.empty()) {
          auto wait = pending_.front().due - std::chrono::steady_clock::now();
          timeout = static_cast<int>(
              std::max<int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(wait).count()));
        }
      }
      pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      poll(fds, 2, timeout);
      receive();
      sendDue();
    }
  }

  void receive() {
    unsigned char buf[1500];
    for (;;) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      ssize_t n = recvfrom(fd_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n <= 0) return;
      answer(buf, static_cast<size_t>(n), from);
    }
  }

  // One query in `q`: queues (or sends) its answer.
  void answer(const unsigned char* q, size_t n, const sockaddr_in& from) {
    if (n < 12) return;
    std::string name;
    size_t at = 12;
    while (at < n && q[at] != 0) {
      size_t label = q[at];
      if (at + 1 + label > n) return;
      if (!name.empty()) name += '.';
      name.append(reinterpret_cast<const char*>(q + at + 1), label);
      at += 1 + label;
    }
    if (at + 5 > n) return;
    uint16_t type = static_cast<uint16_t>(q[at + 1] << 8 | q[at + 2]);
    size_t questionEnd = at + 5;
    name = lower(name);

    std::lock_guard lock(mutex_);
    ++counts_[{name, type}];
    if (dropped_.count(name) != 0 || dropped_.count("") != 0) return;
    auto known = table_.find(name);
    std::vector<Record> records;
    if (known != table_.end()) {
      for (const Record& r : known->second) {
        if (r.type == type) records.push_back(r);
      }
    }
    std::string out(reinterpret_cast<const char*>(q), 2);  // id
    uint16_t rcode = known == table_.end() ? 3 : 0;        // NXDOMAIN or NOERROR
    put16(out, static_cast<uint16_t>(0x8180 | rcode));     // QR RD RA
    put16(out, 1);
    put16(out, static_cast<uint16_t>(records.size()));
    put16(out, 0);
    put16(out, 0);
    out.append(reinterpret_cast<const char*>(q + 12), questionEnd - 12);
    for (const Record& r : records) {
      put16(out, 0xc00c);  // the question's name
      put16(out, r.type);
      put16(out, 1);  // IN
      put32(out, r.ttl);
      if (!r.rdata.empty()) {
        put16(out, static_cast<uint16_t>(r.rdata.size()));
        out += r.rdata;
        continue;
      }
      put16(out, static_cast<uint16_t>(r.size));
      out.append(reinterpret_cast<const char*>(r.bytes), r.size);
    }
    auto d = delays_.find(name);
    auto due = std::chrono::steady_clock::now() +
               (d == delays_.end() ? std::chrono::milliseconds(0) : d->second);
    pending_.push_back({due, std::move(out), from});
    std::stable_sort(pending_.begin(), pending_.end(),
                     [](const Pending& a, const Pending& b) { return a.due < b.due; });
  }

  void sendDue() {
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    while (!pending_.empty() && pending_.front().due <= now) {
      const Pending& p = pending_.front();
      sendto(fd_, p.bytes.data(), p.bytes.size(), 0, reinterpret_cast<const sockaddr*>(&p.to),
             sizeof p.to);
      pending_.erase(pending_.begin());
    }
  }

  int fd_ = -1;
  int wake_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  bool stopping_ = false;                                    // guarded by mutex_
  std::map<std::string, std::vector<Record>> table_;         // guarded by mutex_
  std::map<std::string, std::chrono::milliseconds> delays_;  // guarded by mutex_
  std::set<std::string> dropped_;                            // guarded by mutex_
  std::map<std::pair<std::string, uint16_t>, int> counts_;   // guarded by mutex_
  std::vector<Pending> pending_;  // answers not sent yet, soonest first; guarded by mutex_
};

}  // namespace ringlb::testing
