#include "common/discovery/pool_discovery.h"

#include <ares.h>
#include <fmt/format.h>

#include <future>
#include <optional>

#include "common/block_pool.h"
#include "common/buffer_ring.h"
#include "common/dns/dns_channel.h"
#include "common/dns/dns_resolver.h"
#include "common/io_context.h"
#include "common/log.h"
#include "common/mailbox.h"
#include "common/ring.h"
#include "common/timer_wheel.h"

namespace ringlb::discovery {

using Clock = std::chrono::steady_clock;

namespace {

constexpr unsigned kRingEntries = 64;
// The longest sleep of the loop; timers and the mailbox wake it sooner.
constexpr auto kMaxWait = std::chrono::milliseconds(100);
// A lookup cut short by a change of resolvers is tried again this soon.
constexpr auto kRetrySoon = std::chrono::milliseconds(100);

// "no such host" and "no address": the name really has no address.
bool negative(const dns::DnsAnswer& answer) {
  return answer.error == "no such host" || answer.error == "no address";
}

const char* srvError(int status) {
  switch (status) {
    case ARES_ENOTFOUND: return "no such name";
    case ARES_ENODATA: return "no SRV records";
    case ARES_ETIMEOUT: return "timed out";
    case ARES_ESERVFAIL: return "server failure";
    case ARES_EREFUSED: return "query refused";
    case ARES_ECONNREFUSED: return "connection refused";
    default: return ares_strerror(status);
  }
}

}  // namespace

// One pool's discovery on the thread.
struct DiscoveredPoolState final : TimerHandler {
  DiscoveredPoolState(DiscoveryLoop& l, std::string n) : loop(l), name(std::move(n)) {}
  void onTimer(Timer&) override;

  DiscoveryLoop& loop;
  std::string name;
  config::DiscoverConfig target;
  config::Duration refresh{};
  std::vector<config::BackendConfig> last;
  bool first = true;        // no lookup of this target has finished yet
  uint64_t generation = 0;  // answers of older lookups are dropped
  bool inFlight = false;
  std::string lastError;  // logged once until it changes or a lookup works
  Timer timer{*this};
};

// The SRV records of one refresh and the address lookups of their targets.
struct SrvLookup {
  DiscoveryLoop* loop;
  std::string pool;
  uint64_t generation;
  std::vector<ResolvedTarget> targets;
  size_t waiting = 0;
  std::string error;  // a target's lookup failed (not "no address")
};

class DiscoveryLoop {
 public:
  DiscoveryLoop(PoolDiscovery& owner, DiscoveryStatusBoard& status, dns::DnsOptions options)
      : owner_(owner), status_(status), options_(options) {}

  void run(std::promise<std::string> ready) {
    try {
      ring_.emplace(kRingEntries);  // created here: SINGLE_ISSUER binds it to this thread
      // The resolver never receives into provided buffers; IoContext asks for them.
      small_.emplace(*ring_, 0, 1, 64);
      bulk_.emplace(*ring_, 1, 1, 64);
      now_ = Clock::now();
      timers_.emplace(now_);
      io_.emplace(IoContext{*ring_, BufferStore{*small_, *bulk_, blocks_}, *timers_, now_});
      mailbox_.emplace(*ring_);
    } catch (const std::exception& e) {
      ready.set_value(std::string("discovery: ") + e.what());
      return;
    }
    ready.set_value("");
    loop();
    teardown();
  }

  void post(Mailbox::Task task) { mailbox_->post(std::move(task)); }

  void applyConfig(const config::Config& config,
                   const std::map<std::string, DiscoveredPool>& known) {
    if (!resolver_ || servers_ != config.global.resolvers) setServers(config.global.resolvers);
    std::set<std::string> names;
    for (const auto& [name, pool] : config.pools) {
      if (!pool.discover) continue;
      names.insert(name);
      auto& slot = pools_[name];
      if (!slot) slot = std::make_unique<DiscoveredPoolState>(*this, name);
      DiscoveredPoolState& p = *slot;
      if (p.generation != 0 && p.target == *pool.discover) {  // stays: keeps set and schedule
        if (p.refresh != pool.refresh && !p.inFlight) {
          timers_->schedule(p.timer, now_ + pool.refresh);
        }
        p.refresh = pool.refresh;
        if (!p.first) owner_.firstLookupDone(name);
        continue;
      }
      p.target = *pool.discover;
      p.refresh = pool.refresh;
      p.generation = ++generations_;
      p.inFlight = false;
      auto k = known.find(name);
      bool kept = k != known.end() && k->second.target == p.target;
      p.last = kept ? k->second.backends : std::vector<config::BackendConfig>{};
      p.first = !kept;
      p.lastError.clear();
      start(p);
    }
    std::erase_if(pools_, [&](const auto& e) { return names.count(e.first) == 0; });
    status_.retain(names);
  }

  void beginStop() {
    stopping_ = true;
    pools_.clear();
    if (resolver_) resolver_->stop();
    srv_.reset();  // its callbacks run now, as cancelled
    retiredSrv_.clear();
    mailbox_->stop();
  }

  void start(DiscoveredPoolState& p) {
    timers_->cancel(p.timer);
    p.inFlight = true;
    if (p.target.kind == config::DiscoverConfig::Kind::Dns) {
      resolver_->lookup(p.target.name,
                        std::make_shared<AddressRequest>(this, p.name, p.generation));
      return;
    }
    if (srv_ == nullptr || !srv_->error().empty()) {
      failed(p, srv_ == nullptr ? "resolver unavailable" : srv_->error());
      return;
    }
    auto* lookup = new SrvLookup{this, p.name, p.generation, {}, 0, ""};
    srv_->querySrv(p.target.name, &DiscoveryLoop::onSrv, lookup);
  }

 private:
  struct AddressRequest final : dns::DnsRequest {
    AddressRequest(DiscoveryLoop* l, std::string p, uint64_t g)
        : loop(l), pool(std::move(p)), generation(g) {}
    void onAnswer(const dns::DnsAnswer& answer) override {
      loop->addressesAnswered(pool, generation, answer);
    }
    DiscoveryLoop* loop;
    std::string pool;
    uint64_t generation;
  };

  struct TargetRequest final : dns::DnsRequest {
    TargetRequest(std::shared_ptr<SrvLookup> l, size_t i) : lookup(std::move(l)), index(i) {}
    void onAnswer(const dns::DnsAnswer& answer) override {
      lookup->loop->targetAnswered(*lookup, index, answer);
    }
    std::shared_ptr<SrvLookup> lookup;
    size_t index;
  };

  DiscoveredPoolState* current(const std::string& pool, uint64_t generation) {
    if (stopping_) return nullptr;
    auto it = pools_.find(pool);
    if (it == pools_.end() || it->second->generation != generation) return nullptr;
    return it->second.get();
  }

  void addressesAnswered(const std::string& pool, uint64_t generation,
                         const dns::DnsAnswer& answer) {
    DiscoveredPoolState* p = current(pool, generation);
    if (p == nullptr) return;
    if (!answer.ok()) return failed(*p, answer.error);
    succeeded(*p, backendsFromAddresses(answer.addresses, p->target.port));
  }

  static void onSrv(void* arg, int status, int, unsigned char* answer, int length) {
    std::shared_ptr<SrvLookup> lookup(static_cast<SrvLookup*>(arg));
    DiscoveryLoop& self = *lookup->loop;
    DiscoveredPoolState* p = self.current(lookup->pool, lookup->generation);
    if (p == nullptr) return;
    if (status == ARES_EDESTRUCTION) {  // the resolvers changed: ask the new ones soon
      p->inFlight = false;
      self.timers_->schedule(p->timer, self.now_ + kRetrySoon);
      return;
    }
    if (status != ARES_SUCCESS) return self.failed(*p, srvError(status));
    std::string error;
    auto records = parseSrvAnswer(answer, length, &error);
    if (!records) return self.failed(*p, error);
    std::erase_if(*records, [](const SrvRecord& r) { return r.target.empty() || r.port == 0; });
    if (records->empty()) return self.failed(*p, "no usable SRV records");
    for (auto& r : *records) lookup->targets.push_back(ResolvedTarget{std::move(r), {}});
    lookup->waiting = lookup->targets.size();
    for (size_t i = 0; i < lookup->targets.size(); ++i) {
      self.resolver_->lookup(lookup->targets[i].record.target,
                             std::make_shared<TargetRequest>(lookup, i));
    }
  }

  void targetAnswered(SrvLookup& lookup, size_t index, const dns::DnsAnswer& answer) {
    ResolvedTarget& t = lookup.targets[index];
    if (answer.ok()) {
      t.addresses = answer.addresses;
    } else if (!negative(answer) && lookup.error.empty()) {
      lookup.error = t.record.target + ": " + answer.error;
    }
    if (--lookup.waiting != 0) return;
    DiscoveredPoolState* p = current(lookup.pool, lookup.generation);
    if (p == nullptr) return;
    if (!lookup.error.empty()) return failed(*p, lookup.error);
    auto backends = backendsFromSrv(lookup.targets);
    if (backends.empty()) return failed(*p, "no SRV target has an address");
    succeeded(*p, std::move(backends));
  }

  void succeeded(DiscoveredPoolState& p, std::vector<config::BackendConfig> backends) {
    p.inFlight = false;
    bool changed = p.first || !sameBackends(p.last, backends);
    if (!p.lastError.empty()) {
      logInfo("discovery: pool {}: {} answers again ({} backends)", p.name, p.target.text,
              backends.size());
      p.lastError.clear();
    }
    status_.lookupOk(p.name, p.target.text, backends.size(), changed);
    if (changed) {
      PoolDiscovery::Change change{p.name, {p.target, backends}, describeChange(p.last, backends)};
      p.last = std::move(backends);
      owner_.publish(std::move(change));
    }
    finishedLookup(p);
  }

  void failed(DiscoveredPoolState& p, const std::string& error) {
    p.inFlight = false;
    if (error != p.lastError) {
      logWarn("discovery: pool {}: looking up {} failed ({}); {}", p.name, p.target.text, error,
              p.first ? "the pool has no backends until it works"
                      : fmt::format("keeping the last {} backends", p.last.size()));
      p.lastError = error;
    }
    status_.lookupFailed(p.name, p.target.text, error);
    finishedLookup(p);
  }

  void finishedLookup(DiscoveredPoolState& p) {
    if (p.first) owner_.firstLookupDone(p.name);
    p.first = false;
    timers_->schedule(p.timer, now_ + p.refresh);
  }

  void setServers(const std::vector<config::SocketAddress>& servers) {
    servers_ = servers;
    if (resolver_) {
      resolver_->setServers(servers);
    } else {
      resolver_.emplace(*io_, servers, options_);
    }
    if (srv_) retiredSrv_.push_back(std::move(srv_));
    srv_ = std::make_unique<dns::DnsChannel>(*io_, options_, servers, srvWatches_);
  }

  void loop() {
    mailbox_->start();
    while (!(stopping_ && quiescent())) {
      std::chrono::nanoseconds wait = kMaxWait;
      if (auto next = timers_->timeUntilNext(now_, kMaxWait)) wait = std::min(wait, *next);
      ring_->run(/*wait=*/true, wait);
      now_ = Clock::now();
      timers_->advance(now_);
      if (mailbox_->woken()) mailbox_->drain();
      // A channel of old servers goes once its last query has answered.
      std::erase_if(retiredSrv_, [](const auto& c) { return c->pending() == 0; });
    }
  }

  bool quiescent() const {
    return (!resolver_ || resolver_->idle()) && *srvWatches_ == 0 && mailbox_->opsInFlight() == 0;
  }

  void teardown() {
    resolver_.reset();
    mailbox_.reset();
    io_.reset();
    timers_.reset();
    bulk_.reset();
    small_.reset();
    ring_.reset();
  }

  friend struct DiscoveredPoolState;

  PoolDiscovery& owner_;
  DiscoveryStatusBoard& status_;
  dns::DnsOptions options_;
  std::optional<Ring> ring_;
  std::optional<BufferRing> small_;
  std::optional<BufferRing> bulk_;
  BlockPool blocks_;
  Clock::time_point now_{};
  std::optional<TimerWheel> timers_;
  std::optional<IoContext> io_;
  std::optional<Mailbox> mailbox_;
  std::vector<config::SocketAddress> servers_;
  std::optional<dns::DnsResolver> resolver_;
  std::shared_ptr<size_t> srvWatches_ = std::make_shared<size_t>(0);
  std::unique_ptr<dns::DnsChannel> srv_;
  std::vector<std::unique_ptr<dns::DnsChannel>> retiredSrv_;
  std::map<std::string, std::unique_ptr<DiscoveredPoolState>> pools_;
  uint64_t generations_ = 0;
  bool stopping_ = false;
};

void DiscoveredPoolState::onTimer(Timer&) { loop.start(*this); }

dns::DnsOptions PoolDiscovery::defaultOptions() {
  dns::DnsOptions o;
  o.cacheSize = 64;
  o.minTtl = o.maxTtl = o.negativeTtl = std::chrono::seconds(0);
  return o;
}

PoolDiscovery::PoolDiscovery(DiscoveryStatusBoard& status, dns::DnsOptions options)
    : status_(status), options_(options) {}

PoolDiscovery::~PoolDiscovery() {
  if (!thread_.joinable()) return;
  loop_->post([loop = loop_.get()] { loop->beginStop(); });
  thread_.join();
}

std::string PoolDiscovery::setConfig(const config::Config& config,
                                     const std::map<std::string, DiscoveredPool>& known) {
  {
    std::lock_guard lock(mutex_);
    unsettled_.clear();
    for (const auto& [name, pool] : config.pools) {
      auto k = known.find(name);
      if (pool.discover && (k == known.end() || k->second.target != *pool.discover)) {
        unsettled_.insert(name);
      }
    }
  }
  if (!thread_.joinable()) {
    loop_ = std::make_unique<DiscoveryLoop>(*this, status_, options_);
    std::promise<std::string> ready;
    std::future<std::string> result = ready.get_future();
    thread_ = std::thread([this, p = std::move(ready)]() mutable { loop_->run(std::move(p)); });
    std::string error = result.get();
    if (!error.empty()) {
      thread_.join();
      return error;
    }
  }
  auto snapshot = std::make_shared<const config::Config>(config);
  loop_->post([loop = loop_.get(), snapshot, known] { loop->applyConfig(*snapshot, known); });
  return "";
}

std::vector<PoolDiscovery::Change> PoolDiscovery::takeChanges() {
  std::lock_guard lock(mutex_);
  std::vector<Change> out;
  for (auto& [pool, change] : changes_) out.push_back(std::move(change));
  changes_.clear();
  return out;
}

bool PoolDiscovery::settled() const {
  std::lock_guard lock(mutex_);
  return unsettled_.empty();
}

void PoolDiscovery::publish(Change change) {
  std::lock_guard lock(mutex_);
  std::string pool = change.pool;
  auto it = changes_.find(pool);
  if (it != changes_.end()) change.diff = it->second.diff + " " + change.diff;  // both steps
  changes_[pool] = std::move(change);
}

void PoolDiscovery::firstLookupDone(const std::string& pool) {
  std::lock_guard lock(mutex_);
  unsettled_.erase(pool);
}

}  // namespace ringlb::discovery
