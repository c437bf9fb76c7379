#include "config/parse.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <initializer_list>
#include <tuple>
#include <utility>

#include "common/ascii.h"
#include "config/address.h"
#include "config/duration.h"
#include "config/schema.h"
#include "config/size.h"
#include "config/suggest.h"
#include "config/values.h"

namespace ringlb::config {

void SourceMap::record(const std::string& path, SourcePos pos, bool valid) {
  entries_[path] = {pos, valid};
}

bool SourceMap::valid(const std::string& path) const {
  auto it = entries_.find(path);
  return it != entries_.end() && it->second.valid;
}

SourcePos SourceMap::at(const std::string& path) const {
  auto it = entries_.find(path);
  return it == entries_.end() ? SourcePos{} : it->second.pos;
}

std::vector<std::string> SourceMap::paths() const {
  std::vector<std::string> out;
  for (const auto& [path, entry] : entries_) out.push_back(path);
  return out;
}

std::string sectionPath(std::string_view prefix, std::string_view name) {
  return std::string(prefix) + "." + (isValidName(name) ? std::string(name) : quote(name));
}

namespace {

constexpr int64_t kMaxConnections = 10'000'000;
constexpr int64_t kMaxRate = 1'000'000'000;

template <typename E>
using Choices = std::initializer_list<std::pair<std::string_view, E>>;

SourcePos posOf(const toml::source_region& region) {
  return {region.begin.line, region.begin.column};
}
SourcePos posOf(const toml::node& node) { return posOf(node.source()); }

std::string_view describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date:
    case toml::node_type::time:
    case toml::node_type::date_time: return "a date/time";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    case toml::node_type::none: break;
  }
  return "nothing";
}

bool hasShape(const toml::node& node, ValueType type) {
  switch (type) {
    case ValueType::Integer: return node.is_integer();
    case ValueType::Size: return node.is_integer() || node.is_string();
    case ValueType::Boolean: return node.is_boolean();
    case ValueType::String:
    case ValueType::DurationString:
    case ValueType::Address: return node.is_string();
    case ValueType::StringArray:
    case ValueType::IntegerArray:
    case ValueType::TableArray:
    case ValueType::BackendArray: return node.is_array();
    case ValueType::StringTable:
    case ValueType::Table:
    case ValueType::NamedTables: return node.is_table();
  }
  return false;
}

std::string_view expected(ValueType type) {
  switch (type) {
    case ValueType::Integer: return "an integer";
    case ValueType::Boolean: return "true or false";
    case ValueType::String: return "a string";
    case ValueType::DurationString: return "a duration string like \"2s\"";
    case ValueType::Size: return "a size: an integer number of bytes or a string like \"100MiB\"";
    case ValueType::Address: return "an address string like \"127.0.0.1:8080\"";
    case ValueType::StringArray: return "an array of strings";
    case ValueType::IntegerArray: return "an array of integers";
    case ValueType::StringTable: return "a table of strings";
    case ValueType::Table:
    case ValueType::NamedTables: return "a table";
    case ValueType::TableArray: return "an array of tables";
    case ValueType::BackendArray: return "an array of backends";
  }
  return "?";
}

template <typename T, typename U>
bool assign(T& field, std::optional<U> value) {
  if (!value) return false;
  field = std::move(*value);
  return true;
}

std::string indexed(const std::string& path, size_t index) {
  return fmt::format("{}[{}]", path, index);
}

const std::string& str(const toml::node& node) { return node.as_string()->get(); }

std::string upperCopy(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
  return out;
}

// Headers that carry HTTP framing or connection state: a route may not edit them.
bool isFramingHeader(std::string_view name) {
  return equalsIgnoreCase(name, "content-length") || equalsIgnoreCase(name, "transfer-encoding") ||
         equalsIgnoreCase(name, "connection");
}

class Parser {
 public:
  explicit Parser(Diagnostics& diag) : diag_(diag) {}

  ParsedConfig run(const toml::table& root) {
    walk(root, Section::Root, "", "at top level", [&](std::string_view key, const toml::node& v) {
      if (key == "global") return global(*v.as_table());
      if (key == "admin") return admin(*v.as_table());
      if (key == "pools") return pools(*v.as_table());
      if (key == "listeners") return listeners(*v.as_table());
      return unhandled(v, key);
    });
    std::stable_sort(config_.listeners.begin(), config_.listeners.end(),
                     [](const ListenerConfig& a, const ListenerConfig& b) {
                       return std::pair(a.pos.line, a.pos.column) <
                              std::pair(b.pos.line, b.pos.column);
                     });
    return {std::move(config_), std::move(sources_)};
  }

 private:
  // Calls handle(key, value) for each key of `table` that the schema knows in
  // `section` and whose value has the right TOML type, and reports the
  // others; handle returns whether it accepted the value.
  template <typename Fn>
  void walk(const toml::table& table, Section section, const std::string& path,
            const std::string& where, Fn&& handle) {
    for (auto&& [key, value] : table) {
      const KeyInfo* info = findKey(section, key.str());
      if (info == nullptr) {
        unknownKey(key, section, where);
        continue;
      }
      std::string keyPath =
          path.empty() ? std::string(key.str()) : path + "." + std::string(info->key);
      bool ok = hasShape(value, info->type);
      if (!ok) {
        fail(value, keyPath,
             fmt::format("expected {}, got {}", expected(info->type), describe(value)));
      } else {
        path_ = keyPath;
        ok = handle(key.str(), value);
      }
      sources_.record(keyPath, posOf(value), ok);
    }
  }

  void unknownKey(const toml::key& key, Section section, const std::string& where) {
    std::string message = fmt::format("unknown key {} {}", quote(key.str()), where);
    if (auto guess = closestMatch(key.str(), keysOf(section))) {
      message += fmt::format(" (did you mean \"{}\"?)", *guess);
    }
    diag_.error(posOf(key.source()), std::move(message));
  }

  void fail(const toml::node& node, const std::string& path, const std::string& message) {
    diag_.error(posOf(node), path + ": " + message);
  }

  bool unhandled(const toml::node& node, std::string_view key) {
    fail(node, path_, fmt::format("internal error: key \"{}\" has no parser", key));
    return false;
  }

  void requireKey(const toml::table& table, const std::string& path, std::string_view key) {
    if (!table.contains(key)) {
      fail(table, path, fmt::format("missing required key \"{}\"", key));
    }
  }

  // ---- single values; `path_` names the key being read ----

  std::optional<uint32_t> integer(const toml::node& node, int64_t min, int64_t max) {
    int64_t value = node.as_integer()->get();
    if (value < min || value > max) {
      fail(node, path_, fmt::format("{} is out of range ({}..{})", value, min, max));
      return std::nullopt;
    }
    return static_cast<uint32_t>(value);
  }

  std::optional<Duration> duration(const toml::node& node, bool allowZero) {
    std::string error;
    auto value = parseDuration(str(node), &error);
    if (!value) {
      fail(node, path_, fmt::format("{}: {}", quote(str(node)), error));
    } else if (!allowZero && value->count() == 0) {
      fail(node, path_, "must be more than 0");
      value.reset();
    }
    return value;
  }

  std::optional<uint64_t> size(const toml::node& node) {
    if (node.is_integer()) {
      int64_t value = *node.value<int64_t>();
      if (value < 0 || static_cast<uint64_t>(value) > kMaxSize) {
        fail(node, path_, fmt::format("must be between 0 and {} bytes (1TiB)", kMaxSize));
        return std::nullopt;
      }
      return static_cast<uint64_t>(value);
    }
    std::string error;
    auto value = parseSize(str(node), &error);
    if (!value) fail(node, path_, fmt::format("{}: {}", quote(str(node)), error));
    return value;
  }

  template <typename E>
  std::optional<E> choice(const toml::node& node, Choices<E> choices) {
    std::vector<std::string_view> names;
    for (const auto& [name, value] : choices) {
      if (name == str(node)) return value;
      names.push_back(name);
    }
    std::string message =
        fmt::format("{} is not one of: {}", quote(str(node)), fmt::join(names, ", "));
    if (auto guess = closestMatch(str(node), names)) {
      message += fmt::format(" (did you mean \"{}\"?)", *guess);
    }
    fail(node, path_, message);
    return std::nullopt;
  }

  template <typename T>
  std::optional<T> checked(const toml::node& node, std::optional<T> value,
                           const std::string& error) {
    if (!value) fail(node, path_, error);
    return value;
  }

  std::optional<std::string> nonEmpty(const toml::node& node) {
    if (str(node).empty()) {
      fail(node, path_, "must not be empty");
      return std::nullopt;
    }
    return str(node);
  }

  std::optional<std::string> urlPath(const toml::node& node) {
    const std::string& value = str(node);
    bool ok = !value.empty() && value.front() == '/' &&
              std::none_of(value.begin(), value.end(), [](char c) {
                return static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
              });
    if (!ok) fail(node, path_, "must start with \"/\" and contain no spaces or control bytes");
    return ok ? std::optional(value) : std::nullopt;
  }

  // A numeric IP with an optional port ("192.0.2.1", "192.0.2.1:53",
  // "::1", "[::1]:53"); `defaultPort` when none is given (0: none allowed).
  std::optional<SocketAddress> hostAddress(const toml::node& node, uint16_t defaultPort) {
    if (!node.is_string()) {
      fail(node, path_, fmt::format("expected a string, got {}", describe(node)));
      return std::nullopt;
    }
    const std::string& text = str(node);
    std::string error;
    std::optional<SocketAddress> addr;
    // A bare IPv4 address, or a bare IPv6 one (more than one ':', no brackets).
    bool bareV6 = std::count(text.begin(), text.end(), ':') > 1 && !text.starts_with('[');
    bool bareV4 = text.find(':') == std::string::npos;
    std::string port = std::to_string(defaultPort);
    if (bareV6) {
      addr = parseNumericAddress("[" + text + "]:" + port, &error);
    } else if (bareV4) {
      addr = parseNumericAddress(text + ":" + port, &error);
    } else if (defaultPort != 0) {
      addr = parseNumericAddress(text, &error);
    } else {
      error = fmt::format("\"{}\" has a port: only the address is expected", text);
    }
    if (!addr) {
      fail(node, path_,
           fmt::format("{} ({})", error,
                       defaultPort != 0
                           ? fmt::format("\"IP\" or \"IP:PORT\", port {} by default", defaultPort)
                           : std::string("a numeric IP address without a port")));
    } else if (defaultPort != 0 && addr->port() == 0) {
      fail(node, path_, "port 0 is not allowed");
      addr.reset();
    }
    return addr;
  }

  std::optional<SocketAddress> bindAddress(const toml::node& node) {
    std::string error;
    auto addr = parseNumericAddress(str(node), &error);
    if (!addr) {
      fail(node, path_,
           error + " (bind addresses must be numeric: \"IP:PORT\" or \"[IPv6]:PORT\")");
    } else if (addr->port() == 0) {
      fail(node, path_, "port 0 is not allowed");
      addr.reset();
    }
    return addr;
  }

  // One T per element, in order (so that indexes in messages stay right),
  // from check(element) which reports its own problems.
  template <typename T, typename Check>
  std::vector<T> each(const toml::node& node, Check&& check) {
    std::vector<T> out;
    const std::string path = path_;
    size_t index = 0;
    for (const toml::node& element : *node.as_array()) {
      path_ = indexed(path, index++);
      out.push_back(check(element));
    }
    path_ = path;
    return out;
  }

  // Every element checked with check(element) -> optional<T>; nullopt unless
  // all of them pass.
  template <typename T, typename Check>
  std::optional<std::vector<T>> list(const toml::node& node, Check&& check) {
    std::vector<T> out;
    bool ok = true;
    const std::string path = path_;
    size_t index = 0;
    for (const toml::node& element : *node.as_array()) {
      path_ = indexed(path, index++);
      std::optional<T> value = check(element);
      ok = ok && value.has_value();
      if (value) out.push_back(std::move(*value));
    }
    path_ = path;
    return ok ? std::optional(std::move(out)) : std::nullopt;
  }

  std::optional<std::string> stringElement(const toml::node& element) {
    if (!element.is_string()) {
      fail(element, path_, fmt::format("expected a string, got {}", describe(element)));
      return std::nullopt;
    }
    return str(element);
  }

  std::optional<std::string> headerName(const toml::node& element, bool editable) {
    auto name = stringElement(element);
    if (!name) return std::nullopt;
    if (!isHttpToken(*name)) {
      fail(element, path_, fmt::format("{} is not a valid header name", quote(*name)));
      return std::nullopt;
    }
    if (editable && isFramingHeader(*name)) {
      fail(element, path_, fmt::format("{} carries HTTP framing and cannot be changed", *name));
      return std::nullopt;
    }
    return name;
  }

  std::optional<std::vector<std::string>> nonEmptyList(const toml::node& node) {
    if (node.as_array()->empty()) {
      fail(node, path_, "must not be empty (leave the key out instead)");
      return std::nullopt;
    }
    return std::vector<std::string>{};
  }

  std::optional<std::vector<HeaderEdit>> headerTable(const toml::node& node, bool editable) {
    std::vector<HeaderEdit> out;
    bool ok = true;
    const std::string path = path_;
    for (auto&& [key, value] : *node.as_table()) {
      path_ = path + "." + (isHttpToken(key.str()) ? std::string(key.str()) : quote(key.str()));
      if (!isHttpToken(key.str()) || (editable && isFramingHeader(key.str()))) {
        diag_.error(posOf(key.source()), fmt::format("{}: {} cannot be used as a header name here",
                                                     path_, quote(key.str())));
        ok = false;
        continue;
      }
      auto headerValue = stringElement(value);
      if (headerValue && !isSafeHeaderValue(*headerValue)) {
        fail(value, path_, "header value must not contain CR, LF or NUL");
        headerValue.reset();
      }
      ok = ok && headerValue.has_value();
      if (headerValue) out.push_back({std::string(key.str()), std::move(*headerValue)});
    }
    path_ = path;
    return ok ? std::optional(std::move(out)) : std::nullopt;
  }

  // ---- sections ----

  bool global(const toml::table& table) {
    GlobalConfig& g = config_.global;
    walk(table, Section::Global, "global", "in [global]",
         [&](std::string_view key, const toml::node& v) {
           if (key == "workers") return assign(g.workers, integer(v, 0, 1024));
           if (key == "max_connections") {
             return assign(g.maxConnections, integer(v, 1, kMaxConnections));
           }
           if (key == "drain_timeout") return assign(g.drainTimeout, duration(v, true));
           if (key == "log_level") {
             return assign(g.logLevel, choice<LogLevel>(v, {{"error", LogLevel::Error},
                                                            {"warn", LogLevel::Warn},
                                                            {"info", LogLevel::Info},
                                                            {"debug", LogLevel::Debug}}));
           }
           if (key == "access_log") return assign(g.accessLog, nonEmpty(v));
           if (key == "watch_config") return assign(g.watchConfig, v.value<bool>());
           if (key == "resolvers") {
             return nonEmptyList(v) &&
                    assign(g.resolvers, list<SocketAddress>(v, [&](const toml::node& e) {
                             return hostAddress(e, 53);
                           }));
           }
           return unhandled(v, key);
         });
    return true;
  }

  bool admin(const toml::table& table) {
    AdminConfig adminConfig;
    walk(table, Section::Admin, "admin", "in [admin]",
         [&](std::string_view key, const toml::node& v) {
           if (key == "bind") return assign(adminConfig.bind, bindAddress(v));
           return unhandled(v, key);
         });
    requireKey(table, "admin", "bind");
    config_.admin = std::move(adminConfig);
    return true;
  }

  bool pools(const toml::table& table) {
    return namedSections(table, "pools", "a [pools.NAME] table",
                         [&](const std::string& name, const toml::table& t,
                             const std::string& path) { pool(name, t, path); });
  }

  bool listeners(const toml::table& table) {
    return namedSections(table, "listeners", "a [listeners.NAME] table",
                         [&](const std::string& name, const toml::table& t,
                             const std::string& path) { listener(name, t, path); });
  }

  template <typename Fn>
  bool namedSections(const toml::table& table, std::string_view prefix, std::string_view what,
                     Fn&& parseOne) {
    for (auto&& [key, value] : table) {
      std::string name(key.str());
      std::string path = sectionPath(prefix, name);
      if (!isValidName(name)) {
        diag_.error(posOf(key.source()),
                    fmt::format("{}: invalid name; use 1 to 64 letters, digits, '_' or '-'", path));
      }
      sources_.record(path, posOf(value), value.is_table());
      if (!value.is_table()) {
        fail(value, path, fmt::format("expected {}, got {}", what, describe(value)));
        continue;
      }
      parseOne(name, *value.as_table(), path);
    }
    return true;
  }

  void pool(const std::string& name, const toml::table& table, const std::string& path) {
    PoolConfig p;
    p.name = name;
    p.pos = posOf(table);
    walk(table, Section::Pool, path, "in [" + path + "]",
         [&](std::string_view key, const toml::node& v) {
           if (key == "balance") {
             return assign(p.balance, choice<BalanceAlgorithm>(
                                          v, {{"round_robin", BalanceAlgorithm::RoundRobin},
                                              {"least_conn", BalanceAlgorithm::LeastConn},
                                              {"random_two", BalanceAlgorithm::RandomTwo},
                                              {"hash", BalanceAlgorithm::Hash}}));
           }
           if (key == "protocol") {
             return assign(p.protocol,
                           choice<UpstreamProtocol>(v, {{"http/1.1", UpstreamProtocol::Http11},
                                                        {"h2", UpstreamProtocol::H2}}));
           }
           if (key == "hash_key") {
             std::string error;
             return assign(p.hashKey, checked(v, parseHashKey(str(v), &error), error));
           }
           if (key == "connect_timeout") return assign(p.connectTimeout, duration(v, false));
           if (key == "retries") return assign(p.retries, integer(v, 0, 16));
           if (key == "backends") return backends(v, p.backends);
           if (key == "discover") {
             std::string error;
             return assign(p.discover, checked(v, parseDiscover(str(v), &error), error));
           }
           if (key == "refresh") return assign(p.refresh, duration(v, false));
           if (key == "health") return assign(p.health, health(*v.as_table(), path + ".health"));
           if (key == "tls") return assign(p.tls, poolTls(*v.as_table(), path + ".tls"));
           if (key == "slow_start") return assign(p.slowStart, duration(v, true));
           if (key == "passive_failures") return assign(p.passiveFailures, integer(v, 0, 1000));
           if (key == "ejection_time") return assign(p.ejectionTime, duration(v, false));
           if (key == "max_ejection_percent") {
             return assign(p.maxEjectionPercent, integer(v, 0, 100));
           }
           return unhandled(v, key);
         });
    if (table.contains("discover") && table.contains("backends")) {
      fail(*table.get("discover"), path,
           "discover and backends exclude each other: the backends come from DNS");
    } else if (!table.contains("discover")) {
      requireKey(table, path, "backends");
    }
    if (table.contains("refresh") && !table.contains("discover")) {
      fail(*table.get("refresh"), path, "refresh is only used with discover");
    }
    config_.pools.emplace(name, std::move(p));
  }

  // Keeps broken backends too (an empty address when there is none), so that
  // their other problems are still found.
  bool backends(const toml::node& node, std::vector<BackendConfig>& out) {
    if (node.as_array()->empty()) {
      fail(node, path_, "a pool needs at least one backend");
      return false;
    }
    size_t before = diag_.count();
    out = each<BackendConfig>(node, [&](const toml::node& e) { return backend(e); });
    return diag_.count() == before;
  }

  BackendConfig backend(const toml::node& node) {
    BackendConfig b;
    b.pos = posOf(node);
    const std::string path = path_;
    sources_.record(path, b.pos, true);
    if (node.is_string()) {
      b.address = str(node);
      return b;
    }
    if (!node.is_table()) {
      fail(node, path,
           fmt::format("expected an address string or a {{ address = \"...\" }} table, got {}",
                       describe(node)));
      return b;
    }
    walk(*node.as_table(), Section::Backend, path, "in " + path,
         [&](std::string_view key, const toml::node& v) {
           if (key == "address") return assign(b.address, nonEmpty(v));
           if (key == "weight") return assign(b.weight, integer(v, 1, 256));
           if (key == "backup") return assign(b.backup, v.value<bool>());
           return unhandled(v, key);
         });
    requireKey(*node.as_table(), path, "address");
    path_ = path;
    return b;
  }

  std::optional<PoolTlsConfig> poolTls(const toml::table& table, const std::string& path) {
    PoolTlsConfig t;
    walk(table, Section::PoolTls, path, "in [" + path + "]",
         [&](std::string_view key, const toml::node& v) {
           if (key == "ca") return assign(t.caFile, nonEmpty(v));
           if (key == "verify") return assign(t.verify, v.value<bool>());
           if (key == "server_name") return assign(t.serverName, nonEmpty(v));
           if (key == "cert") return assign(t.certFile, nonEmpty(v));
           if (key == "key") return assign(t.keyFile, nonEmpty(v));
           return unhandled(v, key);
         });
    for (auto [given, missing] : {std::pair{"cert", "key"}, std::pair{"key", "cert"}}) {
      if (table.contains(given) && !table.contains(missing)) {
        fail(*table.get(given), path + "." + given,
             fmt::format("needs {} too (a client certificate and its key)", missing));
      }
    }
    return t;
  }

  std::optional<HealthConfig> health(const toml::table& table, const std::string& path) {
    HealthConfig h;
    walk(table, Section::Health, path, "in [" + path + "]",
         [&](std::string_view key, const toml::node& v) {
           if (key == "check") {
             return assign(h.check, choice<HealthCheckKind>(v, {{"tcp", HealthCheckKind::Tcp},
                                                                {"http", HealthCheckKind::Http}}));
           }
           if (key == "interval") return assign(h.interval, duration(v, false));
           if (key == "timeout") return assign(h.timeout, duration(v, false));
           if (key == "rise") return assign(h.rise, integer(v, 1, 100));
           if (key == "fall") return assign(h.fall, integer(v, 1, 100));
           if (key == "path") return assign(h.path, urlPath(v));
           if (key == "expect_status") {
             std::string error;
             return assign(h.expectStatus, checked(v, parseExpectStatus(str(v), &error), error));
           }
           if (key == "host") {
             bool ok = !str(v).empty() && isSafeHeaderValue(str(v)) &&
                       str(v).find(' ') == std::string::npos;
             if (!ok) fail(v, path_, "must be a host name without spaces or control bytes");
             return ok && assign(h.host, std::optional(str(v)));
           }
           return unhandled(v, key);
         });
    return h;
  }

  void listener(const std::string& name, const toml::table& table, const std::string& path) {
    ListenerConfig l;
    l.name = name;
    l.pos = posOf(table);
    walk(table, Section::Listener, path, "in [" + path + "]",
         [&](std::string_view key, const toml::node& v) { return listenerKey(l, key, v); });
    requireKey(table, path, "bind");
    requireKey(table, path, "mode");
    config_.listeners.push_back(std::move(l));
  }

  bool listenerKey(ListenerConfig& l, std::string_view key, const toml::node& v) {
    const std::string path = path_;
    if (key == "bind") return assign(l.bind, bindAddress(v));
    if (key == "mode") {
      return assign(l.mode, choice<ListenerMode>(v, {{"tcp", ListenerMode::Tcp},
                                                     {"udp", ListenerMode::Udp},
                                                     {"http", ListenerMode::Http},
                                                     {"forward", ListenerMode::Forward}}));
    }
    if (key == "pool") return assign(l.pool, nonEmpty(v));
    if (key == "max_connections") return assign(l.maxConnections, integer(v, 1, kMaxConnections));
    if (key == "idle_timeout") return assign(l.idleTimeout, duration(v, false));
    if (key == "header_timeout") return assign(l.headerTimeout, duration(v, false));
    if (key == "response_timeout") return assign(l.responseTimeout, duration(v, false));
    if (key == "tls") return assign(l.tls, tls(*v.as_table(), path));
    if (key == "routes") {
      // Valid when non-empty: broken routes have reported themselves.
      l.routes = each<RouteConfig>(v, [&](const toml::node& e) { return route(e); });
      return !v.as_array()->empty();
    }
    if (key == "allow") return nonEmptyList(v) && assign(l.allow, destinations(v));
    if (key == "deny") return assign(l.deny, destinations(v));
    if (key == "users_file") return assign(l.usersFile, nonEmpty(v));
    if (key == "source") return assign(l.source, hostAddress(v, 0));
    if (key == "max_connections_per_client") {
      return assign(l.maxConnectionsPerClient, integer(v, 1, kMaxConnections));
    }
    if (key == "connect_ports") {
      return assign(l.connectPorts,
                    list<uint16_t>(v, [&](const toml::node& e) { return port(e); }));
    }
    if (key == "proxy_protocol") {
      return assign(l.proxyProtocol, choice<ProxyProtocol>(v, {{"off", ProxyProtocol::Off},
                                                               {"v1", ProxyProtocol::V1},
                                                               {"v2", ProxyProtocol::V2}}));
    }
    if (key == "accept_proxy_protocol") return assign(l.acceptProxyProtocol, v.value<bool>());
    if (key == "transparent") return assign(l.transparent, v.value<bool>());
    if (key == "max_header_size") return assign(l.maxHeaderSize, integer(v, 1024, 1 << 20));
    if (key == "protocols") return nonEmptyList(v) && assign(l.protocols, httpProtocols(v));
    if (key == "max_body_size") return assign(l.maxBodySize, size(v));
    if (key == "max_request_line") return assign(l.maxRequestLine, integer(v, 256, 1 << 20));
    if (key == "max_header_fields") return assign(l.maxHeaderFields, integer(v, 1, 10000));
    return unhandled(v, key);
  }

  std::optional<uint16_t> port(const toml::node& element) {
    if (!element.is_integer()) {
      fail(element, path_, fmt::format("expected an integer, got {}", describe(element)));
      return std::nullopt;
    }
    auto value = integer(element, 1, 65535);
    return value ? std::optional(static_cast<uint16_t>(*value)) : std::nullopt;
  }

  std::optional<std::vector<HttpProtocol>> httpProtocols(const toml::node& node) {
    std::vector<HttpProtocol> seen;
    return list<HttpProtocol>(node, [&](const toml::node& e) -> std::optional<HttpProtocol> {
      auto p = choice<HttpProtocol>(e, {{"http/1.1", HttpProtocol::Http11},
                                        {"h2", HttpProtocol::H2},
                                        {"h2c", HttpProtocol::H2c}});
      if (p && std::find(seen.begin(), seen.end(), *p) != seen.end()) {
        fail(e, path_, fmt::format("{} is listed twice", quote(str(e))));
        return std::nullopt;
      }
      if (p) seen.push_back(*p);
      return p;
    });
  }

  std::optional<std::vector<std::string>> destinations(const toml::node& node) {
    return list<std::string>(node, [&](const toml::node& e) -> std::optional<std::string> {
      auto value = stringElement(e);
      std::string error;
      if (value && !checkDestinationPattern(*value, &error)) {
        fail(e, path_, fmt::format("{}: {}", quote(*value), error));
        return std::nullopt;
      }
      return value;
    });
  }

  std::optional<TlsConfig> tls(const toml::table& table, const std::string& path) {
    TlsConfig t;
    bool clientVerifySet = false;
    walk(table, Section::Tls, path, "in [" + path + "]",
         [&](std::string_view key, const toml::node& v) {
           if (key == "min_version") {
             return assign(t.minVersion, choice<TlsVersion>(v, {{"1.2", TlsVersion::Tls12},
                                                                {"1.3", TlsVersion::Tls13}}));
           }
           if (key == "handshake_timeout") return assign(t.handshakeTimeout, duration(v, false));
           if (key == "client_ca") return assign(t.clientCa, nonEmpty(v));
           if (key == "client_verify") {
             clientVerifySet = true;
             return assign(t.clientVerify,
                           choice<ClientVerify>(v, {{"required", ClientVerify::Required},
                                                    {"optional", ClientVerify::Optional}}));
           }
           if (key == "certificates") {
             if (v.as_array()->empty()) {
               fail(v, path_, "needs at least one { cert = \"...\", key = \"...\" }");
               return false;
             }
             return assign(t.certificates, list<CertificateConfig>(v, [&](const toml::node& e) {
                             return certificate(e);
                           }));
           }
           return unhandled(v, key);
         });
    requireKey(table, path, "certificates");
    if (clientVerifySet && t.clientCa.empty() && table.contains("client_verify")) {
      fail(*table.get("client_verify"), path + ".client_verify",
           "needs client_ca (the CA that client certificates are verified against)");
    }
    return t;
  }

  std::optional<CertificateConfig> certificate(const toml::node& node) {
    const std::string path = path_;
    if (!node.is_table()) {
      fail(node, path,
           fmt::format("expected a {{ cert = \"...\", key = \"...\" }} table, got {}",
                       describe(node)));
      return std::nullopt;
    }
    CertificateConfig c;
    sources_.record(path, posOf(node), true);
    walk(*node.as_table(), Section::Certificate, path, "in " + path,
         [&](std::string_view key, const toml::node& v) {
           if (key == "cert") return assign(c.certFile, nonEmpty(v));
           if (key == "key") return assign(c.keyFile, nonEmpty(v));
           if (key == "ocsp") return assign(c.ocspFile, nonEmpty(v));
           return unhandled(v, key);
         });
    requireKey(*node.as_table(), path, "cert");
    requireKey(*node.as_table(), path, "key");
    path_ = path;
    return c;
  }

  RouteConfig route(const toml::node& node) {
    const std::string path = path_;
    RouteConfig r;
    r.pos = posOf(node);
    if (!node.is_table()) {
      fail(node, path, fmt::format("expected a table, got {}", describe(node)));
      return r;
    }
    sources_.record(path, r.pos, true);
    const toml::table& table = *node.as_table();
    walk(table, Section::Route, path, "in [[" + path.substr(0, path.rfind('[')) + "]]",
         [&](std::string_view key, const toml::node& v) { return routeKey(r, key, v); });
    if (!table.contains("redirect")) requireKey(table, path, "pool");
    if (table.contains("redirect") && table.contains("pool")) {
      fail(*table.get("redirect"), path + ".redirect",
           "a route either redirects or goes to a pool: remove `pool` or `redirect`");
    }
    if (table.contains("path") && table.contains("path_prefix")) {
      fail(*table.get("path"), path + ".path", "use either path or path_prefix, not both");
    }
    path_ = path;
    return r;
  }

  bool routeKey(RouteConfig& r, std::string_view key, const toml::node& v) {
    if (key == "host") {
      std::string error;
      return assign(r.host, checked(v, parseHostPattern(str(v), &error), error));
    }
    if (key == "path_prefix") return assign(r.pathPrefix, urlPath(v));
    if (key == "path") return assign(r.path, urlPath(v));
    if (key == "pool") return assign(r.pool, nonEmpty(v));
    if (key == "redirect") return assign(r.redirect, redirectTarget(v));
    if (key == "redirect_code") {
      int64_t code = v.as_integer()->get();
      bool ok = code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
      if (!ok) fail(v, path_, fmt::format("{} is not 301, 302, 303, 307 or 308", code));
      return ok && assign(r.redirectCode, std::optional(static_cast<uint16_t>(code)));
    }
    if (key == "rewrite_prefix") return assign(r.rewritePrefix, urlPath(v));
    if (key == "methods") {
      return nonEmptyList(v) && assign(r.methods, list<std::string>(v, [&](const toml::node& e) {
                                         return method(e);
                                       }));
    }
    if (key == "headers") return assign(r.matchHeaders, headerTable(v, false));
    if (key == "set_request_headers") return assign(r.setRequestHeaders, headerTable(v, true));
    if (key == "set_response_headers") return assign(r.setResponseHeaders, headerTable(v, true));
    if (key == "remove_request_headers") {
      auto names = headerNames(v);
      for (const auto& n : names.value_or(std::vector<std::string>{})) {
        if (equalsIgnoreCase(n, "host")) {
          fail(v, path_, "Host is required by HTTP/1.1: use set_request_headers to change it");
          return false;
        }
      }
      return assign(r.removeRequestHeaders, std::move(names));
    }
    if (key == "remove_response_headers") return assign(r.removeResponseHeaders, headerNames(v));
    if (key == "rate_limit") return assign(r.rateLimit, rateLimit(*v.as_table()));
    if (key == "auth") return assign(r.auth, auth(*v.as_table()));
    if (key == "cors") return assign(r.cors, cors(*v.as_table()));
    if (key == "compress") return assign(r.compress, compress(*v.as_table()));
    if (key == "cache") return assign(r.cache, cache(*v.as_table()));
    return unhandled(v, key);
  }

  // ---- a route's gateway tables; each is nullopt when any of its keys failed ----

  std::optional<RateLimitConfig> rateLimit(const toml::table& table) {
    const std::string path = path_;
    const size_t before = diag_.count();
    RateLimitConfig rl;
    walk(table, Section::RateLimit, path, "in " + path,
         [&](std::string_view key, const toml::node& v) {
           if (key == "requests") return assign(rl.requests, integer(v, 1, kMaxRate));
           if (key == "per") return assign(rl.per, duration(v, false));
           if (key == "burst") return assign(rl.burst, integer(v, 1, kMaxRate));
           if (key == "key") {
             std::string error;
             auto parsed = checked(v, parseRateLimitKey(str(v), &error), error);
             if (parsed) std::tie(rl.key, rl.headerName) = std::move(*parsed);
             return parsed.has_value();
           }
           return unhandled(v, key);
         });
    requireKey(table, path, "requests");
    if (!table.contains("burst")) rl.burst = rl.requests;
    path_ = path;
    return diag_.count() == before ? std::optional(std::move(rl)) : std::nullopt;
  }

  std::optional<AuthConfig> auth(const toml::table& table) {
    const std::string path = path_;
    const size_t before = diag_.count();
    AuthConfig a;
    std::optional<AuthType> type;
    walk(table, Section::Auth, path, "in " + path,
         [&](std::string_view key, const toml::node& v) { return authKey(a, type, key, v); });
    requireKey(table, path, "type");
    if (type) checkAuthKeys(table, path, *type);
    path_ = path;
    return diag_.count() == before ? std::optional(std::move(a)) : std::nullopt;
  }

  bool authKey(AuthConfig& a, std::optional<AuthType>& type, std::string_view key,
               const toml::node& v) {
    if (key == "type") {
      type = choice<AuthType>(
          v, {{"basic", AuthType::Basic}, {"api_key", AuthType::ApiKey}, {"jwt", AuthType::Jwt}});
      return assign(a.type, type);
    }
    if (key == "users_file") return assign(a.usersFile, nonEmpty(v));
    if (key == "keys_file") return assign(a.keysFile, nonEmpty(v));
    if (key == "jwks_file") return assign(a.jwksFile, nonEmpty(v));
    if (key == "realm") return assign(a.realm, realm(v));
    if (key == "header") return assign(a.header, headerName(v, true));
    if (key == "issuer") return assign(a.issuer, nonEmptyText(v));
    if (key == "audience") return assign(a.audience, nonEmptyText(v));
    if (key == "claims_to_headers") return assign(a.claimsToHeaders, claimHeaders(v));
    return unhandled(v, key);
  }

  // The keys each auth type reads, and the file it needs.
  void checkAuthKeys(const toml::table& table, const std::string& path, AuthType type) {
    struct TypeKey {
      std::string_view key;
      AuthType type;
    };
    static constexpr std::array kTypeKeys = std::to_array<TypeKey>({
        {"users_file", AuthType::Basic},
        {"keys_file", AuthType::ApiKey},
        {"header", AuthType::ApiKey},
        {"jwks_file", AuthType::Jwt},
        {"issuer", AuthType::Jwt},
        {"audience", AuthType::Jwt},
        {"claims_to_headers", AuthType::Jwt},
    });
    for (const TypeKey& rule : kTypeKeys) {
      const toml::node* node = table.get(rule.key);
      if (node != nullptr && rule.type != type) {
        fail(*node, path + "." + std::string(rule.key),
             fmt::format("only used with type = \"{}\" (this auth is type = \"{}\")",
                         authTypeName(rule.type), authTypeName(type)));
      }
    }
    std::string_view file = type == AuthType::Basic    ? "users_file"
                            : type == AuthType::ApiKey ? "keys_file"
                                                       : "jwks_file";
    if (!table.contains(file)) {
      fail(table, path, fmt::format("type = \"{}\" needs \"{}\"", authTypeName(type), file));
    }
  }

  static std::string_view authTypeName(AuthType type) {
    switch (type) {
      case AuthType::Basic: return "basic";
      case AuthType::ApiKey: return "api_key";
      case AuthType::Jwt: return "jwt";
    }
    return "?";
  }

  // Goes into a quoted-string of WWW-Authenticate.
  std::optional<std::string> realm(const toml::node& node) {
    const std::string& value = str(node);
    bool ok = !value.empty() && std::none_of(value.begin(), value.end(), [](char c) {
      return static_cast<unsigned char>(c) < ' ' || c == 0x7f || c == '"' || c == '\\';
    });
    if (!ok) fail(node, path_, "must not be empty or contain '\"', '\\' or control bytes");
    return ok ? std::optional(value) : std::nullopt;
  }

  std::optional<std::string> nonEmptyText(const toml::node& node) {
    auto value = nonEmpty(node);
    if (value && !isSafeHeaderValue(*value)) {
      fail(node, path_, "must not contain CR, LF or NUL");
      return std::nullopt;
    }
    return value;
  }

  std::optional<std::vector<ClaimHeader>> claimHeaders(const toml::node& node) {
    if (node.as_table()->empty()) {
      fail(node, path_, "must not be empty (leave the key out instead)");
      return std::nullopt;
    }
    std::vector<ClaimHeader> out;
    bool ok = true;
    const std::string path = path_;
    for (auto&& [key, value] : *node.as_table()) {
      std::string claim(key.str());
      path_ = path + "." + (isValidName(claim) ? claim : quote(claim));
      auto header = headerName(value, true);
      if (header && equalsIgnoreCase(*header, "host")) {
        fail(value, path_, "Host cannot be set from a claim");
        header.reset();
      }
      auto same = std::find_if(out.begin(), out.end(), [&](const ClaimHeader& seen) {
        return header && equalsIgnoreCase(seen.header, *header);
      });
      if (same != out.end()) {
        fail(value, path_,
             fmt::format("{} is already set from claim {}", quote(*header), quote(same->claim)));
        header.reset();
      }
      ok = ok && header.has_value();
      if (header) out.push_back({std::move(claim), std::move(*header)});
    }
    path_ = path;
    return ok ? std::optional(std::move(out)) : std::nullopt;
  }

  std::optional<CorsConfig> cors(const toml::table& table) {
    const std::string path = path_;
    const size_t before = diag_.count();
    CorsConfig c;
    walk(table, Section::Cors, path, "in " + path, [&](std::string_view key, const toml::node& v) {
      if (key == "origins") return nonEmptyList(v) && assign(c.origins, origins(v));
      if (key == "methods") return nonEmptyList(v) && assign(c.methods, corsMethods(v));
      if (key == "headers") return nonEmptyList(v) && assign(c.headers, corsHeaders(v));
      if (key == "max_age") return assign(c.maxAge, wholeSeconds(v));
      if (key == "credentials") return assign(c.credentials, v.value<bool>());
      return unhandled(v, key);
    });
    requireKey(table, path, "origins");
    if (c.credentials && before == diag_.count()) checkCorsWildcards(c, table, path);
    path_ = path;
    return diag_.count() == before ? std::optional(std::move(c)) : std::nullopt;
  }

  // The Fetch standard reads "*" literally in a credentialed answer (and
  // refuses it as the allowed origin): never what the author meant.
  void checkCorsWildcards(const CorsConfig& c, const toml::table& table, const std::string& path) {
    const std::pair<std::string_view, const std::vector<std::string>*> lists[] = {
        {"origins", &c.origins}, {"methods", &c.methods}, {"headers", &c.headers}};
    for (const auto& [key, values] : lists) {
      if (std::find(values->begin(), values->end(), "*") == values->end()) continue;
      fail(*table.get("credentials"), path + ".credentials",
           fmt::format("cannot be true with \"*\" in {} (the Fetch standard allows no wildcard "
                       "with credentials): list them",
                       key));
    }
  }

  std::optional<std::vector<std::string>> origins(const toml::node& node) {
    auto values = uniqueList(
        node, [](std::string_view text, std::string* error) { return parseOrigin(text, error); });
    if (values && values->size() > 1 &&
        std::find(values->begin(), values->end(), "*") != values->end()) {
      fail(node, path_, "\"*\" allows every origin: list it alone");
      return std::nullopt;
    }
    return values;
  }

  std::optional<std::vector<std::string>> corsMethods(const toml::node& node) {
    return uniqueList(
        node, [](std::string_view text, std::string* error) -> std::optional<std::string> {
          if (!isHttpToken(text)) {
            *error = "not a valid HTTP method";
          } else if (upperCopy(text) != text) {
            *error = fmt::format("methods are case-sensitive: write \"{}\"", upperCopy(text));
          } else {
            return std::string(text);
          }
          return std::nullopt;
        });
  }

  std::optional<std::vector<std::string>> corsHeaders(const toml::node& node) {
    return uniqueList(node,
                      [](std::string_view text, std::string* error) -> std::optional<std::string> {
                        if (isHttpToken(text)) return toLowerCopy(text);
                        *error = "not a valid header name";
                        return std::nullopt;
                      });
  }

  std::optional<Duration> wholeSeconds(const toml::node& node) {
    auto value = duration(node, true);
    if (value && value->count() % 1000 != 0) {
      fail(node, path_, "must be whole seconds (the header counts seconds)");
      return std::nullopt;
    }
    return value;
  }

  std::optional<CompressConfig> compress(const toml::table& table) {
    const std::string path = path_;
    const size_t before = diag_.count();
    CompressConfig c;
    walk(table, Section::Compress, path, "in " + path,
         [&](std::string_view key, const toml::node& v) {
           if (key == "algorithms") return nonEmptyList(v) && assign(c.algorithms, codings(v));
           if (key == "min_size") return assign(c.minSize, size(v));
           if (key == "types") {
             return nonEmptyList(v) &&
                    assign(c.types, uniqueList(v, [](std::string_view text, std::string* error) {
                             return parseMediaRange(text, error);
                           }));
           }
           return unhandled(v, key);
         });
    path_ = path;
    return diag_.count() == before ? std::optional(std::move(c)) : std::nullopt;
  }

  std::optional<CacheConfig> cache(const toml::table& table) {
    const std::string path = path_;
    const size_t before = diag_.count();
    CacheConfig c;
    walk(table, Section::Cache, path, "in " + path, [&](std::string_view key, const toml::node& v) {
      if (key == "max_size") return assign(c.maxSize, size(v));
      if (key == "max_object_size") return assign(c.maxObjectSize, size(v));
      if (key == "default_ttl") return assign(c.defaultTtl, wholeSeconds(v));
      return unhandled(v, key);
    });
    // The store has 16 shards of max_size / 16 each: no object is larger.
    if (!table.contains("max_object_size")) {
      c.maxObjectSize = std::min(c.maxObjectSize, c.maxSize / 16);
    }
    path_ = path;
    return diag_.count() == before ? std::optional(c) : std::nullopt;
  }

  std::optional<std::vector<ContentCoding>> codings(const toml::node& node) {
    std::vector<ContentCoding> seen;
    return list<ContentCoding>(node, [&](const toml::node& e) -> std::optional<ContentCoding> {
      if (!stringElement(e)) return std::nullopt;
      auto coding = choice<ContentCoding>(e, {{"zstd", ContentCoding::Zstd},
                                              {"br", ContentCoding::Brotli},
                                              {"gzip", ContentCoding::Gzip}});
      if (coding && std::find(seen.begin(), seen.end(), *coding) != seen.end()) {
        fail(e, path_, fmt::format("{} is listed twice", quote(str(e))));
        return std::nullopt;
      }
      if (coding) seen.push_back(*coding);
      return coding;
    });
  }

  // Strings each checked by parse(text, &error) -> optional<string> (the
  // normalised value), none twice after normalising.
  template <typename Parse>
  std::optional<std::vector<std::string>> uniqueList(const toml::node& node, Parse&& parse) {
    std::vector<std::string> seen;
    return list<std::string>(node, [&](const toml::node& e) -> std::optional<std::string> {
      auto text = stringElement(e);
      if (!text) return std::nullopt;
      std::string error;
      auto value = parse(*text, &error);
      if (!value) {
        fail(e, path_, fmt::format("{}: {}", quote(*text), error));
      } else if (std::find(seen.begin(), seen.end(), *value) != seen.end()) {
        fail(e, path_, fmt::format("{} is listed twice", quote(*text)));
        value.reset();
      } else {
        seen.push_back(*value);
      }
      return value;
    });
  }

  // "https", or an absolute http(s) URL without a fragment (the prefix of
  // the Location; a trailing "/" is dropped, the request target follows).
  std::optional<std::string> redirectTarget(const toml::node& node) {
    std::string value = str(node);
    if (value == "https") return value;
    bool scheme = value.starts_with("https://") || value.starts_with("http://");
    size_t hostStart = value.find("://") + 3;
    bool clean = std::none_of(value.begin(), value.end(), [](char c) {
      return static_cast<unsigned char>(c) <= ' ' || c == 0x7f || c == '#';
    });
    bool host = scheme && value.size() > hostStart && value[hostStart] != '/';
    if (!scheme || !clean || !host) {
      fail(node, path_,
           "must be \"https\" or an absolute URL prefix such as \"https://example.com\" "
           "(no spaces, control bytes or fragment)");
      return std::nullopt;
    }
    while (value.size() > hostStart && value.back() == '/') value.pop_back();
    return value;
  }

  std::optional<std::string> method(const toml::node& element) {
    auto name = stringElement(element);
    if (name && !isHttpToken(*name)) {
      fail(element, path_, fmt::format("{} is not a valid HTTP method", quote(*name)));
      return std::nullopt;
    }
    return name;
  }

  std::optional<std::vector<std::string>> headerNames(const toml::node& node) {
    return list<std::string>(node, [&](const toml::node& e) { return headerName(e, true); });
  }

  Diagnostics& diag_;
  Config config_;
  SourceMap sources_;
  std::string path_;  // the key being read, for messages
};

}  // namespace

std::optional<ParsedConfig> parseConfig(std::string_view text, Diagnostics& diag) {
  toml::table root;
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error& e) {
    diag.error(posOf(e.source()), fmt::format("TOML syntax error: {}", e.description()));
    return std::nullopt;
  }
  return Parser(diag).run(root);
}

}  // namespace ringlb::config
