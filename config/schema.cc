#include "config/schema.h"

#include <array>

namespace ringlb::config {
namespace {

using S = Section;
using T = ValueType;

// Order here is the order in docs/config.md.
constexpr std::array kKeys = std::to_array<KeyInfo>({
    {S::Root, "global", T::Table, "none", "Process-wide settings.", false},
    {S::Root, "admin", T::Table, "none", "The admin HTTP endpoint; absent = no admin listener.",
     false},
    {S::Root, "pools", T::NamedTables, "none", "Backend pools, one sub-table per pool name.",
     false},
    {S::Root, "listeners", T::NamedTables, "none",
     "Listeners, one sub-table per listener name; at least one is required.", false},

    {S::Global, "workers", T::Integer, "0",
     "io_uring worker threads, 0..1024; 0 = one per CPU core.", false},
    {S::Global, "max_connections", T::Integer, "100000",
     "Connections across all listeners (at least 1); beyond it new connections wait in the "
     "backlog.",
     false},
    {S::Global, "drain_timeout", T::DurationString, "\"30s\"",
     "On SIGTERM/SIGINT, how long in-flight requests and connections may finish before exit "
     "(\"0s\" = exit at once).",
     false},
    {S::Global, "log_level", T::String, "\"info\"", "`error` | `warn` | `info` | `debug`.", false},
    {S::Global, "access_log", T::String, "\"off\"",
     "`off` | `stdout` | `stderr` | a file path (relative paths are relative to the config "
     "file's directory); one JSON object per line.",
     false},

    {S::Global, "resolvers", T::StringArray, "none",
     "DNS servers (numeric `IP` or `IP:PORT`, port 53 by default) the forward proxy and "
     "`discover` ask, in order; absent = the servers of /etc/resolv.conf.",
     false},

    {S::Global, "watch_config", T::Boolean, "false",
     "Reload when the config file changes (inotify on its directory: in-place writes, an "
     "editor's rename over it, a Kubernetes ConfigMap's symlink swap), 0.3 s after the last "
     "change, with the same rules as SIGHUP.",
     false},

    {S::Admin, "bind", T::Address, "required",
     "Numeric `IP:PORT` of the admin endpoint: `GET /metrics`, `/status`, `/healthz`.", false},

    {S::Pool, "balance", T::String, "\"round_robin\"",
     "`round_robin` (weight-aware) | `least_conn` | `random_two` | `hash`.", false},
    {S::Pool, "protocol", T::String, "\"http/1.1\"",
     "What the backends speak to http listeners: `\"http/1.1\"` | `\"h2\"` (HTTP/2: h2c with "
     "prior knowledge in plaintext, ALPN `h2` with `tls`). A pool used by a tcp or udp listener "
     "cannot be `\"h2\"`.",
     false},
    {S::Pool, "hash_key", T::String, "\"source_ip\"",
     "Only with `balance = \"hash\"`: `source_ip` | `uri` | `\"header:NAME\"` | "
     "`\"cookie:NAME\"`.",
     false},
    {S::Pool, "connect_timeout", T::DurationString, "\"2s\"",
     "Time allowed for a backend connect; more than 0.", false},
    {S::Pool, "retries", T::Integer, "2",
     "0..16: other backends tried after a failed connect (refused or timed out: another "
     "primary first, then an up backup) and, for http, once more for an idempotent request that "
     "failed before any response byte. Statuses: docs/errors.md.",
     false},
    {S::Pool, "backends", T::BackendArray, "required (unless `discover`)",
     "Non-empty list; each entry is `\"ADDR\"` or `{ address = \"ADDR\", weight = N, backup = "
     "true }`. ADDR is `IP:PORT`, `[IPv6]:PORT` or `hostname:PORT` (resolved at load and "
     "reload). An address may appear once per pool.",
     false},
    {S::Pool, "discover", T::String, "none",
     "Backends from DNS instead of `backends`: `\"dns:NAME:PORT\"` (every A and AAAA address "
     "of NAME, on PORT) or `\"srv:_service._proto.NAME\"` (SRV targets with their ports and "
     "weights; targets of a higher priority value than the lowest are backups). Asked of "
     "`global.resolvers` every `refresh`; a change is applied like a reload (backends that stay "
     "keep their health, connections to removed ones drain); a failed lookup keeps the last "
     "good set. The pool is empty until the first answer (docs/deploy.md).",
     false},
    {S::Pool, "refresh", T::DurationString, "\"10s\"",
     "Only with `discover`: how often the name is looked up again; at least 1s.", false},
    {S::Pool, "health", T::Table, "none",
     "Active health checks; absent = none (passive failure detection still applies).", false},
    {S::Pool, "tls", T::Table, "none",
     "TLS towards this pool's backends (docs/tls.md); absent = plaintext.", false},
    {S::Pool, "slow_start", T::DurationString, "\"0s\"",
     "A backend that comes back up ramps from weight 1 to its full weight over this time; "
     "\"0s\" = off.",
     true},
    {S::Pool, "passive_failures", T::Integer, "5",
     "0..1000: consecutive failed connects or requests (seen by live traffic) that eject a "
     "backend; 0 = no passive ejection.",
     true},
    {S::Pool, "ejection_time", T::DurationString, "\"30s\"",
     "How long a passively ejected backend stays out before it is tried again; more than 0.", true},
    {S::Pool, "max_ejection_percent", T::Integer, "50",
     "0..100: at most this share of the pool's backends is ejected passively at the same time.",
     true},

    {S::Backend, "address", T::Address, "required",
     "`IP:PORT`, `[IPv6]:PORT` or `hostname:PORT`; port 1..65535.", false},
    {S::Backend, "weight", T::Integer, "1", "1..256; relative share of new connections.", false},
    {S::Backend, "backup", T::Boolean, "false",
     "Serves when no primary backend is up; also the retry target of a request whose every up "
     "primary failed to connect.",
     false},

    {S::Health, "check", T::String, "\"tcp\"",
     "`tcp` (connect succeeds) | `http` (GET `path`, status in `expect_status`).", false},
    {S::Health, "interval", T::DurationString, "\"2s\"", "Time between probes; more than 0.",
     false},
    {S::Health, "timeout", T::DurationString, "\"1s\"",
     "A probe taking longer fails; more than 0 and at most `interval`.", false},
    {S::Health, "rise", T::Integer, "2", "1..100 consecutive successes to mark a backend up.",
     false},
    {S::Health, "fall", T::Integer, "3", "1..100 consecutive failures to mark a backend down.",
     false},
    {S::Health, "path", T::String, "\"/healthz\"", "`http` checks only; starts with `/`.", false},
    {S::Health, "expect_status", T::String, "\"200-399\"",
     "`http` checks only: status codes and ranges, e.g. `\"200\"`, `\"200-399\"`, "
     "`\"200,204,300-399\"` (100..599).",
     false},
    {S::Health, "host", T::String, "none",
     "`http` checks only: the probe's Host header; absent = the backend's address.", true},

    {S::PoolTls, "ca", T::String, "none",
     "PEM CA certificates that backend certificates must chain to; absent = the system's trust "
     "store. Same path rules as a listener's `cert`.",
     false},
    {S::PoolTls, "verify", T::Boolean, "true",
     "Verify the backend's certificate and name; `false` only on purpose (logged as a "
     "warning).",
     false},
    {S::PoolTls, "server_name", T::String, "none",
     "SNI and the name the certificate must carry; absent = the backend's host (an IP address "
     "is then matched against the certificate's IP addresses, and no SNI is sent).",
     false},
    {S::PoolTls, "cert", T::String, "none",
     "A PEM client certificate for backends that ask for one (with `key`).", false},
    {S::PoolTls, "key", T::String, "none", "The PEM private key of `cert`.", false},

    {S::Listener, "bind", T::Address, "required",
     "Numeric `IP:PORT` or `[IPv6]:PORT` (no hostnames), port 1..65535. Two listeners of the "
     "same protocol (TCP: tcp, http, forward; UDP: udp) cannot share an address.",
     false},
    {S::Listener, "mode", T::String, "required", "`tcp` | `udp` | `http` | `forward`.", false},
    {S::Listener, "pool", T::String, "none",
     "tcp/udp: required; http: the default route (an http listener needs `pool` or "
     "`routes`); not allowed on forward listeners.",
     false},
    {S::Listener, "max_connections", T::Integer, "10000",
     "This listener's share (at least 1); beyond it new connections wait in the backlog. For "
     "udp: concurrent sessions.",
     false},
    {S::Listener, "idle_timeout", T::DurationString, "by mode",
     "http/forward: keep-alive idle, default \"60s\"; tcp: default \"1h\"; udp: session "
     "idle, default \"30s\". More than 0.",
     false},
    {S::Listener, "header_timeout", T::DurationString, "\"10s\"",
     "http/forward only: the whole request head must arrive within this (else 408).", false},
    {S::Listener, "response_timeout", T::DurationString, "\"30s\"",
     "http/forward only: the backend's response head must arrive within this (else 504).", false},
    {S::Listener, "tls", T::Table, "none",
     "http and tcp: terminate TLS on this listener (docs/tls.md); a tcp listener passes the "
     "decrypted bytes to plaintext backends.",
     false},
    {S::Listener, "routes", T::TableArray, "none",
     "http only: routing rules, first match wins, then `pool`.", false},
    {S::Listener, "allow", T::StringArray, "none",
     "forward only: destinations allowed (`\"host\"`, `\"*.example.com\"`, `\"10.0.0.0/8\"`); "
     "absent = all. Must not be empty.",
     false},
    {S::Listener, "deny", T::StringArray, "[]",
     "forward only: destinations refused, same forms as `allow`; checked before `allow`.", false},
    {S::Listener, "connect_ports", T::IntegerArray, "[443]",
     "forward only: ports (1..65535) that CONNECT may reach.", false},
    {S::Listener, "users_file", T::String, "none",
     "forward only: require `Proxy-Authorization: Basic` against this htpasswd file (bcrypt, "
     "SHA-512-crypt, yescrypt; re-read on reload); 407 without. Relative to the config file.",
     false},
    {S::Listener, "source", T::String, "none",
     "forward only: the numeric IP address connections to origins are made from; absent = the "
     "kernel's choice.",
     false},
    {S::Listener, "max_connections_per_client", T::Integer, "none",
     "forward only: connections one client address may hold open at once (1..); more are "
     "refused at accept. Absent = no limit beyond `max_connections`.",
     false},
    {S::Listener, "proxy_protocol", T::String, "\"off\"",
     "tcp only: send a PROXY protocol header to the backend: `off` | `v1` | `v2`.", true},
    {S::Listener, "transparent", T::Boolean, "false",
     "tcp only: connect to the backends from the client's address and port (IP_TRANSPARENT; "
     "needs CAP_NET_ADMIN and the policy routing of docs/deploy.md so that the backends' "
     "answers come back through ringlb).",
     true},
    {S::Listener, "accept_proxy_protocol", T::Boolean, "false",
     "tcp/http only: clients must start with a PROXY protocol (v1 or v2) header; its source "
     "address is used as the client's.",
     true},
    {S::Listener, "max_header_size", T::Integer, "32768",
     "http/forward only: the largest header section (field lines) of a request or response in "
     "bytes, 1024..1048576 (a larger request head gets 431).",
     true},
    {S::Listener, "protocols", T::StringArray, "[\"http/1.1\"]",
     "http only: the protocols served: `\"http/1.1\"`, `\"h2\"` (HTTP/2 by ALPN; TLS listeners, "
     "offered in this order) and `\"h2c\"` (HTTP/2 with prior knowledge beside HTTP/1.1 on a plain "
     "listener). Without `\"http/1.1\"` a TLS client that does not offer h2 fails the handshake "
     "and a plain HTTP/1.1 request gets 505. HTTP/2 limits: docs/http2.md.",
     false},
    {S::Listener, "max_body_size", T::Size, "0",
     "http/forward only: the largest request body in bytes (`\"100MiB\"`, `\"512KiB\"`, "
     "`\"10MB\"` or an integer); larger bodies get 413 before any byte reaches a backend when "
     "Content-Length says so, and a chunked body that crosses it aborts the upstream request. "
     "0 = unlimited (bodies are streamed, never buffered whole).",
     false},
    {S::Listener, "max_request_line", T::Integer, "8192",
     "http/forward only: the longest request line (and response status line) in bytes, "
     "256..1048576 (a longer request line gets 414).",
     true},
    {S::Listener, "max_header_fields", T::Integer, "100",
     "http/forward only: the most header fields in a request or response, 1..10000 (more in a "
     "request gets 431).",
     true},

    {S::Tls, "certificates", T::TableArray, "required",
     "Non-empty list of `{ cert = \"...\", key = \"...\" }`, chosen by SNI; the first is the "
     "default.",
     false},
    {S::Tls, "min_version", T::String, "\"1.2\"",
     "`\"1.2\"` | `\"1.3\"`: the oldest TLS version accepted; older clients get a "
     "`protocol_version` alert.",
     false},
    {S::Tls, "client_ca", T::String, "none",
     "Mutual TLS: a PEM file of the CA certificates that client certificates must chain to; "
     "same path rules as `cert`. http listeners pass the verified identity to the backend "
     "(docs/tls.md).",
     false},
    {S::Tls, "client_verify", T::String, "\"required\"",
     "With `client_ca`: `required` (no certificate, no connection) | `optional` (a client may "
     "send none; one that does not verify is still refused).",
     false},
    {S::Tls, "handshake_timeout", T::DurationString, "\"10s\"",
     "The TLS handshake must finish this long after the accept (after the PROXY header with "
     "`accept_proxy_protocol`), else the connection is closed (`header_timeout` reason). An http "
     "listener's first request head then gets its own `header_timeout`.",
     false},

    {S::Certificate, "cert", T::String, "required",
     "PEM certificate chain file; a relative path is relative to the config file's directory. "
     "Must be readable at load.",
     false},
    {S::Certificate, "key", T::String, "required",
     "PEM private key file; same path rules as `cert`.", false},
    {S::Certificate, "ocsp", T::String, "none",
     "A DER OCSP response for `cert` (from `openssl ocsp -respout` or the CA), stapled to "
     "handshakes whose client asks for it; re-read at each reload. Same path rules as `cert`.",
     false},

    {S::Route, "host", T::String, "none",
     "Exact host or `\"*.example.com\"` (any subdomain), case-insensitive; absent = any.", false},
    {S::Route, "path_prefix", T::String, "none", "Path prefix, starts with `/`; absent = any.",
     false},
    {S::Route, "path", T::String, "none",
     "Exact path, starts with `/`; not together with `path_prefix`.", false},
    {S::Route, "pool", T::String, "required",
     "The pool that serves matching requests (not with "
     "`redirect`).",
     false},
    {S::Route, "redirect", T::String, "none",
     "Answer matching requests with a redirect instead of proxying: `\"https\"` (the same host, "
     "without its port, and the same target over https) or an absolute URL prefix "
     "(`\"https://new.example.com\"`) that the request's target is appended to.",
     false},
    {S::Route, "redirect_code", T::Integer, "301",
     "The redirect's status: 301, 302, 303, 307 or 308 (307 and 308 keep the method and body).",
     false},
    {S::Route, "rewrite_prefix", T::String, "none",
     "Replaces the matched `path_prefix` in the target sent to the backend (`path_prefix = "
     "\"/api\"`, `rewrite_prefix = \"/\"`: `/api/users?x=1` goes up as `/users?x=1`); starts "
     "with `/`.",
     false},
    {S::Route, "methods", T::StringArray, "none",
     "Request methods that match, e.g. `[\"GET\", \"HEAD\"]` (case-sensitive); absent = any.",
     true},
    {S::Route, "headers", T::StringTable, "none",
     "Header name = exact value; every listed header must match. Absent = any.", true},
    {S::Route, "set_request_headers", T::StringTable, "none",
     "Header name = value, set (replacing) on the request sent to the backend.", true},
    {S::Route, "remove_request_headers", T::StringArray, "none",
     "Header names removed from the request sent to the backend.", true},
    {S::Route, "set_response_headers", T::StringTable, "none",
     "Header name = value, set (replacing) on the response sent to the client.", true},
    {S::Route, "remove_response_headers", T::StringArray, "none",
     "Header names removed from the response sent to the client.", true},
    {S::Route, "rate_limit", T::Table, "none",
     "`{ requests = N, per = \"1s\", burst = N, key = \"source_ip\" }`: a token bucket per key; "
     "a request beyond it gets 429 with Retry-After. Not on a redirect route.",
     false},
    {S::Route, "auth", T::Table, "none",
     "`{ type = \"basic\" | \"api_key\" | \"jwt\", ... }`: requests must authenticate (401 "
     "otherwise). The file it names is read at load and at every reload. Not on a redirect route.",
     false},
    {S::Route, "cors", T::Table, "none",
     "`{ origins = [...], ... }`: answer CORS preflights and add CORS headers for the listed "
     "origins. Not on a redirect route.",
     false},
    {S::Route, "compress", T::Table, "none",
     "`{ algorithms = [...], min_size = N, types = [...] }`: compress responses for clients "
     "that accept it. Not on a redirect route.",
     false},
    {S::Route, "cache", T::Table, "none",
     "`{ max_size = N, max_object_size = N, default_ttl = \"0s\" }`: an RFC 9111 shared cache "
     "of the route's responses (docs/cache.md). Not on a redirect route.",
     false},

    {S::RateLimit, "requests", T::Integer, "required",
     "1..1000000000: tokens added per `per` (the sustained rate).", false},
    {S::RateLimit, "per", T::DurationString, "\"1s\"",
     "The period of `requests`; more than 0 (`requests = 100, per = \"1m\"` is 100 a minute).",
     false},
    {S::RateLimit, "burst", T::Integer, "`requests`",
     "1..1000000000: the bucket's size, the requests accepted at once after a quiet spell.", false},
    {S::RateLimit, "key", T::String, "\"source_ip\"",
     "Whose bucket: `source_ip` (the client's address, after a PROXY header) | "
     "`\"header:NAME\"` (that header's value) | `route` (one bucket for the whole route).",
     false},

    {S::Auth, "type", T::String, "required",
     "`basic` (HTTP Basic against `users_file`) | `api_key` (a key in `header`, checked against "
     "`keys_file`) | `jwt` (a Bearer JWT verified with `jwks_file`). A key of another type is an "
     "error.",
     false},
    {S::Auth, "users_file", T::String, "required for basic",
     "htpasswd file, one `user:HASH` a line: bcrypt (`$2y$`, `$2b$`, `$2a$`; `htpasswd -B`), "
     "SHA-512-crypt (`$6$`) or yescrypt (`$y$`). Plain text and other schemes are refused at "
     "load. Blank lines and `#` comments are allowed. Same path rules as a listener's `cert`.",
     false},
    {S::Auth, "realm", T::String, "\"ringlb\"",
     "The realm of the WWW-Authenticate challenge (every type); no `\"`, `\\` or control bytes.",
     false},
    {S::Auth, "keys_file", T::String, "required for api_key",
     "One SHA-256 hex digest (64 hex characters) of a key per line, optionally `name:digest`; "
     "blank lines and `#` comments allowed. Store digests, not keys: "
     "`printf %s KEY | sha256sum`.",
     false},
    {S::Auth, "header", T::String, "\"X-API-Key\"",
     "api_key only: the request header that carries the key.", false},
    {S::Auth, "jwks_file", T::String, "required for jwt",
     "A JWKS document (`{\"keys\": [...]}`, at most 1 MiB): `oct` keys (HS256, at least 32 "
     "bytes), `RSA` (RS256, at least 2048 bits) and `EC` `P-256` (ES256). A key's `alg`, if "
     "given, must be the one its `kty` implies; keys with `use` other than `sig` are skipped; at "
     "least one usable key.",
     false},
    {S::Auth, "issuer", T::String, "none",
     "jwt only: the `iss` a token must carry; absent = not checked.", false},
    {S::Auth, "audience", T::String, "none",
     "jwt only: a value the token's `aud` must hold; absent = not checked.", false},
    {S::Auth, "claims_to_headers", T::StringTable, "none",
     "jwt only: claim = header name, e.g. `{ sub = \"X-User\" }`: the claim's value is set on "
     "the request sent to the backend (replacing any such header from the client).",
     false},

    {S::Cors, "origins", T::StringArray, "required",
     "Allowed origins: `\"scheme://host[:port]\"` exactly (no path; a default port is dropped) "
     "or `\"*\"` alone (any origin, only without `credentials`).",
     false},
    {S::Cors, "methods", T::StringArray, "[\"GET\", \"HEAD\", \"POST\"]",
     "Methods allowed by preflight (upper-case tokens, case-sensitive like HTTP methods); "
     "`\"*\"` = any, only without `credentials`.",
     false},
    {S::Cors, "headers", T::StringArray, "[]",
     "Request headers allowed by preflight (case-insensitive, kept lower-cased); `\"*\"` = any, "
     "only without `credentials`.",
     false},
    {S::Cors, "max_age", T::DurationString, "\"10m\"",
     "How long a browser may cache a preflight answer (Access-Control-Max-Age), whole seconds; "
     "\"0s\" = not cached.",
     false},
    {S::Cors, "credentials", T::Boolean, "false",
     "Allow cookies and HTTP authentication (Access-Control-Allow-Credentials); not with "
     "`\"*\"` in `origins`, `methods` or `headers` (the Fetch standard ignores wildcards then).",
     false},

    {S::Compress, "algorithms", T::StringArray, "[\"zstd\", \"br\", \"gzip\"]",
     "Content codings offered, in preference order when the client accepts several: `zstd`, "
     "`br`, `gzip`; non-empty, each once.",
     false},
    {S::Compress, "min_size", T::Size, "1024",
     "Responses smaller than this are sent as they are; an integer number of bytes or a "
     "string like `\"1KiB\"`.",
     false},
    {S::Compress, "types", T::StringArray,
     "[\"text/*\", \"application/json\", \"application/javascript\", \"application/xml\", "
     "\"image/svg+xml\"]",
     "Media types compressed (`\"type/subtype\"` or `\"type/*\"`, case-insensitive, no "
     "parameters); others pass as they are.",
     false},

    {S::Cache, "max_size", T::Size, "\"256MiB\"",
     "Bytes of responses (fields and body) the route's cache holds, shared by all workers; the "
     "least recently used are evicted beyond it. 1MiB..1TiB.",
     false},
    {S::Cache, "max_object_size", T::Size, "\"8MiB\" (at most `max_size` / 16)",
     "A larger response passes through uncached; at least 1 and at most `max_size` / 16 (the "
     "store is 16 shards, and an object is kept in one).",
     false},
    {S::Cache, "default_ttl", T::DurationString, "\"0s\"",
     "Freshness of responses that carry none (no max-age, s-maxage or Expires), whole seconds; "
     "\"0s\" = such responses are stored only when they can be revalidated (ETag or "
     "Last-Modified).",
     false},
});

constexpr std::array kSections = {S::Root,    S::Global,      S::Admin,    S::Pool,
                                  S::Backend, S::Health,      S::PoolTls,  S::Listener,
                                  S::Tls,     S::Certificate, S::Route,    S::RateLimit,
                                  S::Auth,    S::Cors,        S::Compress, S::Cache};

void appendEscaped(std::string& out, std::string_view text) {
  for (char c : text) {
    if (c == '|') out += '\\';
    out += c;
  }
}

}  // namespace

std::span<const KeyInfo> schemaKeys() { return kKeys; }

const KeyInfo* findKey(Section section, std::string_view key) {
  for (const KeyInfo& info : kKeys) {
    if (info.section == section && info.key == key) return &info;
  }
  return nullptr;
}

std::vector<std::string_view> keysOf(Section section) {
  std::vector<std::string_view> keys;
  for (const KeyInfo& info : kKeys) {
    if (info.section == section) keys.push_back(info.key);
  }
  return keys;
}

std::string_view sectionTitle(Section section) {
  switch (section) {
    case S::Root: return "top level";
    case S::Global: return "[global]";
    case S::Admin: return "[admin]";
    case S::Pool: return "[pools.NAME]";
    case S::Health: return "[pools.NAME.health]";
    case S::PoolTls: return "[pools.NAME.tls]";
    case S::Backend: return "pools.NAME.backends entries";
    case S::Listener: return "[listeners.NAME]";
    case S::Tls: return "[listeners.NAME.tls]";
    case S::Certificate: return "listeners.NAME.tls.certificates entries";
    case S::Route: return "[[listeners.NAME.routes]]";
    case S::RateLimit: return "[[listeners.NAME.routes]] rate_limit = { ... }";
    case S::Auth: return "[[listeners.NAME.routes]] auth = { ... }";
    case S::Cors: return "[[listeners.NAME.routes]] cors = { ... }";
    case S::Compress: return "[[listeners.NAME.routes]] compress = { ... }";
    case S::Cache: return "[[listeners.NAME.routes]] cache = { ... }";
  }
  return "?";
}

std::string_view typeName(ValueType type) {
  switch (type) {
    case T::Integer: return "integer";
    case T::Boolean: return "boolean";
    case T::String: return "string";
    case T::DurationString: return "duration";
    case T::Size: return "size";
    case T::Address: return "address";
    case T::StringArray: return "array of strings";
    case T::IntegerArray: return "array of integers";
    case T::StringTable: return "table of strings";
    case T::Table: return "table";
    case T::NamedTables: return "table of tables";
    case T::TableArray: return "array of tables";
    case T::BackendArray: return "array of backends";
  }
  return "?";
}

std::string renderKeyReference() {
  std::string out;
  for (Section section : kSections) {
    out += section == S::Root ? "\n### Top level"
                              : "\n### `" + std::string(sectionTitle(section)) + "`";
    out += "\n\n| Key | Type | Default | Meaning |\n|---|---|---|---|\n";
    for (const KeyInfo& info : kKeys) {
      if (info.section != section) continue;
      out += "| `";
      out += info.key;
      out += "` | ";
      out += typeName(info.type);
      out += " | ";
      bool literal = info.defaultValue != "required" && info.defaultValue != "none" &&
                     info.defaultValue != "by mode" &&
                     !info.defaultValue.starts_with("required ") &&
                     !info.defaultValue.starts_with('`');
      if (literal) out += '`';
      appendEscaped(out, info.defaultValue);
      if (literal) out += '`';
      out += " | ";
      if (info.extension) out += "*(extension)* ";
      appendEscaped(out, info.meaning);
      out += " |\n";
    }
  }
  return out;
}

}  // namespace ringlb::config
