// The configuration as plain values: what parse.cc builds from TOML and what
// the rest of ringlb reads. No behaviour lives here.
//
// Thread rules: a Config is built on the main thread, then frozen inside a
// ConfigSnapshot (shared_ptr<const Config>) and only read afterwards.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

typedef struct evp_pkey_st EVP_PKEY;

namespace ringlb::config {

using Duration = std::chrono::milliseconds;

// A resolved socket address (IPv4 or IPv6). `text` keeps what the user wrote
// ("127.0.0.1:9001", "[::1]:80", "db.local:5432") for logs and metrics.
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
  std::string text;

  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  uint16_t port() const;
  // Sets the port of an IPv4 or IPv6 address (`text` stays as it was).
  void setPort(uint16_t port);
  // "IP:PORT" or "[IPv6]:PORT" of the numeric address (formatAddress; "-"
  // when it is neither).
  std::string numeric() const;
  bool operator==(const SocketAddress& other) const;
};

// Where in the config file a value came from, for error messages.
struct SourcePos {
  uint32_t line = 0;
  uint32_t column = 0;
};

enum class LogLevel { Error, Warn, Info, Debug };

struct GlobalConfig {
  uint32_t workers = 0;  // 0 = one per CPU core
  uint32_t maxConnections = 100000;
  Duration drainTimeout = std::chrono::seconds(30);
  LogLevel logLevel = LogLevel::Info;
  // off | stdout | stderr | a path (after loading: resolved against the
  // config file's directory when relative).
  std::string accessLog = "off";
  // DNS servers for the forward proxy (and discovery); empty = the system's
  // (/etc/resolv.conf).
  std::vector<SocketAddress> resolvers;
  // Reload when the config file changes (inotify on its directory), as on SIGHUP.
  bool watchConfig = false;
};

struct AdminConfig {
  SocketAddress bind;
};

enum class BalanceAlgorithm { RoundRobin, LeastConn, RandomTwo, Hash };

enum class HashKeyKind { SourceIp, Uri, Header, Cookie };

struct HashKey {
  HashKeyKind kind = HashKeyKind::SourceIp;
  std::string name;  // header or cookie name for Header/Cookie
};

struct BackendConfig {
  std::string address;  // as written: "127.0.0.1:9001" or "host:port"
  SocketAddress resolved;
  uint32_t weight = 1;
  bool backup = false;
  SourcePos pos;
};

// `discover`: where a pool's backends come from when DNS names them.
//   "dns:NAME:PORT"      every A and AAAA address of NAME, on PORT
//   "srv:_svc._tcp.NAME" the SRV records' targets, ports and weights; targets
//                        of a higher priority than the lowest are backups
struct DiscoverConfig {
  enum class Kind : uint8_t { Dns, Srv };
  Kind kind = Kind::Dns;
  std::string name;
  uint16_t port = 0;  // dns: only
  std::string text;   // as written, for logs and /status
  bool operator==(const DiscoverConfig& other) const = default;
};

enum class HealthCheckKind { Tcp, Http };

struct StatusRange {
  uint16_t low = 200;
  uint16_t high = 399;
};

struct HealthConfig {
  HealthCheckKind check = HealthCheckKind::Tcp;
  Duration interval = std::chrono::seconds(2);
  Duration timeout = std::chrono::seconds(1);
  uint32_t rise = 2;
  uint32_t fall = 3;
  std::string path = "/healthz";
  std::string host;  // Host header for http checks; empty = the backend address
  std::vector<StatusRange> expectStatus = {{200, 399}};
};

// [pools.NAME.tls]: TLS towards the backends. Files are resolved against the
// config file's directory.
struct PoolTlsConfig {
  std::string caFile{};      // empty = the system's trust store
  bool verify = true;        // false only on purpose (logged as a warning)
  std::string serverName{};  // SNI and the name verified; empty = the backend's host
  std::string certFile{};    // a client certificate for backends that ask (with keyFile)
  std::string keyFile{};
};

// What an http pool speaks to its backends (`protocol`): HTTP/1.1, or HTTP/2
// (h2c in plaintext, ALPN "h2" with tls).
enum class UpstreamProtocol : uint8_t { Http11, H2 };

struct PoolConfig {
  std::string name;
  UpstreamProtocol protocol = UpstreamProtocol::Http11;
  BalanceAlgorithm balance = BalanceAlgorithm::RoundRobin;
  HashKey hashKey;
  Duration connectTimeout = std::chrono::seconds(2);
  uint32_t retries = 2;
  Duration slowStart{0};         // 0 = off
  uint32_t passiveFailures = 5;  // consecutive failures that eject a backend
  Duration ejectionTime = std::chrono::seconds(30);
  uint32_t maxEjectionPercent = 50;
  // Written in the file, or (with `discover`) the last set DNS gave; a
  // discovered pool starts empty and is filled by the discovery thread.
  std::vector<BackendConfig> backends;
  std::optional<DiscoverConfig> discover;
  Duration refresh = std::chrono::seconds(10);  // discover only
  std::optional<HealthConfig> health;
  std::optional<PoolTlsConfig> tls;
  SourcePos pos;
};

enum class ListenerMode { Tcp, Udp, Http, Forward };

struct CertificateConfig {
  // After loading: resolved against the config file's directory when relative.
  std::string certFile;
  std::string keyFile;
  // A DER OCSP response stapled for this certificate; empty = none.
  std::string ocspFile{};
};

enum class TlsVersion { Tls12, Tls13 };
enum class ClientVerify { Required, Optional };

struct TlsConfig {
  std::vector<CertificateConfig> certificates;
  TlsVersion minVersion = TlsVersion::Tls12;
  // From the accept (or the end of the PROXY header) to a finished handshake.
  Duration handshakeTimeout = std::chrono::seconds(10);
  // Mutual TLS: client certificates verified against this CA file (resolved
  // against the config file's directory); empty = none asked for.
  std::string clientCa{};
  ClientVerify clientVerify = ClientVerify::Required;
};

struct HeaderEdit {
  std::string name;
  std::string value;
};

// A route's `rate_limit`: a token bucket per key refilled at requests/per,
// holding at most `burst` tokens (the requests accepted at once after a quiet
// spell).
enum class RateLimitKey : uint8_t { SourceIp, Header, Route };

struct RateLimitConfig {
  uint32_t requests = 0;  // >= 1
  Duration per = std::chrono::seconds(1);
  uint32_t burst = 0;  // after loading: >= 1 (absent = `requests`)
  RateLimitKey key = RateLimitKey::SourceIp;
  std::string headerName;  // lower-cased, for RateLimitKey::Header
};

enum class AuthType : uint8_t { Basic, ApiKey, Jwt };

// A JWT claim copied into a request header for the backend (claims_to_headers).
struct ClaimHeader {
  std::string claim;
  std::string header;  // as written (sent with this spelling)
};

// A key of a JWKS document. Each key verifies exactly one algorithm (its
// "alg", or the one its "kty" implies), which is what refuses algorithm
// confusion.
struct JsonWebKey {
  std::string kid;                      // empty: the key has none
  std::string alg;                      // "HS256" | "RS256" | "ES256"
  std::string secret;                   // HS256: the raw key bytes
  std::shared_ptr<EVP_PKEY> publicKey;  // RS256 and ES256 (P-256)
};

// An auth file as read at load (and re-read on every reload).
struct AuthCredentials {
  // htpasswd: user -> crypt(3) hash ($2y$/$2b$/$2a$, $6$ or $y$).
  std::map<std::string, std::string, std::less<>> users;
  // api_key: the SHA-256 of each key, with its name ("" when the line had none).
  std::vector<std::pair<std::string, std::array<uint8_t, 32>>> apiKeys;
  std::vector<JsonWebKey> jwks;
};

// A route's `auth`. Files are resolved against the config file's directory.
struct AuthConfig {
  AuthType type = AuthType::Basic;
  std::string usersFile;             // basic: htpasswd (bcrypt, SHA-512-crypt, yescrypt)
  std::string realm = "ringlb";      // basic (and the others' WWW-Authenticate)
  std::string keysFile;              // api_key: SHA-256 hex digests, `name:digest` or `digest`
  std::string header = "X-API-Key";  // api_key: the request header carrying the key
  std::string jwksFile;              // jwt: a JWKS document (oct, RSA, EC P-256 keys)
  std::string issuer;                // jwt: required `iss`; empty = not checked
  std::string audience;              // jwt: required in `aud`; empty = not checked
  std::vector<ClaimHeader> claimsToHeaders;
  std::shared_ptr<const AuthCredentials> credentials;  // after loading: the file's contents
};

// A route's `cors`. origins: exact "scheme://host[:port]" or "*".
struct CorsConfig {
  std::vector<std::string> origins;
  std::vector<std::string> methods = {"GET", "HEAD", "POST"};
  std::vector<std::string> headers;  // allowed request headers (lower-cased)
  Duration maxAge = std::chrono::minutes(10);
  bool credentials = false;
};

enum class ContentCoding : uint8_t { Zstd, Brotli, Gzip };

// A route's `compress`: codings in the route's preference order.
struct CompressConfig {
  std::vector<ContentCoding> algorithms = {ContentCoding::Zstd, ContentCoding::Brotli,
                                           ContentCoding::Gzip};
  uint64_t minSize = 1024;
  // Media types (lower-cased) or "type/*".
  std::vector<std::string> types = {"text/*", "application/json", "application/javascript",
                                    "application/xml", "image/svg+xml"};
};

// A route's `cache` (docs/cache.md): an RFC 9111 shared cache of its responses.
struct CacheConfig {
  uint64_t maxSize = uint64_t{256} << 20;      // bytes of stored responses, LRU beyond
  uint64_t maxObjectSize = uint64_t{8} << 20;  // larger responses pass uncached
  Duration defaultTtl{0};                      // freshness of responses without any; 0 = none
};

struct RouteConfig {
  std::string host;                      // exact or "*.example.com", lower-cased; empty = any
  std::string pathPrefix;                // empty = any
  std::string path;                      // exact path; empty = not used
  std::vector<std::string> methods;      // empty = any
  std::vector<HeaderEdit> matchHeaders;  // header name and exact value
  std::string pool;
  std::vector<HeaderEdit> setRequestHeaders;
  std::vector<std::string> removeRequestHeaders;
  std::vector<HeaderEdit> setResponseHeaders;
  std::vector<std::string> removeResponseHeaders;
  // Answer with a redirect instead of proxying: "https" (the same host and
  // target over https) or an absolute URL prefix the target is appended to.
  std::string redirect;  // empty: proxy to `pool`
  uint16_t redirectCode = 301;
  // Replaces the matched path_prefix in the target sent upstream; empty: none.
  std::string rewritePrefix;
  std::optional<RateLimitConfig> rateLimit;
  std::optional<AuthConfig> auth;
  std::optional<CorsConfig> cors;
  std::optional<CompressConfig> compress;
  std::optional<CacheConfig> cache;
  SourcePos pos;
};

enum class ProxyProtocol { Off, V1, V2 };

// What an http listener speaks: HTTP/1.1, HTTP/2 over TLS (ALPN "h2") or
// HTTP/2 with prior knowledge on a plain listener ("h2c").
enum class HttpProtocol : uint8_t { Http11, H2, H2c };

struct ListenerConfig {
  std::string name;
  SocketAddress bind;
  ListenerMode mode = ListenerMode::Http;
  std::string pool;
  uint32_t maxConnections = 10000;
  std::optional<Duration> idleTimeout;  // unset = the mode's default
  Duration headerTimeout = std::chrono::seconds(10);
  Duration responseTimeout = std::chrono::seconds(30);
  std::optional<TlsConfig> tls;
  std::vector<RouteConfig> routes;
  ProxyProtocol proxyProtocol = ProxyProtocol::Off;  // towards backends
  bool acceptProxyProtocol = false;
  // tcp: connect to backends from the client's address (IP_TRANSPARENT).
  bool transparent = false;
  // http: the protocols served, in ALPN preference order (`protocols`).
  std::vector<HttpProtocol> protocols = {HttpProtocol::Http11};
  // forward mode
  std::vector<std::string> allow;  // empty = all (the loader rejects `allow = []`)
  std::vector<std::string> deny;
  std::vector<uint16_t> connectPorts = {443};
  // Proxy-Authorization: Basic against this htpasswd file (407 without);
  // empty = no login. After loading: proxyAuth holds the file's users.
  std::string usersFile;
  std::optional<AuthConfig> proxyAuth;
  // The local address of connections to origins (port 0); none = the kernel's choice.
  std::optional<SocketAddress> source;
  // Connections one client address may hold open at once; 0 = no limit.
  uint32_t maxConnectionsPerClient = 0;
  // http/forward: limits on request and response heads (RFC 9112 section 3
  // and RFC 6585 431): header section bytes, start line bytes, field count.
  uint32_t maxHeaderSize = 32 * 1024;
  uint32_t maxRequestLine = 8 * 1024;
  uint32_t maxHeaderFields = 100;
  // http/forward: larger request bodies get 413; 0 = unlimited.
  uint64_t maxBodySize = 0;
  SourcePos pos;

  // The idle timeout in force: the configured one or the mode's default
  // (http/forward 60 s, tcp 1 h, udp 30 s).
  Duration effectiveIdleTimeout() const;
  bool speaks(HttpProtocol p) const;
};

struct Config {
  std::string path;  // the file it was loaded from
  GlobalConfig global;
  std::optional<AdminConfig> admin;
  std::map<std::string, PoolConfig> pools;
  std::vector<ListenerConfig> listeners;  // in file order

  const PoolConfig* findPool(const std::string& name) const;
};

}  // namespace ringlb::config
