#include "common/worker.h"

#include <unistd.h>

#include "common/log.h"

namespace ringlb {
namespace {

using Clock = std::chrono::steady_clock;
// Longest sleep without a timer due: bounds how stale now_ can get.
constexpr auto kMaxWait = std::chrono::milliseconds(500);

}  // namespace

Worker::Worker(WorkerOptions options, const ServiceFactories& factories)
    : options_(options), factories_(factories) {}

Worker::~Worker() { join(); }

std::string Worker::start() {
  std::promise<std::string> ready;
  std::future<std::string> result = ready.get_future();
  thread_ = std::thread([this, p = std::move(ready)]() mutable { threadMain(std::move(p)); });
  std::string error = result.get();
  if (!error.empty()) join();
  return error;
}

void Worker::post(Mailbox::Task task) { mailbox_->post(std::move(task)); }

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::threadMain(std::promise<std::string> ready) {
  std::string error = setUp();
  ready.set_value(error);
  if (!error.empty()) return;
  loop();
  tearDown();
}

std::string Worker::setUp() {
  try {
    // The ring is created here: with SINGLE_ISSUER only this thread may submit.
    ring_.emplace(options_.ringEntries);
    // Resident from the start: in this VM the first copy into each of the
    // group's 2 MiB huge pages stalled the worker ~5 ms inside a receive
    // (zeroing the page), eight times in the first ~50 ms of traffic, which
    // alone moved a 3-second run's p99 (docs/performance.md). The bulk group
    // stays virtual until a bulk stream needs it.
    buffers_.emplace(*ring_, /*groupId=*/0, options_.bufferCount, options_.bufferSize,
                     BufferRing::Residency::Now);
    bulkBuffers_.emplace(*ring_, /*groupId=*/1, options_.bulkBufferCount, options_.bulkBufferSize);
    mailbox_.emplace(*ring_);
    now_ = Clock::now();
    timers_.emplace(now_);
    io_.emplace(IoContext{*ring_, BufferStore{*buffers_, *bulkBuffers_, blocks_}, *timers_, now_});
  } catch (const RingSetupError& e) {
    return e.what();
  }
  return "";
}

void Worker::tearDown() {
  // In reverse order, after every op has completed.
  freeDeferred();
  listeners_.clear();
  retiring_.clear();
  io_.reset();  // refers to the rings and timers below
  timers_.reset();
  // The mailbox stays until ~Worker: other threads may still post to a
  // finished worker (the task is dropped), and posting needs no ring.
  bulkBuffers_.reset();
  buffers_.reset();
  ring_.reset();
  finished_.store(true, std::memory_order_release);
}

void Worker::loop() {
  mailbox_->start();
  while (turn()) {
  }
  mailbox_->stop();
  while (mailbox_->opsInFlight() != 0) ring_->run(true, kMaxWait);
}

bool Worker::turn(std::chrono::milliseconds maxWait) {
  WaitBatch batch = waitPolicy_.next();
  std::chrono::nanoseconds budget = std::min<std::chrono::nanoseconds>(*waitBudget(), maxWait);
  ring_->enter(/*wait=*/true, budget, batch);
  // The clock is read after waking and before any handler runs: a handler
  // stamping "now" must not see the time from before a long sleep.
  now_ = Clock::now();
  size_t completions = ring_->dispatch();
  waitPolicy_.record(completions, now_);
  counters_.wakeups.add();
  if (batch.completions > 1) counters_.batchedWaits.add();
  counters_.completions.add(completions);
  counters_.buffersExhausted.set(ring_->buffersExhausted());
  counters_.recvRearms.set(ring_->recvRearms());
  timers_->advance(now_);
  if (mailbox_->woken()) mailbox_->drain();
  freeDeferred();
  reapFinishedListeners();
  if (stopping_ && !aborted_ && now_ >= drainDeadline_) abortAll("drain_timeout passed");
  return !stopComplete();
}

std::optional<std::chrono::nanoseconds> Worker::waitBudget() {
  std::chrono::nanoseconds budget = kMaxWait;
  if (auto next = timers_->timeUntilNext(now_, kMaxWait)) budget = std::min(budget, *next);
  // Until the deadline; after the abort only ops are left to come back, and
  // waking early would spin.
  if (stopping_ && !aborted_) {
    budget = std::min(budget, std::chrono::nanoseconds(drainDeadline_ - now_));
  }
  return std::max(budget, std::chrono::nanoseconds(0));
}

bool Worker::stopComplete() const {
  return stopping_ && sessions_.empty() && listeners_.empty() && retiring_.empty();
}

void Worker::applyConfig(std::shared_ptr<const config::Config> config) {
  config_ = std::move(config);
  ++poolVersion_;
  for (const auto& [name, poolConfig] : config_->pools) {
    auto set = upstream::BackendSet::fromConfig(poolConfig, poolVersion_);
    auto it = pools_.find(name);
    if (it != pools_.end()) {
      // Backends that stay keep the health the health thread gave them: a
      // reload must not put a down backend back in service, even briefly.
      const upstream::BackendSet& current = it->second->backends();
      std::vector<bool> up(set->size(), true);
      for (uint32_t i = 0; i < set->size(); ++i) {
        if (auto old = current.find((*set)[i].address)) up[i] = current[*old].up;
      }
      set = set->withHealth(up, now_, poolVersion_);
    }
    if (it == pools_.end()) {
      pools_.emplace(name, std::make_unique<upstream::BackendSelector>(
                               std::move(set), 0x9e3779b97f4a7c15ULL + index()));
    } else {
      it->second->update(std::move(set));
    }
  }
  // Pools that left the config stay until no session holds a lease on them;
  // they are simply no longer found by name for new sessions.
}

void Worker::updatePool(std::shared_ptr<const upstream::BackendSet> set) {
  auto it = pools_.find(set->pool());
  if (it != pools_.end()) it->second->update(std::move(set));
}

upstream::BackendSelector* Worker::pool(const std::string& name) {
  if (config_ == nullptr || config_->findPool(name) == nullptr) return nullptr;
  auto it = pools_.find(name);
  return it == pools_.end() ? nullptr : it->second.get();
}

void Worker::addListener(const config::ListenerConfig& listener, int fd) {
  auto factory = factories_.find(listener.mode);
  if (factory == factories_.end() || stopping_) {
    if (factory == factories_.end()) {
      logError("listener {}: this build has no support for its mode", listener.name);
    }
    close(fd);
    return;
  }
  auto service = factory->second(*this, listener, fd);
  service->start();
  listeners_[listener.name] = std::move(service);
}

void Worker::removeListener(const std::string& name) {
  auto it = listeners_.find(name);
  if (it == listeners_.end()) return;
  it->second->stopAccepting();
  retiring_.push_back(std::move(it->second));
  listeners_.erase(it);
}

void Worker::beginStop(std::chrono::milliseconds drainTimeout) {
  if (stopping_) return;
  stopping_ = true;
  drainDeadline_ = Clock::now() + drainTimeout;
  while (!listeners_.empty()) removeListener(listeners_.begin()->first);
  sessions_.forEach([](Session& s) { s.beginDrain(); });
}

void Worker::abortAll(std::string_view why) {
  if (!aborted_ && !sessions_.empty()) {
    std::string counts;
    auto count = [&](const ListenerService& service) {
      if (service.activeSessions() == 0) return;
      counts += fmt::format("{}{} {}", counts.empty() ? "" : ", ", service.name(),
                            service.activeSessions());
    };
    for (const auto& [name, service] : listeners_) count(*service);
    for (const auto& service : retiring_) count(*service);
    logWarn("worker {}: {}: aborting {} open connection(s) ({})", index(), why, sessions_.size(),
            counts);
  }
  aborted_ = stopping_;
  sessions_.forEach([](Session& s) { s.abort(); });
}

void Worker::addSession(Session& s) {
  sessions_.add(s);
  activeConnections_.store(sessions_.size(), std::memory_order_relaxed);
}

void Worker::removeSession(Session& s) {
  sessions_.remove(s);
  activeConnections_.store(sessions_.size(), std::memory_order_relaxed);
  if (!stopping_) {
    for (auto& [name, service] : listeners_) service->resumeAccepting();
  }
}

void Worker::freeDeferred() {
  // A destructor may defer more (a session freeing what it owns).
  while (!deferred_.empty()) {
    std::vector<Deletable*> batch;
    batch.swap(deferred_);
    for (Deletable* owner : batch) delete owner;
  }
}

void Worker::reapFinishedListeners() {
  std::erase_if(retiring_, [](const auto& service) { return service->finished(); });
}

}  // namespace ringlb
