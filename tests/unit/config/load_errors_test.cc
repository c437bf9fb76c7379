// The loader's error contract: each broken config below yields exactly one
// problem, at the given line and column, with the given message.
#include <gtest/gtest.h>

#include "config/load.h"
#include "tests/unit/config/config_test_support.h"

namespace ringlb::config::load_errors_test {
namespace {

using testing::problems;
using testing::TempDir;

struct BrokenCase {
  const char* name;  // the behaviour, as the test name
  const char* toml;
  const char* expected;  // "LINE:COL: message"
};

// A valid pool and listener that the cases below break one way at a time.
#define POOL "[pools.api]\nbackends = [\"127.0.0.1:9001\"]\n"
#define WEB "[listeners.web]\nbind = \"127.0.0.1:8080\"\nmode = \"http\"\npool = \"api\"\n"

const BrokenCase kCases[] = {
    // --- TOML syntax ---
    {"SyntaxErrorReportsTomlPosition", "[global\nworkers = 1\n",
     "1:8: TOML syntax error: Error while parsing table header: expected ']', saw '\\n'"},
    {"DuplicateKeyIsASyntaxError", "[global]\nworkers = 1\nworkers = 2\n",
     "3:11: TOML syntax error: Error while parsing key-value pair: cannot redefine existing "
     "integer 'workers'"},

    // --- unknown keys ---
    {"UnknownPoolKeySuggestsTheClosestKey",
     "[pools.api]\nbalanse = \"hash\"\nbackends = "
     "[\"127.0.0.1:9001\"]\n" WEB,
     "2:1: unknown key \"balanse\" in [pools.api] (did you mean \"balance\"?)"},
    {"UnknownSectionSuggestsTheClosestSection", "[globl]\nworkers = 1\n" POOL WEB,
     "1:2: unknown key \"globl\" at top level (did you mean \"global\"?)"},
    {"UnknownKeyWithNoCloseMatchHasNoSuggestion", POOL WEB "frobnicate = 1\n",
     "7:1: unknown key \"frobnicate\" in [listeners.web]"},
    {"UnknownKeyInBackendTable",
     "[pools.api]\nbackends = [{ address = \"127.0.0.1:9001\", wieght = 2 }]\n" WEB,
     "2:43: unknown key \"wieght\" in pools.api.backends[0] (did you mean \"weight\"?)"},
    {"UnknownKeyInRoute", POOL WEB "[[listeners.web.routes]]\npool = \"api\"\nprefix = \"/a\"\n",
     "9:1: unknown key \"prefix\" in [[listeners.web.routes]]"},
    {"UnknownKeyIsEscapedOntoOneLine", "\"a\\nb\" = 1\n" POOL WEB,
     "1:1: unknown key \"a\\x0ab\" at top level"},

    // --- types and ranges ---
    {"IntegerGivenAsStringIsATypeError", "[global]\nworkers = \"4\"\n" POOL WEB,
     "2:11: global.workers: expected an integer, got a string"},
    {"DurationGivenAsIntegerIsATypeError", "[global]\ndrain_timeout = 30\n" POOL WEB,
     "2:17: global.drain_timeout: expected a duration string like \"2s\", got an integer"},
    {"WorkersAbove1024", "[global]\nworkers = 1025\n" POOL WEB,
     "2:11: global.workers: 1025 is out of range (0..1024)"},
    {"GlobalMaxConnectionsZero", "[global]\nmax_connections = 0\n" POOL WEB,
     "2:19: global.max_connections: 0 is out of range (1..10000000)"},
    {"ListenerMaxConnectionsZero", POOL WEB "max_connections = 0\n",
     "7:19: listeners.web.max_connections: 0 is out of range (1..10000000)"},
    {"DurationWithoutUnit", "[global]\ndrain_timeout = \"30\"\n" POOL WEB,
     "2:17: global.drain_timeout: \"30\": duration needs a unit: ms, s, m or h (for example "
     "\"2s\")"},
    {"NegativeDuration",
     "[pools.api]\nconnect_timeout = \"-1s\"\nbackends = [\"127.0.0.1:1\"]\n" WEB,
     "2:19: pools.api.connect_timeout: \"-1s\": a duration cannot be negative"},
    {"ZeroConnectTimeout",
     "[pools.api]\nconnect_timeout = \"0s\"\nbackends = [\"127.0.0.1:1\"]\n" WEB,
     "2:19: pools.api.connect_timeout: must be more than 0"},
    {"HugeDuration", POOL WEB "idle_timeout = \"100000000000000h\"\n",
     "7:16: listeners.web.idle_timeout: \"100000000000000h\": duration is longer than the maximum "
     "of 720h"},
    {"RetriesAbove16", "[pools.api]\nretries = 17\nbackends = [\"127.0.0.1:1\"]\n" WEB,
     "2:11: pools.api.retries: 17 is out of range (0..16)"},
    {"LogLevelTypoSuggestsTheClosestLevel", "[global]\nlog_level = \"debg\"\n" POOL WEB,
     "2:13: global.log_level: \"debg\" is not one of: error, warn, info, debug (did you mean "
     "\"debug\"?)"},
    {"EmptyAccessLog", "[global]\naccess_log = \"\"\n" POOL WEB,
     "2:14: global.access_log: must not be empty"},
    {"UnknownMode",
     POOL "[listeners.web]\nbind = \"127.0.0.1:8080\"\nmode = \"htp\"\npool = \"api\"\n",
     "5:8: listeners.web.mode: \"htp\" is not one of: tcp, udp, http, forward (did you mean "
     "\"http\"?)"},
    {"UnknownBalance", "[pools.api]\nbalance = \"weighted\"\nbackends = [\"127.0.0.1:1\"]\n" WEB,
     "2:11: pools.api.balance: \"weighted\" is not one of: round_robin, least_conn, random_two, "
     "hash"},

    // --- addresses ---
    {"ListenerBindMustBeNumeric",
     POOL "[listeners.web]\nbind = \"localhost:8080\"\nmode = "
          "\"http\"\npool = \"api\"\n",
     "4:8: listeners.web.bind: \"localhost\" is not a numeric IP address (bind addresses must be "
     "numeric: \"IP:PORT\" or \"[IPv6]:PORT\")"},
    {"ListenerBindPortOutOfRange",
     POOL "[listeners.web]\nbind = \"127.0.0.1:70000\"\nmode = "
          "\"http\"\npool = \"api\"\n",
     "4:8: listeners.web.bind: port must be a number from 0 to 65535 (bind addresses must be "
     "numeric: \"IP:PORT\" or \"[IPv6]:PORT\")"},
    {"ListenerBindPortZero",
     POOL "[listeners.web]\nbind = \"127.0.0.1:0\"\nmode = \"http\"\npool = "
          "\"api\"\n",
     "4:8: listeners.web.bind: port 0 is not allowed"},
    {"AdminBindMustBeNumeric", "[admin]\nbind = \"localhost:9900\"\n" POOL WEB,
     "2:8: admin.bind: \"localhost\" is not a numeric IP address (bind addresses must be "
     "numeric: \"IP:PORT\" or \"[IPv6]:PORT\")"},
    {"AdminWithoutBind", "[admin]\n" POOL WEB, "1:1: admin: missing required key \"bind\""},
    {"AdminOnAListenersAddress", "[admin]\nbind = \"127.0.0.1:8080\"\n" POOL WEB,
     "2:8: admin.bind: 127.0.0.1:8080 is already used by listener \"web\""},
    {"BackendHostnameDoesNotResolve", "[pools.api]\nbackends = [\"nowhere.invalid:80\"]\n" WEB,
     "2:13: pools.api.backends[0]: cannot resolve \"nowhere.invalid\": Name or service not known"},
    {"BackendPortZero", "[pools.api]\nbackends = [\"127.0.0.1:0\"]\n" WEB,
     "2:13: pools.api.backends[0]: port 0 is not allowed"},
    {"BackendWithoutPort", "[pools.api]\nbackends = [\"127.0.0.1\"]\n" WEB,
     "2:13: pools.api.backends[0]: expected \"IP:PORT\", \"[IPv6]:PORT\" or \"hostname:PORT\""},

    // --- pools and backends ---
    {"EmptyBackendList", "[pools.api]\nbackends = []\n" WEB,
     "2:12: pools.api.backends: a pool needs at least one backend"},
    {"PoolWithoutBackends", "[pools.api]\nretries = 1\n" WEB,
     "1:1: pools.api: missing required key \"backends\""},
    {"BackendWeightZero",
     "[pools.api]\nbackends = [{ address = \"127.0.0.1:1\", weight = 0 }]\n" WEB,
     "2:49: pools.api.backends[0].weight: 0 is out of range (1..256)"},
    {"BackendWeightAbove256",
     "[pools.api]\nbackends = [{ address = \"127.0.0.1:1\", weight = 257 }]\n" WEB,
     "2:49: pools.api.backends[0].weight: 257 is out of range (1..256)"},
    {"BackendTableWithoutAddress", "[pools.api]\nbackends = [{ weight = 2 }]\n" WEB,
     "2:13: pools.api.backends[0]: missing required key \"address\""},
    {"BackendOfWrongType", "[pools.api]\nbackends = [\"127.0.0.1:1\", 2]\n" WEB,
     "2:28: pools.api.backends[1]: expected an address string or a { address = \"...\" } table, "
     "got an integer"},
    {"BackendListedTwice", "[pools.api]\nbackends = [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n" WEB,
     "2:28: pools.api.backends[1]: \"127.0.0.1:1\" is listed twice in this pool"},
    {"HashKeyWithoutHashBalance",
     "[pools.api]\nhash_key = \"uri\"\nbackends = [\"127.0.0.1:1\"]\n" WEB,
     "2:12: pools.api.hash_key: only used with balance = \"hash\""},
    {"HashKeyHeaderWithoutName",
     "[pools.api]\nbalance = \"hash\"\nhash_key = \"header:\"\nbackends = [\"127.0.0.1:1\"]\n" WEB,
     "3:12: pools.api.hash_key: hash_key needs a valid name after \"header:\""},
    {"HashKeyUnknown",
     "[pools.api]\nbalance = \"hash\"\nhash_key = \"client\"\nbackends = [\"127.0.0.1:1\"]\n" WEB,
     "3:12: pools.api.hash_key: hash_key must be source_ip, uri, \"header:NAME\" or "
     "\"cookie:NAME\""},
    {"InvalidPoolName", "[pools.\"my api\"]\nbackends = [\"127.0.0.1:1\"]\n" POOL WEB,
     "1:8: pools.\"my api\": invalid name; use 1 to 64 letters, digits, '_' or '-'"},
    {"MaxEjectionPercentAbove100",
     "[pools.api]\nmax_ejection_percent = 101\nbackends = "
     "[\"127.0.0.1:1\"]\n" WEB,
     "2:24: pools.api.max_ejection_percent: 101 is out of range (0..100)"},

    // --- health checks ---
    {"RiseZero", POOL "[pools.api.health]\nrise = 0\n" WEB,
     "4:8: pools.api.health.rise: 0 is out of range (1..100)"},
    {"FallZero", POOL "[pools.api.health]\nfall = 0\n" WEB,
     "4:8: pools.api.health.fall: 0 is out of range (1..100)"},
    {"ZeroInterval", POOL "[pools.api.health]\ninterval = \"0ms\"\n" WEB,
     "4:12: pools.api.health.interval: must be more than 0"},
    {"HealthTimeoutLongerThanInterval",
     POOL "[pools.api.health]\ninterval = \"1s\"\ntimeout = \"2s\"\n" WEB,
     "5:11: pools.api.health.timeout: must not be longer than interval (1s)"},
    {"ExpectStatusReversedRange",
     POOL "[pools.api.health]\ncheck = \"http\"\nexpect_status = \"399-200\"\n" WEB,
     "5:17: pools.api.health.expect_status: expect_status range \"399-200\" is reversed"},
    {"ExpectStatusNotACode",
     POOL "[pools.api.health]\ncheck = \"http\"\nexpect_status = \"ok\"\n" WEB,
     "5:17: pools.api.health.expect_status: expect_status wants status codes 100..599 and ranges, "
     "like \"200-399\" or \"200,204,300-399\""},
    {"HttpCheckKeyOnTcpCheck",
     POOL "[pools.api.health]\ncheck = \"tcp\"\nexpect_status = \"200\"\n" WEB,
     "5:17: pools.api.health.expect_status: only used by http checks (check = \"http\")"},
    {"HealthPathWithoutSlash",
     POOL "[pools.api.health]\ncheck = \"http\"\npath = \"healthz\"\n" WEB,
     "5:8: pools.api.health.path: must start with \"/\" and contain no spaces or control bytes"},

    // --- listeners: pools and modes ---
    {"ListenerPoolUndefinedSuggestsTheClosestPool",
     POOL "[listeners.web]\nbind = \"127.0.0.1:8080\"\nmode = \"http\"\npool = \"apj\"\n",
     "6:8: listeners.web.pool: no pool named \"apj\" (did you mean \"api\"?)"},
    {"RoutePoolUndefined", POOL WEB "[[listeners.web.routes]]\npool = \"static\"\n",
     "8:8: listeners.web.routes[0].pool: no pool named \"static\""},
    {"TcpListenerWithoutPool", POOL "[listeners.db]\nbind = \"127.0.0.1:5432\"\nmode = \"tcp\"\n",
     "3:1: listeners.db: a tcp listener needs \"pool\""},
    {"UdpListenerWithoutPool", POOL "[listeners.dns]\nbind = \"127.0.0.1:5353\"\nmode = \"udp\"\n",
     "3:1: listeners.dns: a udp listener needs \"pool\""},
    {"HttpListenerWithoutPoolOrRoutes",
     POOL "[listeners.web]\nbind = \"127.0.0.1:8080\"\nmode = \"http\"\n",
     "3:1: listeners.web: an http listener needs \"pool\" or \"routes\""},
    {"ListenerWithoutBind", POOL "[listeners.web]\nmode = \"http\"\npool = \"api\"\n",
     "3:1: listeners.web: missing required key \"bind\""},
    {"ListenerWithoutMode", POOL "[listeners.web]\nbind = \"127.0.0.1:8080\"\npool = \"api\"\n",
     "3:1: listeners.web: missing required key \"mode\""},
    {"TwoTcpListenersOnOneAddress",
     POOL WEB "[listeners.db]\nbind = \"127.0.0.1:8080\"\nmode = \"tcp\"\npool = \"api\"\n",
     "8:8: listeners.db.bind: 127.0.0.1:8080 is already used by listener \"web\" (line 3)"},
    {"RoutesOnTcpListener",
     POOL "[listeners.db]\nbind = \"127.0.0.1:5432\"\nmode = \"tcp\"\npool = \"api\"\n"
          "[[listeners.db.routes]]\npool = \"api\"\n",
     "7:1: listeners.db.routes: not allowed on a tcp listener (only http)"},
    {"TlsOnUdpListener",
     POOL "[listeners.dns]\nbind = \"127.0.0.1:53\"\nmode = \"udp\"\npool = \"api\"\n"
          "[listeners.dns.tls]\ncertificates = [{ cert = \"a.pem\", key = \"a.key\" }]\n",
     "7:1: listeners.dns.tls: not allowed on a udp listener (only tcp, http)"},
    {"AllowOnHttpListener", POOL WEB "allow = [\"*.example.com\"]\n",
     "7:9: listeners.web.allow: not allowed on an http listener (only forward)"},
    {"ConnectPortsOnTcpListener",
     POOL "[listeners.db]\nbind = \"127.0.0.1:5432\"\nmode = \"tcp\"\npool = \"api\"\n"
          "connect_ports = [443]\n",
     "7:17: listeners.db.connect_ports: not allowed on a tcp listener (only forward)"},
    {"HeaderTimeoutOnTcpListener",
     POOL "[listeners.db]\nbind = \"127.0.0.1:5432\"\nmode = \"tcp\"\npool = \"api\"\n"
          "header_timeout = \"5s\"\n",
     "7:18: listeners.db.header_timeout: not allowed on a tcp listener (only http, forward)"},
    {"ProxyProtocolOnHttpListener", POOL WEB "proxy_protocol = \"v2\"\n",
     "7:18: listeners.web.proxy_protocol: not allowed on an http listener (only tcp)"},
    {"PoolOnForwardListener",
     POOL "[listeners.out]\nbind = \"127.0.0.1:3128\"\nmode = \"forward\"\npool = \"api\"\n",
     "6:8: listeners.out.pool: not allowed on a forward listener (only tcp, udp, http)"},
    {"EmptyAllowList",
     "[listeners.out]\nbind = \"127.0.0.1:3128\"\nmode = \"forward\"\nallow = []\n",
     "4:9: listeners.out.allow: must not be empty (leave the key out instead)"},
    {"InvalidCidrInDeny",
     "[listeners.out]\nbind = \"127.0.0.1:3128\"\nmode = \"forward\"\ndeny = [\"10.0.0.0/40\"]\n",
     "4:9: listeners.out.deny[0]: \"10.0.0.0/40\": CIDR prefix length must be 0..32"},
    {"ConnectPortZero",
     "[listeners.out]\nbind = \"127.0.0.1:3128\"\nmode = \"forward\"\nconnect_ports = [443, 0]\n",
     "4:23: listeners.out.connect_ports[1]: 0 is out of range (1..65535)"},
#define OUT "[listeners.out]\nbind = \"127.0.0.1:3128\"\nmode = \"forward\"\n"
    {"UsersFileOnHttpListener", POOL WEB "users_file = \"u.htpasswd\"\n",
     "7:14: listeners.web.users_file: not allowed on an http listener (only forward)"},
    {"MaxConnectionsPerClientZero", OUT "max_connections_per_client = 0\n",
     "4:30: listeners.out.max_connections_per_client: 0 is out of range (1..10000000)"},
    {"SourceIsAName", OUT "source = \"egress.example.com\"\n",
     "4:10: listeners.out.source: \"egress.example.com\" is not a numeric IP address (a numeric "
     "IP address without a port)"},
    {"SourceWithAPort", OUT "source = \"192.0.2.1:80\"\n",
     "4:10: listeners.out.source: \"192.0.2.1:80\" has a port: only the address is expected (a "
     "numeric IP address without a port)"},
    {"EmptyResolvers", "[global]\nresolvers = []\n" OUT,
     "2:13: global.resolvers: must not be empty (leave the key out instead)"},
    {"ResolverIsAName", "[global]\nresolvers = [\"dns.example.com\"]\n" OUT,
     "2:14: global.resolvers[0]: \"dns.example.com\" is not a numeric IP address (\"IP\" or "
     "\"IP:PORT\", port 53 by default)"},
    {"ResolverPortZero", "[global]\nresolvers = [\"127.0.0.1:0\"]\n" OUT,
     "2:14: global.resolvers[0]: port 0 is not allowed"},
#undef OUT
    {"H2OnPlainListener", POOL WEB "protocols = [\"h2\", \"http/1.1\"]\n",
     "7:13: listeners.web.protocols: \"h2\" needs [tls] on this listener (ALPN); plain listeners "
     "accept \"h2c\""},
    {"UnknownProtocol", POOL WEB "protocols = [\"spdy/3\"]\n",
     "7:14: listeners.web.protocols[0]: \"spdy/3\" is not one of: http/1.1, h2, h2c"},
    {"ProtocolListedTwice", POOL WEB "protocols = [\"h2c\", \"h2c\"]\n",
     "7:21: listeners.web.protocols[1]: \"h2c\" is listed twice"},
    {"EmptyProtocols", POOL WEB "protocols = []\n",
     "7:13: listeners.web.protocols: must not be empty (leave the key out instead)"},
    {"ProtocolsOnTcpListener",
     POOL "[listeners.db]\nbind = \"127.0.0.1:5432\"\nmode = \"tcp\"\npool = \"api\"\n"
          "protocols = [\"h2c\"]\n",
     "7:13: listeners.db.protocols: not allowed on a tcp listener (only http)"},
    {"RedirectWithPool",
     POOL WEB "[[listeners.web.routes]]\nredirect = \"https\"\npool = \"api\"\n",
     "8:12: listeners.web.routes[0].redirect: a route either redirects or goes to a pool: remove "
     "`pool` or `redirect`"},
    {"RedirectNotAUrl", POOL WEB "[[listeners.web.routes]]\nredirect = \"/elsewhere\"\n",
     "8:12: listeners.web.routes[0].redirect: must be \"https\" or an absolute URL prefix such as "
     "\"https://example.com\" (no spaces, control bytes or fragment)"},
    {"RedirectCodeNotARedirect",
     POOL WEB "[[listeners.web.routes]]\nredirect = \"https\"\nredirect_code = 304\n",
     "9:17: listeners.web.routes[0].redirect_code: 304 is not 301, 302, 303, 307 or 308"},
    {"RedirectCodeWithoutRedirect",
     POOL WEB "[[listeners.web.routes]]\npool = \"api\"\nredirect_code = 302\n",
     "9:17: listeners.web.routes[0].redirect_code: only used with redirect"},
    {"RewriteWithoutPathPrefix",
     POOL WEB "[[listeners.web.routes]]\npool = \"api\"\nrewrite_prefix = \"/v2\"\n",
     "9:18: listeners.web.routes[0].rewrite_prefix: replaces the matched path_prefix: this route "
     "needs path_prefix"},
    {"MaxHeaderSizeTooSmall", POOL WEB "max_header_size = 100\n",
     "7:19: listeners.web.max_header_size: 100 is out of range (1024..1048576)"},
    {"MaxRequestLineTooSmall", POOL WEB "max_request_line = 10\n",
     "7:20: listeners.web.max_request_line: 10 is out of range (256..1048576)"},
    {"MaxHeaderFieldsZero", POOL WEB "max_header_fields = 0\n",
     "7:21: listeners.web.max_header_fields: 0 is out of range (1..10000)"},
    {"MaxBodySizeUnknownUnit", POOL WEB "max_body_size = \"100 potatoes\"\n",
     "7:17: listeners.web.max_body_size: \"100 potatoes\": unknown size unit; use B, KB, MB, GB, "
     "KiB, MiB or GiB"},
    {"MaxBodySizeNegative", POOL WEB "max_body_size = -1\n",
     "7:17: listeners.web.max_body_size: must be between 0 and 1099511627776 bytes (1TiB)"},
    {"MaxBodySizeOnTcp",
     POOL "[listeners.db]\nbind = \"127.0.0.1:5432\"\nmode = \"tcp\"\npool = \"api\"\n"
          "max_body_size = \"1MiB\"\n",
     "7:17: listeners.db.max_body_size: not allowed on a tcp listener (only http, forward)"},
    {"NoListeners", POOL, "1:1: no listeners: define at least one [listeners.NAME] section"},

    // --- routes ---
    {"RouteWithoutPool", POOL WEB "[[listeners.web.routes]]\nhost = \"a.example.com\"\n",
     "7:1: listeners.web.routes[0]: missing required key \"pool\""},
    {"RouteWithPathAndPathPrefix",
     POOL WEB "[[listeners.web.routes]]\npath = \"/a\"\npath_prefix = \"/b\"\npool = \"api\"\n",
     "8:8: listeners.web.routes[0].path: use either path or path_prefix, not both"},
    {"RouteHostWithInnerWildcard",
     POOL WEB "[[listeners.web.routes]]\nhost = \"a.*.com\"\npool = \"api\"\n",
     "8:8: listeners.web.routes[0].host: expected a host name like \"app.example.com\" or "
     "\"*.example.com\""},
    {"RouteSetsAFramingHeader",
     POOL WEB "[[listeners.web.routes]]\npool = \"api\"\nset_request_headers = { "
              "Content-Length = \"5\" }\n",
     "9:25: listeners.web.routes[0].set_request_headers.Content-Length: \"Content-Length\" cannot "
     "be used as a header name here"},
    {"RouteHeaderValueWithNewline",
     POOL WEB "[[listeners.web.routes]]\npool = \"api\"\nset_response_headers = { X-A = \"a\\nb\" "
              "}\n",
     "9:32: listeners.web.routes[0].set_response_headers.X-A: header value must not contain CR, "
     "LF or NUL"},
    {"RouteMethodNotAToken",
     POOL WEB "[[listeners.web.routes]]\npool = \"api\"\nmethods = [\"GET\", \"BAD METHOD\"]\n",
     "9:19: listeners.web.routes[0].methods[1]: \"BAD METHOD\" is not a valid HTTP method"},

    // --- tls ---
    {"TlsWithoutCertificates", POOL WEB "[listeners.web.tls]\n",
     "7:1: listeners.web.tls: missing required key \"certificates\""},
    {"TlsWithEmptyCertificates", POOL WEB "[listeners.web.tls]\ncertificates = []\n",
     "8:16: listeners.web.tls.certificates: needs at least one { cert = \"...\", key = \"...\" }"},
    {"CertificateWithoutKey",
     POOL WEB "[listeners.web.tls]\ncertificates = [{ cert = \"a.pem\" }]\n",
     "8:17: listeners.web.tls.certificates[0]: missing required key \"key\""},
    {"ClientVerifyWithoutClientCa",
     POOL WEB "[listeners.web.tls]\nclient_verify = \"optional\"\n"
              "certificates = [{ cert = \"a.pem\", key = \"a.key\" }]\n",
     "8:17: listeners.web.tls.client_verify: needs client_ca (the CA that client certificates "
     "are verified against)"},
    {"MinVersionOutOfChoices",
     POOL WEB "[listeners.web.tls]\nmin_version = \"1.1\"\n"
              "certificates = [{ cert = \"a.pem\", key = \"a.key\" }]\n",
     "8:15: listeners.web.tls.min_version: \"1.1\" is not one of: 1.2, 1.3 (did you mean "
     "\"1.2\"?)"},
};

#undef POOL
#undef WEB

class BrokenConfig : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenConfig, ReportsExactlyOneProblemAtItsPosition) {
  TempDir dir;
  // Certificate files exist (so only the case's own problem is reported).
  dir.write("a.pem", testing::kTestCertPem);
  dir.write("a.key", testing::kTestKeyPem);
  auto found = problems(GetParam().toml, (dir.path() / "ringlb.toml").string());
  EXPECT_EQ(found, std::vector<std::string>{GetParam().expected}) << GetParam().toml;
}

INSTANTIATE_TEST_SUITE_P(Loader, BrokenConfig, ::testing::ValuesIn(kCases),
                         [](const auto& testInfo) { return std::string(testInfo.param.name); });

TEST(LoadErrors, ReportsEveryProblemAtOnceInFileOrder) {
  auto found = problems(R"([global]
workers = -1
log_level = "loud"

[pools.api]
balanse = "hash"
backends = ["127.0.0.1:9001", { address = "127.0.0.1:9002", weight = 0 }]

[listeners.web]
bind = "0.0.0.0:8080"
mode = "http"
pool = "apx"

[listeners.db]
bind = "0.0.0.0:8080"
mode = "tcp"
)");
  EXPECT_EQ(found, (std::vector<std::string>{
                       "2:11: global.workers: -1 is out of range (0..1024)",
                       "3:13: global.log_level: \"loud\" is not one of: error, warn, info, debug",
                       "6:1: unknown key \"balanse\" in [pools.api] (did you mean \"balance\"?)",
                       "7:70: pools.api.backends[1].weight: 0 is out of range (1..256)",
                       "12:8: listeners.web.pool: no pool named \"apx\" (did you mean \"api\"?)",
                       "14:1: listeners.db: a tcp listener needs \"pool\"",
                       "15:8: listeners.db.bind: 0.0.0.0:8080 is already used by listener \"web\" "
                       "(line 9)",
                   }));
}

TEST(LoadErrors, UnreadableCertificateNamesTheResolvedPath) {
  TempDir dir;
  std::string configPath = (dir.path() / "ringlb.toml").string();
  dir.write("certs/app.key", testing::kTestKeyPem);
  auto found = problems(R"([pools.api]
backends = ["127.0.0.1:9001"]
[listeners.web]
bind = "127.0.0.1:8443"
mode = "http"
pool = "api"
[listeners.web.tls]
certificates = [{ cert = "certs/app.pem", key = "certs/app.key" }]
)",
                        configPath);
  std::string resolved = (dir.path() / "certs/app.pem").string();
  EXPECT_EQ(found,
            std::vector<std::string>{"8:26: listeners.web.tls.certificates[0].cert: cannot read "
                                     "\"certs/app.pem\" (\"" +
                                     resolved + "\"): No such file or directory"});
}

TEST(LoadErrors, CertificateThatIsADirectoryIsRejected) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "certs");
  dir.write("app.key", testing::kTestKeyPem);
  auto found = problems(R"([pools.api]
backends = ["127.0.0.1:9001"]
[listeners.web]
bind = "127.0.0.1:8443"
mode = "http"
pool = "api"
tls = { certificates = [{ cert = "/", key = "app.key" }] }
)",
                        (dir.path() / "ringlb.toml").string());
  EXPECT_EQ(found, std::vector<std::string>{"7:34: listeners.web.tls.certificates[0].cert: "
                                            "cannot read \"/\": not a regular file"});
}

TEST(LoadErrors, MissingFileIsReportedAsOneProblem) {
  LoadResult result = loadConfigFile("/nonexistent/ringlb.toml", testing::fakeOptions());
  EXPECT_FALSE(result.config);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].format(),
            "/nonexistent/ringlb.toml:1:1: cannot open config file: No such file or directory");
}

TEST(LoadErrors, FormatIsFileLineColumnMessage) {
  ConfigError error{"ringlb.toml", {12, 5}, "pools.api.retries: 17 is out of range (0..16)"};
  EXPECT_EQ(error.format(), "ringlb.toml:12:5: pools.api.retries: 17 is out of range (0..16)");
}

}  // namespace
}  // namespace ringlb::config::load_errors_test
