// Valid configs load into the model with the values the docs promise.
#include <gtest/gtest.h>

#include "config/load.h"
#include "tests/unit/config/config_test_support.h"

namespace ringlb::config::load_good_test {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::fakeOptions;
using testing::TempDir;

// The example of /work/shared/CONFIG.md (the user contract), verbatim.
constexpr std::string_view kContractExample = R"(
[global]
workers = 0                 # io_uring worker threads; 0 = one per CPU core
max_connections = 100000    # across all listeners; beyond it new connections wait in the backlog
drain_timeout = "30s"
log_level = "info"          # error | warn | info | debug
access_log = "off"          # off | stdout | stderr | /path/to/file  (one JSON object per line)

[admin]                     # optional; absent = no admin listener
bind = "127.0.0.1:9900"     # GET /metrics (Prometheus text), /status (JSON), /healthz

[pools.api]
balance = "round_robin"     # round_robin (weight-aware) | least_conn | random_two | hash
hash_key = "source_ip"      # with balance = "hash": source_ip | uri | "header:NAME" | "cookie:NAME"
connect_timeout = "2s"
retries = 2                 # other backends tried after a failed connect (and, for http, an
                            # idempotent request that failed before any response byte)
backends = [
  "127.0.0.1:9001",                                  # weight 1
  { address = "127.0.0.1:9002", weight = 3 },
  { address = "127.0.0.1:9003", backup = true },     # used only when no primary is up
]

[pools.api.health]          # optional; absent = no active checks (passive failure detection still applies)
check = "http"              # tcp | http
interval = "2s"
timeout = "1s"
rise = 2                    # consecutive successes to mark a backend up
fall = 3                    # consecutive failures to mark it down
path = "/healthz"           # http only
expect_status = "200-399"   # http only

[listeners.web]
bind = "0.0.0.0:8080"
mode = "http"               # tcp | udp | http | forward
pool = "api"                # tcp/udp: required; http: the default route
max_connections = 10000     # this listener's share; beyond it new connections wait in the backlog
idle_timeout = "60s"        # http: keep-alive idle; tcp: default "1h"; udp: session idle, default "30s"
header_timeout = "10s"      # http/forward: whole request head must arrive within this (else 408)
response_timeout = "30s"    # http/forward: backend's response head must arrive within this (else 504)

[listeners.web.tls]         # optional; http and tcp modes
certificates = [            # chosen by SNI; the first is the default
  { cert = "certs/app.pem", key = "certs/app.key" },
]

[[listeners.web.routes]]    # http mode; first match wins, then `pool` above
host = "app.example.com"    # exact, or "*.example.com"; optional
path_prefix = "/api"        # or path = "/exact"; optional
pool = "api"

[listeners.db]
bind = "0.0.0.0:5432"
mode = "tcp"
pool = "api"

[listeners.dns]
bind = "0.0.0.0:5353"
mode = "udp"
pool = "api"

[listeners.egress]
bind = "127.0.0.1:3128"
mode = "forward"            # HTTP forward proxy: CONNECT tunnels and absolute-URI requests
allow = ["*.example.com", "10.0.0.0/8"]   # destinations allowed; absent = all
deny = ["evil.example.com"]               # checked before allow
connect_ports = [443]                     # ports CONNECT may reach
)";

constexpr std::string_view kMinimal = R"(
[pools.api]
backends = ["127.0.0.1:9001"]

[listeners.web]
bind = "127.0.0.1:8080"
mode = "http"
pool = "api"
)";

Config loadOk(std::string_view text, const std::string& path = "/etc/ringlb/ringlb.toml") {
  LoadResult result = loadConfigText(text, path, fakeOptions());
  for (const ConfigError& error : result.errors) ADD_FAILURE() << error.format();
  return result.config.value_or(Config{});
}

class ContractExample : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_.write("certs/app.pem", testing::kTestCertPem);
    dir_.write("certs/app.key", testing::kTestKeyPem);
    std::string path = dir_.write("ringlb.toml", kContractExample);
    LoadResult result = loadConfigFile(path, fakeOptions());
    for (const ConfigError& error : result.errors) ADD_FAILURE() << error.format();
    ASSERT_TRUE(result.config);
    config_ = std::move(*result.config);
  }

  const ListenerConfig& listener(size_t index) { return config_.listeners.at(index); }

  TempDir dir_;
  Config config_;
};

TEST_F(ContractExample, GlobalAndAdminValues) {
  EXPECT_EQ(config_.global.workers, 0u);
  EXPECT_EQ(config_.global.maxConnections, 100000u);
  EXPECT_EQ(config_.global.drainTimeout, seconds(30));
  EXPECT_EQ(config_.global.logLevel, LogLevel::Info);
  EXPECT_EQ(config_.global.accessLog, "off");
  ASSERT_TRUE(config_.admin);
  EXPECT_EQ(config_.admin->bind.numeric(), "127.0.0.1:9900");
}

TEST_F(ContractExample, PoolWithThreeBackendForms) {
  const PoolConfig* pool = config_.findPool("api");
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(pool->balance, BalanceAlgorithm::RoundRobin);
  EXPECT_EQ(pool->hashKey.kind, HashKeyKind::SourceIp);
  EXPECT_EQ(pool->connectTimeout, seconds(2));
  EXPECT_EQ(pool->retries, 2u);
  ASSERT_EQ(pool->backends.size(), 3u);
  EXPECT_EQ(pool->backends[0].address, "127.0.0.1:9001");
  EXPECT_EQ(pool->backends[0].weight, 1u);
  EXPECT_EQ(pool->backends[1].weight, 3u);
  EXPECT_FALSE(pool->backends[1].backup);
  EXPECT_TRUE(pool->backends[2].backup);
  EXPECT_EQ(pool->backends[2].resolved.numeric(), "127.0.0.1:9003");
}

TEST_F(ContractExample, HealthCheck) {
  const PoolConfig* pool = config_.findPool("api");
  ASSERT_TRUE(pool && pool->health);
  const HealthConfig& health = *pool->health;
  EXPECT_EQ(health.check, HealthCheckKind::Http);
  EXPECT_EQ(health.interval, seconds(2));
  EXPECT_EQ(health.timeout, seconds(1));
  EXPECT_EQ(health.rise, 2u);
  EXPECT_EQ(health.fall, 3u);
  EXPECT_EQ(health.path, "/healthz");
  ASSERT_EQ(health.expectStatus.size(), 1u);
  EXPECT_EQ(health.expectStatus[0].low, 200);
  EXPECT_EQ(health.expectStatus[0].high, 399);
}

TEST_F(ContractExample, ListenersKeepFileOrder) {
  ASSERT_EQ(config_.listeners.size(), 4u);
  EXPECT_EQ(listener(0).name, "web");
  EXPECT_EQ(listener(1).name, "db");
  EXPECT_EQ(listener(2).name, "dns");
  EXPECT_EQ(listener(3).name, "egress");
}

TEST_F(ContractExample, HttpListenerWithTlsAndRoute) {
  const ListenerConfig& web = listener(0);
  EXPECT_EQ(web.bind.numeric(), "0.0.0.0:8080");
  EXPECT_EQ(web.mode, ListenerMode::Http);
  EXPECT_EQ(web.pool, "api");
  EXPECT_EQ(web.maxConnections, 10000u);
  EXPECT_EQ(web.effectiveIdleTimeout(), seconds(60));
  EXPECT_EQ(web.headerTimeout, seconds(10));
  EXPECT_EQ(web.responseTimeout, seconds(30));
  ASSERT_TRUE(web.tls);
  ASSERT_EQ(web.tls->certificates.size(), 1u);
  EXPECT_EQ(web.tls->certificates[0].certFile, (dir_.path() / "certs/app.pem").string());
  EXPECT_EQ(web.tls->certificates[0].keyFile, (dir_.path() / "certs/app.key").string());
  ASSERT_EQ(web.routes.size(), 1u);
  EXPECT_EQ(web.routes[0].host, "app.example.com");
  EXPECT_EQ(web.routes[0].pathPrefix, "/api");
  EXPECT_EQ(web.routes[0].pool, "api");
}

TEST_F(ContractExample, TcpUdpAndForwardListeners) {
  EXPECT_EQ(listener(1).mode, ListenerMode::Tcp);
  EXPECT_EQ(listener(1).effectiveIdleTimeout(), hours(1));
  EXPECT_EQ(listener(2).mode, ListenerMode::Udp);
  EXPECT_EQ(listener(2).effectiveIdleTimeout(), seconds(30));
  const ListenerConfig& egress = listener(3);
  EXPECT_EQ(egress.mode, ListenerMode::Forward);
  EXPECT_EQ(egress.allow, (std::vector<std::string>{"*.example.com", "10.0.0.0/8"}));
  EXPECT_EQ(egress.deny, (std::vector<std::string>{"evil.example.com"}));
  EXPECT_EQ(egress.connectPorts, (std::vector<uint16_t>{443}));
}

TEST(GoodConfig, MinimalConfigGetsTheDocumentedDefaults) {
  Config config = loadOk(kMinimal);
  EXPECT_EQ(config.global.workers, 0u);
  EXPECT_EQ(config.global.maxConnections, 100000u);
  EXPECT_EQ(config.global.drainTimeout, seconds(30));
  EXPECT_FALSE(config.admin);
  const PoolConfig& pool = config.pools.at("api");
  EXPECT_EQ(pool.balance, BalanceAlgorithm::RoundRobin);
  EXPECT_EQ(pool.retries, 2u);
  EXPECT_EQ(pool.slowStart, milliseconds(0));
  EXPECT_EQ(pool.passiveFailures, 5u);
  EXPECT_EQ(pool.ejectionTime, seconds(30));
  EXPECT_EQ(pool.maxEjectionPercent, 50u);
  EXPECT_FALSE(pool.health);
  const ListenerConfig& web = config.listeners.at(0);
  EXPECT_FALSE(web.idleTimeout);
  EXPECT_EQ(web.maxHeaderSize, 32768u);
  EXPECT_EQ(web.maxRequestLine, 8192u);
  EXPECT_EQ(web.maxHeaderFields, 100u);
  EXPECT_EQ(web.proxyProtocol, ProxyProtocol::Off);
  EXPECT_FALSE(web.acceptProxyProtocol);
  EXPECT_EQ(config.path, "/etc/ringlb/ringlb.toml");
}

TEST(GoodConfig, ExtensionKeysParse) {
  Config config = loadOk(R"(
[pools.api]
slow_start = "30s"
passive_failures = 0
ejection_time = "1.5s"
max_ejection_percent = 100
backends = ["127.0.0.1:9001"]
[pools.api.health]
check = "http"
host = "health.internal"
expect_status = "200,204,300-399"

[listeners.web]
bind = "[::1]:8080"
mode = "http"
max_header_size = 8192
accept_proxy_protocol = true
[[listeners.web.routes]]
path = "/admin"
methods = ["GET", "HEAD"]
headers = { X-Team = "ops" }
set_request_headers = { X-Forwarded-Proto = "https" }
remove_request_headers = ["Cookie"]
set_response_headers = { Cache-Control = "no-store" }
remove_response_headers = ["Server"]
pool = "api"

[listeners.db]
bind = "127.0.0.1:5432"
mode = "tcp"
pool = "api"
proxy_protocol = "v2"
)");
  const PoolConfig& pool = config.pools.at("api");
  EXPECT_EQ(pool.slowStart, seconds(30));
  EXPECT_EQ(pool.passiveFailures, 0u);
  EXPECT_EQ(pool.ejectionTime, milliseconds(1500));
  EXPECT_EQ(pool.maxEjectionPercent, 100u);
  EXPECT_EQ(pool.health->host, "health.internal");
  EXPECT_EQ(pool.health->expectStatus.size(), 3u);
  const ListenerConfig& web = config.listeners.at(0);
  EXPECT_EQ(web.bind.numeric(), "[::1]:8080");
  EXPECT_EQ(web.maxHeaderSize, 8192u);
  EXPECT_TRUE(web.acceptProxyProtocol);
  const RouteConfig& route = web.routes.at(0);
  EXPECT_EQ(route.path, "/admin");
  EXPECT_EQ(route.methods, (std::vector<std::string>{"GET", "HEAD"}));
  ASSERT_EQ(route.matchHeaders.size(), 1u);
  EXPECT_EQ(route.matchHeaders[0].name, "X-Team");
  EXPECT_EQ(route.matchHeaders[0].value, "ops");
  EXPECT_EQ(route.setRequestHeaders.at(0).name, "X-Forwarded-Proto");
  EXPECT_EQ(route.removeRequestHeaders, (std::vector<std::string>{"Cookie"}));
  EXPECT_EQ(route.setResponseHeaders.at(0).value, "no-store");
  EXPECT_EQ(route.removeResponseHeaders, (std::vector<std::string>{"Server"}));
  EXPECT_EQ(config.listeners.at(1).proxyProtocol, ProxyProtocol::V2);
}

TEST(GoodConfig, TcpAndUdpListenersMayShareAPort) {
  Config config = loadOk(R"(
[pools.dns]
backends = ["127.0.0.1:53"]
[listeners.dns_tcp]
bind = "0.0.0.0:5353"
mode = "tcp"
pool = "dns"
[listeners.dns_udp]
bind = "0.0.0.0:5353"
mode = "udp"
pool = "dns"
)");
  EXPECT_EQ(config.listeners.size(), 2u);
}

TEST(GoodConfig, BackendHostnameIsResolvedAndKeptAsWritten) {
  Config config = loadOk(R"(
[pools.db]
backends = ["db.internal:5432"]
[listeners.db]
bind = "127.0.0.1:5432"
mode = "tcp"
pool = "db"
)");
  const BackendConfig& backend = config.pools.at("db").backends.at(0);
  EXPECT_EQ(backend.address, "db.internal:5432");
  EXPECT_EQ(backend.resolved.numeric(), "10.0.0.7:5432");
}

TEST(GoodConfig, HashPoolReadsHeaderKey) {
  Config config = loadOk(R"(
[pools.api]
balance = "hash"
hash_key = "header:X-User"
backends = ["127.0.0.1:9001"]
[listeners.web]
bind = "127.0.0.1:8080"
mode = "http"
pool = "api"
)");
  const PoolConfig& pool = config.pools.at("api");
  EXPECT_EQ(pool.balance, BalanceAlgorithm::Hash);
  EXPECT_EQ(pool.hashKey.kind, HashKeyKind::Header);
  EXPECT_EQ(pool.hashKey.name, "X-User");
}

TEST(GoodConfig, HttpListenerWithRoutesOnlyNeedsNoDefaultPool) {
  Config config = loadOk(R"(
[pools.api]
backends = ["127.0.0.1:9001"]
[listeners.web]
bind = "127.0.0.1:8080"
mode = "http"
[[listeners.web.routes]]
host = "*.Example.COM"
pool = "api"
)");
  EXPECT_EQ(config.listeners.at(0).pool, "");
  EXPECT_EQ(config.listeners.at(0).routes.at(0).host, "*.example.com");
}

TEST(GoodConfig, ForwardListenerNeedsNoPool) {
  Config config = loadOk(R"(
[listeners.egress]
bind = "127.0.0.1:3128"
mode = "forward"
connect_ports = [443, 8443]
)");
  const ListenerConfig& egress = config.listeners.at(0);
  EXPECT_TRUE(egress.allow.empty());
  EXPECT_EQ(egress.connectPorts, (std::vector<uint16_t>{443, 8443}));
}

TEST(GoodConfig, EgressKeysParse) {
  Config config = loadOk(R"(
[global]
resolvers = ["192.0.2.53", "192.0.2.54:5353", "2001:db8::53", "[2001:db8::54]:5300"]
[listeners.egress]
bind = "127.0.0.1:3128"
mode = "forward"
source = "192.0.2.10"
max_connections_per_client = 64
)");
  const auto& r = config.global.resolvers;
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0].numeric(), "192.0.2.53:53");
  EXPECT_EQ(r[1].numeric(), "192.0.2.54:5353");
  EXPECT_EQ(r[2].numeric(), "[2001:db8::53]:53");
  EXPECT_EQ(r[3].numeric(), "[2001:db8::54]:5300");
  const ListenerConfig& egress = config.listeners.at(0);
  ASSERT_TRUE(egress.source.has_value());
  EXPECT_EQ(egress.source->family(), AF_INET);
  EXPECT_EQ(egress.source->port(), 0);
  EXPECT_EQ(egress.maxConnectionsPerClient, 64u);
  EXPECT_TRUE(egress.usersFile.empty());
  EXPECT_FALSE(egress.proxyAuth.has_value()) << "no login without users_file";
}

TEST(GoodConfig, AccessLogRelativePathIsResolvedAgainstTheConfigDirectory) {
  Config config =
      loadOk(std::string("[global]\naccess_log = \"logs/access.json\"\n") + std::string(kMinimal),
             "/etc/ringlb/ringlb.toml");
  EXPECT_EQ(config.global.accessLog, "/etc/ringlb/logs/access.json");
}

TEST(GoodConfig, FilesAreNotCheckedWhenTheOptionsSaySo) {
  LoadOptions options = fakeOptions();
  options.checkFiles = false;
  LoadResult result = loadConfigText(R"(
[pools.api]
backends = ["127.0.0.1:9001"]
[listeners.web]
bind = "127.0.0.1:8443"
mode = "http"
pool = "api"
tls = { certificates = [{ cert = "missing.pem", key = "missing.key" }] }
)",
                                     "/srv/ringlb.toml", options);
  ASSERT_TRUE(result.config);
  EXPECT_EQ(result.config->listeners.at(0).tls->certificates.at(0).certFile, "/srv/missing.pem");
}

}  // namespace
}  // namespace ringlb::config::load_good_test
