// The cost of the io_uring runtime itself: a NOP round trip through Ring
// (prepare, submit, wait, reap, dispatch), NOPs in batches, and a small TCP
// echo through one worker running the tcp listener mode.
//
// Run: build/bench/ringlb_bench --benchmark_filter='Ring|TcpEcho'
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "common/ring.h"
#include "common/socket.h"
#include "common/worker.h"
#include "config/address.h"
#include "l4/tcp_service.h"

namespace ringlb {
namespace {

class CountingOwner : public OpOwner {
 public:
  void onCompletion(Op&) override { ++completions; }
  uint64_t completions = 0;
};

void BM_RingNopRoundTrip(benchmark::State& state) {
  Ring ring(64);
  CountingOwner owner;
  Op op(&owner, OpKind::Nop);
  for (auto _ : state) {
    ring.nop(op);
    ring.run(true, std::nullopt);
  }
  state.counters["deferTaskrun"] = ring.features().deferTaskrun;
}
BENCHMARK(BM_RingNopRoundTrip);

void BM_RingNopBatch(benchmark::State& state) {
  const auto batch = static_cast<size_t>(state.range(0));
  Ring ring(256);
  CountingOwner owner;
  std::vector<std::unique_ptr<Op>> ops;
  for (size_t i = 0; i < batch; ++i) ops.push_back(std::make_unique<Op>(&owner, OpKind::Nop));
  for (auto _ : state) {
    for (auto& op : ops) ring.nop(*op);
    while (owner.opsInFlight() != 0) ring.run(true, std::nullopt);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}
BENCHMARK(BM_RingNopBatch)->Arg(8)->Arg(32)->Arg(128);

// A blocking echo server on its own thread.
class EchoThread {
 public:
  EchoThread() {
    std::string error;
    fd_ = openTcpListener(*config::parseNumericAddress("127.0.0.1:0", &error), &error);
    port_ = boundPort(fd_);
    thread_ = std::thread([this] {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      setNoDelay(c);
      char buf[4096];
      for (;;) {
        ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0 || send(c, buf, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
      }
      close(c);
    });
  }
  ~EchoThread() {
    shutdown(fd_, SHUT_RDWR);
    thread_.join();
    close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

void BM_TcpEchoThroughOneWorker(benchmark::State& state) {
  EchoThread echo;
  std::string error;
  auto cfg = std::make_shared<config::Config>();
  config::PoolConfig pool;
  pool.name = "echo";
  config::BackendConfig backend;
  backend.address = fmt::format("127.0.0.1:{}", echo.port());
  backend.resolved = *config::parseNumericAddress(backend.address, &error);
  pool.backends.push_back(backend);
  cfg->pools.emplace("echo", pool);
  config::ListenerConfig listener;
  listener.name = "bench";
  listener.mode = config::ListenerMode::Tcp;
  listener.pool = "echo";
  listener.bind = *config::parseNumericAddress("127.0.0.1:0", &error);
  cfg->listeners.push_back(listener);
  int listenFd = openTcpListener(listener.bind, &error);
  int port = boundPort(listenFd);

  ServiceFactories factories{{config::ListenerMode::Tcp, l4::makeTcpService}};
  Worker worker(WorkerOptions{}, factories);
  if (!worker.start().empty()) {
    state.SkipWithError("worker did not start");
    return;
  }
  std::shared_ptr<const config::Config> frozen = cfg;
  worker.post([&worker, frozen, listener, listenFd] {
    worker.applyConfig(frozen);
    worker.addListener(listener, listenFd);
  });
  int client = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  while (connect(client, reinterpret_cast<sockaddr*>(&sin), sizeof sin) != 0) {
    std::this_thread::yield();
  }
  setNoDelay(client);
  char msg[100] = {};
  char buf[100];
  for (auto _ : state) {
    if (send(client, msg, sizeof msg, 0) != sizeof msg) break;
    size_t got = 0;
    while (got < sizeof buf) {
      ssize_t n = recv(client, buf + got, sizeof buf - got, 0);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
  }
  close(client);
  worker.post([&worker] { worker.beginStop(std::chrono::milliseconds(100)); });
  worker.join();
}
BENCHMARK(BM_TcpEchoThroughOneWorker)->UseRealTime();

}  // namespace
}  // namespace ringlb
