#include "common/demo/demo.h"

#include <fmt/format.h>

#include <memory>
#include <vector>

#include "common/demo/demo_backend.h"
#include "common/server.h"
#include "config/address.h"

namespace ringlb::demo {
namespace {

config::SocketAddress loopback(uint16_t port) {
  std::string error;
  return *config::parseNumericAddress(fmt::format("127.0.0.1:{}", port), &error);
}

config::Config demoConfig(uint16_t firstPort, uint16_t adminPort,
                          const std::vector<std::unique_ptr<DemoBackend>>& bs) {
  config::Config cfg;
  cfg.path = "(demo)";
  cfg.global.workers = 0;
  cfg.global.drainTimeout = std::chrono::seconds(5);
  config::PoolConfig pool;
  pool.name = "demo";
  for (const auto& b : bs) {
    config::BackendConfig backend;
    backend.resolved = loopback(b->port());
    backend.address = backend.resolved.text;
    pool.backends.push_back(backend);
  }
  config::HealthConfig health;
  health.check = config::HealthCheckKind::Http;
  health.path = "/healthz";
  pool.health = health;
  cfg.pools.emplace(pool.name, pool);
  cfg.admin = config::AdminConfig{loopback(adminPort)};

  config::ListenerConfig web;
  web.name = "demo_http";
  web.mode = config::ListenerMode::Http;
  web.bind = loopback(firstPort);
  web.pool = "demo";
  config::RouteConfig api;
  api.pathPrefix = "/api";
  api.pool = "demo";
  api.setResponseHeaders.push_back({"X-Ringlb-Route", "api"});
  web.routes.push_back(api);
  cfg.listeners.push_back(web);

  config::ListenerConfig tcp;
  tcp.name = "demo_tcp";
  tcp.mode = config::ListenerMode::Tcp;
  tcp.bind = loopback(static_cast<uint16_t>(firstPort + 1));
  tcp.pool = "demo";
  cfg.listeners.push_back(tcp);
  return cfg;
}

}  // namespace

int runDemo(uint16_t firstPort, uint16_t adminPort, const ServiceFactories& factories,
            const std::function<void(Server&)>& addExtensions) {
  std::vector<std::unique_ptr<DemoBackend>> backends;
  for (int i = 1; i <= 3; ++i) {
    backends.push_back(std::make_unique<DemoBackend>(fmt::format("backend-{}", i)));
    std::string error = backends.back()->start(0);
    if (!error.empty()) {
      fmt::print(stderr, "ringlb demo: cannot start a demo backend: {}\n", error);
      return 1;
    }
  }
  config::Config cfg = demoConfig(firstPort, adminPort, backends);
  fmt::print(
      "ringlb demo: three HTTP backends on 127.0.0.1:{}, :{}, :{}\n"
      "  http listener (round robin, keep-alive): curl -v http://127.0.0.1:{}/\n"
      "  http route /api (adds X-Ringlb-Route):  curl -v http://127.0.0.1:{}/api/hello\n"
      "  tcp listener (round robin): curl http://127.0.0.1:{}/   (repeat: the backend changes)\n"
      "  health checks: GET /healthz on each backend every 2s (rise 2, fall 3)\n"
      "  admin: http://127.0.0.1:{}/ (status page), /status, /metrics, /healthz\n"
      "  Ctrl-C to stop.\n",
      backends[0]->port(), backends[1]->port(), backends[2]->port(), firstPort, firstPort,
      firstPort + 1, adminPort);
  std::fflush(stdout);
  Server server(factories);
  addExtensions(server);
  int rc = server.serve(std::move(cfg));
  for (auto& b : backends) b->stop();
  return rc;
}

}  // namespace ringlb::demo
