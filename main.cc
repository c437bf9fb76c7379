// ringlb: the command line. Each subcommand is a few lines that call into the
// libraries; all behaviour lives in common/, config/, l4/, l7/ and health/.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <string>

#include "common/access_log.h"
#include "common/admin/admin.h"
#include "common/demo/demo.h"
#include "common/server.h"
#include "config/load.h"
#include "health/checker.h"
#include "l4/tcp_service.h"
#include "l4/udp_service.h"
#include "l7/forward/forward_settings.h"
#include "l7/http/http_service.h"

namespace {

// One line per listener mode.
ringlb::ServiceFactories allServices() {
  ringlb::ServiceFactories factories;
  factories[ringlb::config::ListenerMode::Tcp] = ringlb::l4::makeTcpService;
  factories[ringlb::config::ListenerMode::Udp] = ringlb::l4::makeUdpService;
  factories[ringlb::config::ListenerMode::Http] = ringlb::l7::makeHttpService;
  factories[ringlb::config::ListenerMode::Forward] = ringlb::l7::makeHttpService;
  return factories;
}

// One line per thread or endpoint that runs beside the workers.
void addExtensions(ringlb::Server& server) {
  server.addExtension(ringlb::makeAccessLogExtension(server.shared().accessLog));
  server.addExtension(ringlb::admin::makeAdminServer(server.shared()));
  server.addExtension(ringlb::health::makeHealthChecker(server.shared()));
}

int checkConfig(const std::string& path) {
  auto loaded = ringlb::config::loadConfigFile(path);
  if (!loaded.config) {
    for (const auto& e : loaded.errors) fmt::print("{}\n", e.format());
    return 1;
  }
  fmt::print("config OK\n");
  return 0;
}

int runServer(const std::string& path) {
  ringlb::Server server(allServices());
  addExtensions(server);
  return server.run(path);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ringlb: an io_uring load balancer and proxy (L4 tcp/udp, L7 http, forward)"};
  app.set_version_flag("--version", std::string("ringlb ") + RINGLB_VERSION_STRING);
  app.require_subcommand(1);

  std::string runPath;
  auto* run = app.add_subcommand("run", "Run with a TOML config (SIGHUP reloads, SIGTERM drains)");
  run->add_option("-c,--config", runPath, "Config file")->required();

  std::string checkPath;
  auto* check = app.add_subcommand("check", "Validate a config file and exit (0 = valid)");
  check->add_option("-c,--config", checkPath, "Config file")->required();

  auto* demo = app.add_subcommand(
      "demo", "Start built-in backends and a load balancer in front of them; Ctrl-C stops");
  uint16_t demoPort = 8080;
  demo->add_option("--port", demoPort, "Port of the demo http listener (tcp: the next one)")
      ->capture_default_str();
  uint16_t demoAdminPort = 9900;
  demo->add_option("--admin-port", demoAdminPort, "Port of the demo admin endpoint")
      ->capture_default_str();

  CLI11_PARSE(app, argc, argv);

  if (*run) return runServer(runPath);
  if (*check) return checkConfig(checkPath);
  if (*demo) return ringlb::demo::runDemo(demoPort, demoAdminPort, allServices(), addExtensions);
  return 2;
}
