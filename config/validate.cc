#include "config/validate.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <filesystem>
#include <map>
#include <set>
#include <system_error>

#include "config/address.h"
#include "config/auth_files.h"
#include "config/duration.h"
#include "config/suggest.h"
#include "config/tls_files.h"

namespace ringlb::config {
namespace {

constexpr size_t kMaxSuggestionCandidates = 1000;

std::string_view withArticle(ListenerMode mode) {
  switch (mode) {
    case ListenerMode::Tcp: return "a tcp";
    case ListenerMode::Udp: return "a udp";
    case ListenerMode::Http: return "an http";
    case ListenerMode::Forward: return "a forward";
  }
  return "?";
}

std::string_view modeName(ListenerMode mode) {
  switch (mode) {
    case ListenerMode::Tcp: return "tcp";
    case ListenerMode::Udp: return "udp";
    case ListenerMode::Http: return "http";
    case ListenerMode::Forward: return "forward";
  }
  return "?";
}

// Listener keys that only some modes use; indexed by ListenerMode
// (tcp, udp, http, forward).
struct ModeRule {
  std::string_view key;
  std::array<bool, 4> allowed;
};

constexpr std::array kModeRules = std::to_array<ModeRule>({
    {"pool", {true, true, true, false}},
    {"tls", {true, false, true, false}},
    {"routes", {false, false, true, false}},
    {"header_timeout", {false, false, true, true}},
    {"response_timeout", {false, false, true, true}},
    {"max_header_size", {false, false, true, true}},
    {"max_request_line", {false, false, true, true}},
    {"max_header_fields", {false, false, true, true}},
    {"max_body_size", {false, false, true, true}},
    {"allow", {false, false, false, true}},
    {"deny", {false, false, false, true}},
    {"connect_ports", {false, false, false, true}},
    {"users_file", {false, false, false, true}},
    {"source", {false, false, false, true}},
    {"max_connections_per_client", {false, false, false, true}},
    {"proxy_protocol", {true, false, false, false}},
    {"accept_proxy_protocol", {true, false, true, false}},
    {"protocols", {false, false, true, false}},
    {"transparent", {true, false, false, false}},
});

constexpr std::array kModes = {ListenerMode::Tcp, ListenerMode::Udp, ListenerMode::Http,
                               ListenerMode::Forward};

std::string allowedModes(const ModeRule& rule) {
  std::vector<std::string_view> names;
  for (ListenerMode mode : kModes) {
    if (rule.allowed[static_cast<size_t>(mode)]) names.push_back(modeName(mode));
  }
  return fmt::format("{}", fmt::join(names, ", "));
}

// Opens without blocking (a FIFO must not hang the loader) and wants a regular file.
bool readableFile(const std::string& path, std::string* error) {
  if (path.find('\0') != std::string::npos) {
    *error = "the path contains a NUL byte";
    return false;
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    *error = std::generic_category().message(errno);
    return false;
  }
  struct stat st {};
  bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  ::close(fd);
  if (!regular) *error = "not a regular file";
  return regular;
}

class Validator {
 public:
  Validator(Config& config, const SourceMap& sources, const LoadOptions& options, Diagnostics& diag)
      : config_(config),
        sources_(sources),
        options_(options),
        diag_(diag),
        configDir_(std::filesystem::path(config.path).parent_path()) {}

  void run() {
    checkGlobal();
    for (auto& [name, pool] : config_.pools) checkPool(pool);
    if (config_.listeners.empty() && diag_.empty()) {
      diag_.error({1, 1}, "no listeners: define at least one [listeners.NAME] section");
    }
    for (ListenerConfig& listener : config_.listeners) checkListener(listener);
    checkBindConflicts();
    checkPoolProtocols();
  }

 private:
  // Reports at the key's position, or at `fallback` when the key is absent.
  void error(const std::string& path, SourcePos fallback, const std::string& message) {
    SourcePos pos = sources_.at(path);
    diag_.error(pos.line != 0 ? pos : fallback, path + ": " + message);
  }

  // The value in the model is the user's (valid) or the default (absent).
  bool known(const std::string& path) const {
    return !sources_.present(path) || sources_.valid(path);
  }

  std::string resolvePath(const std::string& path) const {
    std::filesystem::path p(path);
    if (p.is_absolute() || configDir_.empty()) return path;
    return (configDir_ / p).string();
  }

  void checkGlobal() {
    std::string& log = config_.global.accessLog;
    if (log != "off" && log != "stdout" && log != "stderr" && !log.empty()) log = resolvePath(log);
  }

  void checkPool(PoolConfig& pool) {
    const std::string path = sectionPath("pools", pool.name);
    // The default key is let through: the CONFIG.md example writes it next to
    // round_robin, and it changes nothing there.
    bool customKey = pool.hashKey.kind != HashKeyKind::SourceIp;
    if (sources_.valid(path + ".hash_key") && customKey && known(path + ".balance") &&
        pool.balance != BalanceAlgorithm::Hash) {
      error(path + ".hash_key", pool.pos, "only used with balance = \"hash\"");
    }
    if (pool.health) checkHealth(*pool.health, path + ".health", pool.pos);
    if (pool.tls) checkPoolTls(pool, path);
    checkBackends(pool, path);
    if (sources_.valid(path + ".refresh") && pool.refresh < std::chrono::seconds(1)) {
      error(path + ".refresh", pool.pos, "must be at least 1s (each refresh is a DNS query)");
    }
  }

  void checkPoolTls(PoolConfig& pool, const std::string& path) {
    PoolTlsConfig& tls = *pool.tls;
    if (checkFile(tls.caFile, path + ".tls.ca") && options_.checkFiles && !tls.caFile.empty()) {
      std::string problem = checkCaFile(tls.caFile);
      if (!problem.empty()) error(path + ".tls.ca", {}, problem);
    }
    bool readable = checkFile(tls.certFile, path + ".tls.cert");
    readable = checkFile(tls.keyFile, path + ".tls.key") && readable;
    if (readable && options_.checkFiles && !tls.certFile.empty() && !tls.keyFile.empty()) {
      auto problem = checkCertificatePair(tls.certFile, tls.keyFile);
      if (!problem.message.empty()) {
        error(path + (problem.inKey ? ".tls.key" : ".tls.cert"), {}, problem.message);
      }
    }
  }

  void checkHealth(const HealthConfig& health, const std::string& path, SourcePos fallback) {
    if (health.check != HealthCheckKind::Http && known(path + ".check")) {
      for (std::string_view key : {"path", "expect_status", "host"}) {
        std::string keyPath = path + "." + std::string(key);
        if (sources_.present(keyPath)) {
          error(keyPath, fallback, "only used by http checks (check = \"http\")");
        }
      }
    }
    if (sources_.valid(path + ".timeout") && health.timeout > health.interval) {
      error(path + ".timeout", fallback,
            fmt::format("must not be longer than interval ({})", formatDuration(health.interval)));
    }
  }

  void checkBackends(PoolConfig& pool, const std::string& path) {
    std::set<std::string_view> seen;
    for (size_t i = 0; i < pool.backends.size(); ++i) {
      BackendConfig& backend = pool.backends[i];
      const std::string backendPath = fmt::format("{}.backends[{}]", path, i);
      if (!backend.address.empty() && !seen.insert(backend.address).second) {
        error(backendPath, backend.pos,
              fmt::format("{} is listed twice in this pool", quote(backend.address)));
      }
      resolveBackend(backend, backendPath);
    }
  }

  void resolveBackend(BackendConfig& backend, const std::string& path) {
    if (backend.address.empty()) return;  // already reported by the parser
    std::string why;
    auto addr = options_.resolve ? options_.resolve(backend.address, &why)
                                 : resolveAddress(backend.address, &why);
    if (!addr) {
      error(path, backend.pos, why);
    } else if (addr->port() == 0) {
      error(path, backend.pos, "port 0 is not allowed");
    } else {
      backend.resolved = std::move(*addr);
    }
  }

  void checkListener(ListenerConfig& listener) {
    const std::string path = sectionPath("listeners", listener.name);
    if (sources_.valid(path + ".mode")) {
      checkModeKeys(listener, path);
      checkNeedsPool(listener, path);
    }
    checkPoolReference(path + ".pool", listener.pool, listener.pos);
    for (size_t i = 0; i < listener.routes.size(); ++i) {
      RouteConfig& route = listener.routes[i];
      const std::string routePath = fmt::format("{}.routes[{}]", path, i);
      checkPoolReference(routePath + ".pool", route.pool, route.pos);
      checkRouteRewrites(route, routePath);
      checkRouteGateway(route, routePath);
    }
    if (listener.tls) checkCertificates(*listener.tls, path + ".tls");
    if (listener.mode == ListenerMode::Forward && sources_.valid(path + ".users_file")) {
      listener.proxyAuth.emplace();
      listener.proxyAuth->usersFile = listener.usersFile;
      listener.proxyAuth->realm = "ringlb proxy";
      loadAuthFile(*listener.proxyAuth, path);
    }
    if (listener.mode == ListenerMode::Http && sources_.valid(path + ".protocols")) {
      checkProtocols(listener, path + ".protocols");
    }
  }

  // h2 is negotiated by ALPN, so only over TLS; h2c is prior knowledge on a
  // plain listener (a TLS client that wants HTTP/2 asks for h2).
  void checkProtocols(const ListenerConfig& listener, const std::string& path) {
    bool tls = listener.tls.has_value();
    if (tls && listener.speaks(HttpProtocol::H2c)) {
      error(path, listener.pos,
            "\"h2c\" is HTTP/2 without TLS; a TLS listener offers \"h2\" instead");
    }
    if (!tls && listener.speaks(HttpProtocol::H2)) {
      error(path, listener.pos,
            "\"h2\" needs [tls] on this listener (ALPN); plain listeners accept \"h2c\"");
    }
  }

  void checkModeKeys(const ListenerConfig& listener, const std::string& path) {
    for (const ModeRule& rule : kModeRules) {
      std::string keyPath = path + "." + std::string(rule.key);
      if (sources_.present(keyPath) && !rule.allowed[static_cast<size_t>(listener.mode)]) {
        error(keyPath, listener.pos,
              fmt::format("not allowed on {} listener (only {})", withArticle(listener.mode),
                          allowedModes(rule)));
      }
    }
  }

  void checkNeedsPool(const ListenerConfig& listener, const std::string& path) {
    bool hasPool = sources_.present(path + ".pool");
    if ((listener.mode == ListenerMode::Tcp || listener.mode == ListenerMode::Udp) && !hasPool) {
      diag_.error(listener.pos,
                  fmt::format("{}: {} listener needs \"pool\"", path, withArticle(listener.mode)));
    }
    bool hasRoutes = sources_.valid(path + ".routes");  // a non-empty array
    if (listener.mode == ListenerMode::Http && !hasPool && !hasRoutes) {
      diag_.error(listener.pos, path + ": an http listener needs \"pool\" or \"routes\"");
    }
  }

  void checkRouteRewrites(const RouteConfig& route, const std::string& path) {
    if (sources_.present(path + ".redirect_code") && !sources_.present(path + ".redirect")) {
      error(path + ".redirect_code", route.pos, "only used with redirect");
    }
    if (sources_.valid(path + ".rewrite_prefix")) {
      if (sources_.present(path + ".redirect")) {
        error(path + ".rewrite_prefix", route.pos,
              "a redirect route sends nothing upstream: remove rewrite_prefix");
      } else if (route.pathPrefix.empty()) {
        error(path + ".rewrite_prefix", route.pos,
              "replaces the matched path_prefix: this route needs path_prefix");
      }
    }
  }

  // A redirect answers before any gateway phase and sends nothing upstream.
  void checkRouteGateway(RouteConfig& route, const std::string& path) {
    if (sources_.present(path + ".redirect")) {
      for (std::string_view key : {"rate_limit", "auth", "cors", "compress", "cache"}) {
        std::string keyPath = path + "." + std::string(key);
        if (sources_.present(keyPath)) {
          error(keyPath, route.pos,
                fmt::format("a redirect route sends nothing upstream: remove {}", key));
        }
      }
      return;
    }
    if (route.auth && sources_.valid(path + ".auth")) loadAuthFile(*route.auth, path + ".auth");
    if (route.cache) checkCache(*route.cache, path + ".cache", route.pos);
  }

  void checkCache(const CacheConfig& cache, const std::string& path, SourcePos pos) {
    constexpr uint64_t kMinCache = uint64_t{1} << 20;
    if (cache.maxSize < kMinCache) {
      error(path + ".max_size", pos,
            fmt::format("{} bytes is too small for a cache: at least 1MiB", cache.maxSize));
    }
    // The store is 16 shards of max_size / 16 (l7/cache/cache_store.h).
    if (cache.maxObjectSize == 0 || cache.maxObjectSize > cache.maxSize / 16) {
      error(path + ".max_object_size", pos,
            fmt::format("must be between 1 and max_size / 16 ({} bytes: the cache is 16 shards "
                        "of that size, and an object is kept in one)",
                        cache.maxSize / 16));
    }
  }

  // Resolves the auth's file and reads it into `credentials`; a file named by
  // several routes is read once per load.
  void loadAuthFile(AuthConfig& auth, const std::string& path) {
    auto [file, key] = auth.type == AuthType::Basic    ? std::pair(&auth.usersFile, "users_file")
                       : auth.type == AuthType::ApiKey ? std::pair(&auth.keysFile, "keys_file")
                                                       : std::pair(&auth.jwksFile, "jwks_file");
    const std::string keyPath = path + "." + key;
    if (!checkFile(*file, keyPath)) return;
    if (!options_.checkFiles) {
      // Files unread on purpose (tests, fuzzing): nobody authenticates.
      auth.credentials = std::make_shared<const AuthCredentials>();
      return;
    }
    auto cached = authFiles_.find({auth.type, *file});
    if (cached == authFiles_.end()) {
      cached =
          authFiles_.emplace(std::pair(auth.type, *file), readAuthFile(auth.type, *file)).first;
    }
    if (!cached->second.error.empty()) error(keyPath, {}, cached->second.error);
    auth.credentials = cached->second.credentials;
  }

  // HTTP/2 to the backends is spoken for http listeners only.
  void checkPoolProtocols() {
    std::set<std::string_view> reported;
    for (const ListenerConfig& listener : config_.listeners) {
      const std::string path = sectionPath("listeners", listener.name);
      bool stream = listener.mode == ListenerMode::Tcp || listener.mode == ListenerMode::Udp;
      const PoolConfig* pool = config_.findPool(listener.pool);
      if (!stream || !sources_.valid(path + ".mode") || pool == nullptr ||
          pool->protocol != UpstreamProtocol::H2 || !reported.insert(pool->name).second) {
        continue;
      }
      error(sectionPath("pools", pool->name) + ".protocol", pool->pos,
            fmt::format("\"h2\" is for pools of http listeners, and {} listener \"{}\" (line {}) "
                        "uses this pool",
                        modeName(listener.mode), listener.name, listener.pos.line));
    }
  }

  void checkPoolReference(const std::string& path, const std::string& name, SourcePos fallback) {
    if (name.empty() || config_.findPool(name) != nullptr) return;
    std::vector<std::string_view> names;
    // Suggestions cost O(pools) each; skip them for absurdly large files.
    if (config_.pools.size() <= kMaxSuggestionCandidates) {
      for (const auto& [poolName, pool] : config_.pools) names.push_back(poolName);
    }
    std::string message = fmt::format("no pool named {}", quote(name));
    if (auto guess = closestMatch(name, names)) {
      message += fmt::format(" (did you mean \"{}\"?)", *guess);
    }
    error(path, fallback, message);
  }

  void checkCertificates(TlsConfig& tls, const std::string& path) {
    if (checkFile(tls.clientCa, path + ".client_ca") && options_.checkFiles &&
        !tls.clientCa.empty()) {
      std::string problem = checkCaFile(tls.clientCa);
      if (!problem.empty()) error(path + ".client_ca", {}, problem);
    }
    for (size_t i = 0; i < tls.certificates.size(); ++i) {
      CertificateConfig& cert = tls.certificates[i];
      const std::string certPath = fmt::format("{}.certificates[{}]", path, i);
      bool readable = checkFile(cert.certFile, certPath + ".cert");
      readable = checkFile(cert.keyFile, certPath + ".key") && readable;
      if (checkFile(cert.ocspFile, certPath + ".ocsp") && readable && options_.checkFiles &&
          !cert.ocspFile.empty()) {
        std::string problem = checkOcspResponse(cert.ocspFile, cert.certFile);
        if (!problem.empty()) error(certPath + ".ocsp", {}, problem);
      }
      if (!readable || !options_.checkFiles || cert.certFile.empty() || cert.keyFile.empty()) {
        continue;
      }
      auto problem = checkCertificatePair(cert.certFile, cert.keyFile);
      if (!problem.message.empty()) {
        error(certPath + (problem.inKey ? ".key" : ".cert"), {}, problem.message);
      }
    }
  }

  // Resolves `file` in place; false when it was checked and is unreadable.
  bool checkFile(std::string& file, const std::string& path) {
    if (file.empty()) return true;
    std::string resolved = resolvePath(file);
    std::string why;
    bool ok = true;
    if (options_.checkFiles && !readableFile(resolved, &why)) {
      std::string shown =
          resolved == file ? quote(file) : fmt::format("{} ({})", quote(file), quote(resolved));
      error(path, {}, fmt::format("cannot read {}: {}", shown, why));
      ok = false;
    }
    file = std::move(resolved);
    return ok;
  }

  // Keyed by (udp?, numeric address); a set, not pairwise, so that huge
  // generated files stay fast.
  void checkBindConflicts() {
    std::map<std::pair<bool, std::string>, const ListenerConfig*> seen;
    for (const ListenerConfig& listener : config_.listeners) {
      const std::string path = sectionPath("listeners", listener.name);
      if (!sources_.valid(path + ".bind") || !sources_.valid(path + ".mode")) continue;
      auto [it, added] =
          seen.emplace(std::pair(isUdp(listener), listener.bind.numeric()), &listener);
      if (!added) {
        error(path + ".bind", listener.pos,
              fmt::format("{} is already used by listener \"{}\" (line {})",
                          listener.bind.numeric(), it->second->name, it->second->pos.line));
      }
    }
    if (!config_.admin || !sources_.valid("admin.bind")) return;
    auto it = seen.find(std::pair(false, config_.admin->bind.numeric()));
    if (it != seen.end()) {
      error("admin.bind", {},
            fmt::format("{} is already used by listener \"{}\"", config_.admin->bind.numeric(),
                        it->second->name));
    }
  }

  static bool isUdp(const ListenerConfig& listener) { return listener.mode == ListenerMode::Udp; }

  Config& config_;
  const SourceMap& sources_;
  const LoadOptions& options_;
  Diagnostics& diag_;
  std::filesystem::path configDir_;
  std::map<std::pair<AuthType, std::string>, AuthFileResult> authFiles_;
};

}  // namespace

void validateConfig(Config& config, const SourceMap& sources, const LoadOptions& options,
                    Diagnostics& diag) {
  Validator(config, sources, options, diag).run();
}

}  // namespace ringlb::config
