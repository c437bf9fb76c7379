// The gateway keys of a route (rate_limit, auth, cors, compress) and a
// pool's protocol: good values load into the model, and each bad one is
// reported once, at its line and column, naming the key.
#include <gtest/gtest.h>

#include "config/load.h"
#include "tests/unit/config/auth_test_support.h"
#include "tests/unit/config/config_test_support.h"

namespace ringlb::config {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;
using testing::fakeOptions;
using testing::problems;
using testing::TempDir;

// A directory with a valid file of each auth kind and a config file path.
class AuthDir {
 public:
  AuthDir() {
    dir_.write("users.htpasswd", "demo:" + testing::cryptHash("demo", "$2y$") + "\n");
    dir_.write("keys.txt", "demo:" + std::string(testing::kDemoKeyDigest) + "\n");
    dir_.write("jwks.json", testing::octJwks());
  }
  std::string config() const { return (dir_.path() / "ringlb.toml").string(); }
  std::string file(const std::string& name) const { return (dir_.path() / name).string(); }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
};

Config loadOk(std::string_view text, const std::string& path) {
  LoadResult result = loadConfigText(text, path, fakeOptions());
  for (const ConfigError& error : result.errors) ADD_FAILURE() << error.format();
  return result.config.value_or(Config{});
}

constexpr std::string_view kEveryKey = R"(
[pools.api]
protocol = "h2"
backends = ["127.0.0.1:9001"]

[listeners.web]
bind = "127.0.0.1:8080"
mode = "http"

[[listeners.web.routes]]
path_prefix = "/basic"
pool = "api"
rate_limit = { requests = 100, per = "1m", burst = 20, key = "header:X-Client-ID" }
auth = { type = "basic", users_file = "users.htpasswd", realm = "api" }
cors = { origins = ["https://App.example.com:443", "http://localhost:3000"], methods = ["GET", "PATCH"], headers = ["Content-Type", "X-Trace"], max_age = "1h", credentials = true }
compress = { algorithms = ["gzip", "zstd"], min_size = "2KiB", types = ["Text/*", "application/json"] }

[[listeners.web.routes]]
path_prefix = "/keys"
pool = "api"
auth = { type = "api_key", keys_file = "keys.txt", header = "X-Key" }
rate_limit = { requests = 5, key = "route" }

[[listeners.web.routes]]
path_prefix = "/jwt"
pool = "api"
auth = { type = "jwt", jwks_file = "jwks.json", issuer = "https://id.example.com", audience = "api", claims_to_headers = { sub = "X-User", "https://example.com/tenant" = "X-Tenant" } }
cors = { origins = ["*"] }
compress = {}
)";

TEST(GatewayKeys, EveryKeyLoadsIntoTheModel) {
  AuthDir dir;
  Config config = loadOk(kEveryKey, dir.config());
  EXPECT_EQ(config.pools.at("api").protocol, UpstreamProtocol::H2);
  const auto& routes = config.listeners.at(0).routes;
  ASSERT_EQ(routes.size(), 3u);

  ASSERT_TRUE(routes[0].rateLimit);
  EXPECT_EQ(routes[0].rateLimit->requests, 100u);
  EXPECT_EQ(routes[0].rateLimit->per, minutes(1));
  EXPECT_EQ(routes[0].rateLimit->burst, 20u);
  EXPECT_EQ(routes[0].rateLimit->key, RateLimitKey::Header);
  EXPECT_EQ(routes[0].rateLimit->headerName, "x-client-id");

  ASSERT_TRUE(routes[0].auth);
  EXPECT_EQ(routes[0].auth->type, AuthType::Basic);
  EXPECT_EQ(routes[0].auth->usersFile, dir.file("users.htpasswd"));
  EXPECT_EQ(routes[0].auth->realm, "api");
  ASSERT_TRUE(routes[0].auth->credentials);
  EXPECT_EQ(routes[0].auth->credentials->users.count("demo"), 1u);

  ASSERT_TRUE(routes[0].cors);
  EXPECT_EQ(routes[0].cors->origins,
            (std::vector<std::string>{"https://app.example.com", "http://localhost:3000"}));
  EXPECT_EQ(routes[0].cors->methods, (std::vector<std::string>{"GET", "PATCH"}));
  EXPECT_EQ(routes[0].cors->headers, (std::vector<std::string>{"content-type", "x-trace"}));
  EXPECT_EQ(routes[0].cors->maxAge, std::chrono::hours(1));
  EXPECT_TRUE(routes[0].cors->credentials);

  ASSERT_TRUE(routes[0].compress);
  EXPECT_EQ(routes[0].compress->algorithms,
            (std::vector<ContentCoding>{ContentCoding::Gzip, ContentCoding::Zstd}));
  EXPECT_EQ(routes[0].compress->minSize, 2048u);
  EXPECT_EQ(routes[0].compress->types, (std::vector<std::string>{"text/*", "application/json"}));
}

TEST(GatewayKeys, ApiKeyAndJwtAuth) {
  AuthDir dir;
  Config config = loadOk(kEveryKey, dir.config());
  const auto& routes = config.listeners.at(0).routes;
  const AuthConfig& keys = *routes.at(1).auth;
  EXPECT_EQ(keys.type, AuthType::ApiKey);
  EXPECT_EQ(keys.keysFile, dir.file("keys.txt"));
  EXPECT_EQ(keys.header, "X-Key");
  EXPECT_EQ(keys.realm, "ringlb");
  ASSERT_TRUE(keys.credentials);
  ASSERT_EQ(keys.credentials->apiKeys.size(), 1u);
  EXPECT_EQ(keys.credentials->apiKeys[0].first, "demo");
  EXPECT_EQ(routes.at(1).rateLimit->key, RateLimitKey::Route);

  const AuthConfig& jwt = *routes.at(2).auth;
  EXPECT_EQ(jwt.type, AuthType::Jwt);
  EXPECT_EQ(jwt.jwksFile, dir.file("jwks.json"));
  EXPECT_EQ(jwt.issuer, "https://id.example.com");
  EXPECT_EQ(jwt.audience, "api");
  ASSERT_EQ(jwt.claimsToHeaders.size(), 2u);
  EXPECT_EQ(jwt.claimsToHeaders[0].claim, "https://example.com/tenant");
  EXPECT_EQ(jwt.claimsToHeaders[0].header, "X-Tenant");
  EXPECT_EQ(jwt.claimsToHeaders[1].claim, "sub");
  EXPECT_EQ(jwt.claimsToHeaders[1].header, "X-User");
  ASSERT_TRUE(jwt.credentials);
  ASSERT_EQ(jwt.credentials->jwks.size(), 1u);
  EXPECT_EQ(jwt.credentials->jwks[0].alg, "HS256");
}

TEST(GatewayKeys, LeftOutKeysGetTheDocumentedDefaults) {
  AuthDir dir;
  Config config = loadOk(kEveryKey, dir.config());
  const auto& routes = config.listeners.at(0).routes;
  const RateLimitConfig& rl = *routes.at(1).rateLimit;
  EXPECT_EQ(rl.per, seconds(1));
  EXPECT_EQ(rl.burst, 5u);  // = requests
  const CorsConfig& cors = *routes.at(2).cors;
  EXPECT_EQ(cors.origins, (std::vector<std::string>{"*"}));
  EXPECT_EQ(cors.methods, (std::vector<std::string>{"GET", "HEAD", "POST"}));
  EXPECT_TRUE(cors.headers.empty());
  EXPECT_EQ(cors.maxAge, minutes(10));
  EXPECT_FALSE(cors.credentials);
  const CompressConfig& compress = *routes.at(2).compress;
  EXPECT_EQ(compress.algorithms,
            (std::vector<ContentCoding>{ContentCoding::Zstd, ContentCoding::Brotli,
                                        ContentCoding::Gzip}));
  EXPECT_EQ(compress.minSize, 1024u);
  EXPECT_EQ(compress.types.front(), "text/*");
  EXPECT_FALSE(routes.at(1).cors);
  EXPECT_FALSE(routes.at(1).compress);
  EXPECT_EQ(rl.key, RateLimitKey::Route);
  Config plain = loadOk(
      "[pools.api]\nbackends = [\"127.0.0.1:1\"]\n[listeners.web]\nbind = \"127.0.0.1:80\"\n"
      "mode = \"http\"\npool = \"api\"\n[[listeners.web.routes]]\npool = \"api\"\n"
      "rate_limit = { requests = 3 }\n",
      dir.config());
  EXPECT_EQ(plain.pools.at("api").protocol, UpstreamProtocol::Http11);
  EXPECT_EQ(plain.listeners.at(0).routes.at(0).rateLimit->key, RateLimitKey::SourceIp);
}

TEST(GatewayKeys, SubTablesMayBeWrittenAsSections) {
  AuthDir dir;
  Config config = loadOk(R"(
[pools.api]
backends = ["127.0.0.1:9001"]
[listeners.web]
bind = "127.0.0.1:8080"
mode = "http"
[[listeners.web.routes]]
pool = "api"
[listeners.web.routes.auth]
type = "jwt"
jwks_file = "jwks.json"
[listeners.web.routes.auth.claims_to_headers]
sub = "X-User"
[listeners.web.routes.rate_limit]
requests = 7
)",
                         dir.config());
  const RouteConfig& route = config.listeners.at(0).routes.at(0);
  ASSERT_TRUE(route.auth && route.rateLimit);
  EXPECT_EQ(route.auth->claimsToHeaders.at(0).header, "X-User");
  EXPECT_EQ(route.rateLimit->burst, 7u);
}

TEST(GatewayKeys, ARouteFileIsReadOnceAndSharedAndEveryLoadRereadsIt) {
  AuthDir dir;
  std::string text =
      "[pools.api]\nbackends = [\"127.0.0.1:1\"]\n[listeners.web]\nbind = \"127.0.0.1:80\"\n"
      "mode = \"http\"\n"
      "[[listeners.web.routes]]\npath = \"/a\"\npool = \"api\"\n"
      "auth = { type = \"basic\", users_file = \"users.htpasswd\" }\n"
      "[[listeners.web.routes]]\npath = \"/b\"\npool = \"api\"\n"
      "auth = { type = \"basic\", users_file = \"" +
      dir.file("users.htpasswd") + "\" }\n";
  Config first = loadOk(text, dir.config());
  const auto& routes = first.listeners.at(0).routes;
  EXPECT_EQ(routes.at(0).auth->credentials, routes.at(1).auth->credentials);
  // A reload builds a new Config from the file as it is now.
  dir.dir().write("users.htpasswd", "other:" + testing::cryptHash("x", "$6$") + "\n");
  Config second = loadOk(text, dir.config());
  const AuthCredentials& now = *second.listeners.at(0).routes.at(0).auth->credentials;
  EXPECT_EQ(now.users.count("other"), 1u);
  EXPECT_EQ(now.users.count("demo"), 0u);
  EXPECT_EQ(routes.at(0).auth->credentials->users.count("demo"), 1u);
}

TEST(GatewayKeys, UnreadFilesGiveCredentialsThatLetNobodyIn) {
  LoadOptions options = fakeOptions();
  options.checkFiles = false;
  LoadResult result = loadConfigText(
      "[pools.api]\nbackends = [\"127.0.0.1:1\"]\n[listeners.web]\nbind = \"127.0.0.1:80\"\n"
      "mode = \"http\"\n[[listeners.web.routes]]\npool = \"api\"\n"
      "auth = { type = \"jwt\", jwks_file = \"missing.json\" }\n",
      "/srv/ringlb.toml", options);
  ASSERT_TRUE(result.config);
  const AuthConfig& auth = *result.config->listeners.at(0).routes.at(0).auth;
  EXPECT_EQ(auth.jwksFile, "/srv/missing.json");
  ASSERT_TRUE(auth.credentials);
  EXPECT_TRUE(auth.credentials->jwks.empty());
}

TEST(GatewayKeys, ABadAuthFileIsReportedAtItsKeyWithFileAndLine) {
  AuthDir dir;
  dir.dir().write("users.htpasswd", "# users\nalice:plaintext\n");
  auto found = problems(
      "[pools.api]\nbackends = [\"127.0.0.1:1\"]\n[listeners.web]\nbind = \"127.0.0.1:80\"\n"
      "mode = \"http\"\n[[listeners.web.routes]]\npool = \"api\"\n"
      "auth = { type = \"basic\", users_file = \"users.htpasswd\" }\n",
      dir.config());
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0],
            "8:39: listeners.web.routes[0].auth.users_file: " + dir.file("users.htpasswd") +
                ":2: user \"alice\": not a password hash (plain text is refused); accepted: "
                "bcrypt ($2y$, from `htpasswd -B`), SHA-512-crypt ($6$) or yescrypt ($y$)");
}

TEST(GatewayKeys, AMissingAuthFileNamesTheResolvedPath) {
  AuthDir dir;
  auto found = problems(
      "[pools.api]\nbackends = [\"127.0.0.1:1\"]\n[listeners.web]\nbind = \"127.0.0.1:80\"\n"
      "mode = \"http\"\n[[listeners.web.routes]]\npool = \"api\"\n"
      "auth = { type = \"api_key\", keys_file = \"nope.txt\" }\n",
      dir.config());
  EXPECT_EQ(found,
            std::vector<std::string>{
                "8:40: listeners.web.routes[0].auth.keys_file: cannot read \"nope.txt\" (\"" +
                dir.file("nope.txt") + "\"): No such file or directory"});
}

TEST(GatewayKeys, AMisspeltRequiredKeyIsReportedAsUnknownAndAsMissing) {
  AuthDir dir;
  auto found = problems(
      "[pools.api]\nbackends = [\"127.0.0.1:1\"]\n[listeners.web]\nbind = \"127.0.0.1:80\"\n"
      "mode = \"http\"\n[[listeners.web.routes]]\npool = \"api\"\n"
      "auth = { type = \"basic\", user_file = \"users.htpasswd\" }\n",
      dir.config());
  EXPECT_EQ(found, (std::vector<std::string>{
                       "8:8: listeners.web.routes[0].auth: type = \"basic\" needs \"users_file\"",
                       "8:26: unknown key \"user_file\" in listeners.web.routes[0].auth (did you "
                       "mean \"users_file\"?)"}));
}

// ---- one problem per case ----

struct BrokenCase {
  const char* name;
  const char* toml;  // starts on line 9
  const char* expected;
};

// Each case is appended to a pool, an http listener and a route (lines 1-8).
const BrokenCase kCases[] = {
    // --- rate_limit ---
    {"RateLimitWithoutRequests", "rate_limit = { per = \"1s\" }\n",
     "9:14: listeners.web.routes[0].rate_limit: missing required key \"requests\""},
    {"RateLimitRequestsZero", "rate_limit = { requests = 0 }\n",
     "9:27: listeners.web.routes[0].rate_limit.requests: 0 is out of range (1..1000000000)"},
    {"RateLimitBurstZero", "rate_limit = { requests = 1, burst = 0 }\n",
     "9:38: listeners.web.routes[0].rate_limit.burst: 0 is out of range (1..1000000000)"},
    {"RateLimitPerZero", "rate_limit = { requests = 1, per = \"0s\" }\n",
     "9:36: listeners.web.routes[0].rate_limit.per: must be more than 0"},
    {"RateLimitKeyUnknown", "rate_limit = { requests = 1, key = \"cookie:a\" }\n",
     "9:36: listeners.web.routes[0].rate_limit.key: key must be source_ip, route or "
     "\"header:NAME\""},
    {"RateLimitKeyHeaderWithoutName", "rate_limit = { requests = 1, key = \"header:\" }\n",
     "9:36: listeners.web.routes[0].rate_limit.key: key needs a valid header name after "
     "\"header:\""},
    {"RateLimitUnknownKeySuggests", "rate_limit = { requests = 1, brust = 2 }\n",
     "9:30: unknown key \"brust\" in listeners.web.routes[0].rate_limit (did you mean "
     "\"burst\"?)"},
    {"RateLimitNotATable", "rate_limit = 100\n",
     "9:14: listeners.web.routes[0].rate_limit: expected a table, got an integer"},
    {"RateLimitOnRedirect",
     "[[listeners.web.routes]]\nredirect = \"https\"\nrate_limit = { requests = 1 }\n",
     "11:14: listeners.web.routes[1].rate_limit: a redirect route sends nothing upstream: remove "
     "rate_limit"},

    // --- auth ---
    {"AuthWithoutType", "auth = { users_file = \"users.htpasswd\" }\n",
     "9:8: listeners.web.routes[0].auth: missing required key \"type\""},
    {"AuthUnknownType", "auth = { type = \"oauth\" }\n",
     "9:17: listeners.web.routes[0].auth.type: \"oauth\" is not one of: basic, api_key, jwt"},
    {"AuthBasicWithoutUsersFile", "auth = { type = \"basic\" }\n",
     "9:8: listeners.web.routes[0].auth: type = \"basic\" needs \"users_file\""},
    {"AuthJwtWithoutJwksFile", "auth = { type = \"jwt\", issuer = \"x\" }\n",
     "9:8: listeners.web.routes[0].auth: type = \"jwt\" needs \"jwks_file\""},
    {"AuthKeyOfAnotherType",
     "auth = { type = \"basic\", users_file = \"users.htpasswd\", keys_file = \"keys.txt\" }\n",
     "9:69: listeners.web.routes[0].auth.keys_file: only used with type = \"api_key\" (this auth "
     "is type = \"basic\")"},
    {"AuthClaimsOnApiKey",
     "auth = { type = \"api_key\", keys_file = \"keys.txt\", claims_to_headers = { sub = \"X-U\" "
     "} }\n",
     "9:72: listeners.web.routes[0].auth.claims_to_headers: only used with type = \"jwt\" (this "
     "auth is type = \"api_key\")"},
    {"AuthUnknownKeySuggests",
     "auth = { type = \"basic\", users_file = \"users.htpasswd\", relam = \"x\" }\n",
     "9:57: unknown key \"relam\" in listeners.web.routes[0].auth (did you mean \"realm\"?)"},
    {"AuthApiKeyHeaderNotAToken",
     "auth = { type = \"api_key\", keys_file = \"keys.txt\", header = \"X Key\" }\n",
     "9:61: listeners.web.routes[0].auth.header: \"X Key\" is not a valid header name"},
    {"AuthRealmWithQuote",
     "auth = { type = \"basic\", users_file = \"users.htpasswd\", realm = 'a\"b' }\n",
     "9:65: listeners.web.routes[0].auth.realm: must not be empty or contain '\"', '\\' or "
     "control bytes"},
    {"AuthClaimToABadHeader",
     "auth = { type = \"jwt\", jwks_file = \"jwks.json\", claims_to_headers = { sub = \"X User\" "
     "} }\n",
     "9:77: listeners.web.routes[0].auth.claims_to_headers.sub: \"X User\" is not a valid header "
     "name"},
    {"AuthClaimToHost",
     "auth = { type = \"jwt\", jwks_file = \"jwks.json\", claims_to_headers = { sub = \"Host\" } "
     "}\n",
     "9:77: listeners.web.routes[0].auth.claims_to_headers.sub: Host cannot be set from a claim"},
    {"AuthTwoClaimsToOneHeader",
     "auth = { type = \"jwt\", jwks_file = \"jwks.json\", claims_to_headers = { a = \"X-U\", b "
     "= \"x-u\" } }\n",
     "9:86: listeners.web.routes[0].auth.claims_to_headers.b: \"x-u\" is already set from claim "
     "\"a\""},
    {"AuthEmptyIssuer", "auth = { type = \"jwt\", jwks_file = \"jwks.json\", issuer = \"\" }\n",
     "9:58: listeners.web.routes[0].auth.issuer: must not be empty"},
    {"AuthOnRedirect",
     "[[listeners.web.routes]]\nredirect = \"https\"\n"
     "auth = { type = \"basic\", users_file = \"users.htpasswd\" }\n",
     "11:8: listeners.web.routes[1].auth: a redirect route sends nothing upstream: remove auth"},

    // --- cors ---
    {"CorsWithoutOrigins", "cors = { credentials = true }\n",
     "9:8: listeners.web.routes[0].cors: missing required key \"origins\""},
    {"CorsEmptyOrigins", "cors = { origins = [] }\n",
     "9:20: listeners.web.routes[0].cors.origins: must not be empty (leave the key out instead)"},
    {"CorsOriginWithPath", "cors = { origins = [\"https://a.example.com/\"] }\n",
     "9:21: listeners.web.routes[0].cors.origins[0]: \"https://a.example.com/\": expected \"*\" "
     "or an origin like \"https://app.example.com\" or \"http://localhost:3000\" "
     "(scheme://host[:port], no path, not even a trailing \"/\")"},
    {"CorsOriginTwiceAfterNormalising",
     "cors = { origins = [\"https://a.example.com\", \"HTTPS://A.example.com:443\"] }\n",
     "9:46: listeners.web.routes[0].cors.origins[1]: \"HTTPS://A.example.com:443\" is listed "
     "twice"},
    {"CorsWildcardWithOthers", "cors = { origins = [\"*\", \"https://a.example.com\"] }\n",
     "9:20: listeners.web.routes[0].cors.origins: \"*\" allows every origin: list it alone"},
    {"CorsWildcardWithCredentials", "cors = { origins = [\"*\"], credentials = true }\n",
     "9:41: listeners.web.routes[0].cors.credentials: cannot be true with \"*\" in origins (the "
     "Fetch standard allows no wildcard with credentials): list them"},
    {"CorsLowerCaseMethod", "cors = { origins = [\"*\"], methods = [\"get\"] }\n",
     "9:38: listeners.web.routes[0].cors.methods[0]: \"get\": methods are case-sensitive: write "
     "\"GET\""},
    {"CorsHeaderNotAToken", "cors = { origins = [\"*\"], headers = [\"X Trace\"] }\n",
     "9:38: listeners.web.routes[0].cors.headers[0]: \"X Trace\": not a valid header name"},
    {"CorsHeaderTwiceInAnotherCase", "cors = { origins = [\"*\"], headers = [\"x-a\", \"X-A\"] }\n",
     "9:45: listeners.web.routes[0].cors.headers[1]: \"X-A\" is listed twice"},
    {"CorsMaxAgeNotWholeSeconds", "cors = { origins = [\"*\"], max_age = \"1500ms\" }\n",
     "9:37: listeners.web.routes[0].cors.max_age: must be whole seconds (the header counts "
     "seconds)"},
    {"CorsUnknownKeySuggests", "cors = { origin = [\"*\"], origins = [\"*\"] }\n",
     "9:10: unknown key \"origin\" in listeners.web.routes[0].cors (did you mean \"origins\"?)"},
    {"CorsOnRedirect",
     "[[listeners.web.routes]]\nredirect = \"https\"\ncors = { origins = [\"*\"] }\n",
     "11:8: listeners.web.routes[1].cors: a redirect route sends nothing upstream: remove cors"},

    // --- compress ---
    {"CompressUnknownAlgorithm", "compress = { algorithms = [\"deflate\"] }\n",
     "9:28: listeners.web.routes[0].compress.algorithms[0]: \"deflate\" is not one of: zstd, br, "
     "gzip"},
    {"CompressAlgorithmTwice", "compress = { algorithms = [\"br\", \"br\"] }\n",
     "9:34: listeners.web.routes[0].compress.algorithms[1]: \"br\" is listed twice"},
    {"CompressNoAlgorithms", "compress = { algorithms = [] }\n",
     "9:27: listeners.web.routes[0].compress.algorithms: must not be empty (leave the key out "
     "instead)"},
    {"CompressMinSizeBadUnit", "compress = { min_size = \"1 potato\" }\n",
     "9:25: listeners.web.routes[0].compress.min_size: \"1 potato\": unknown size unit; use B, "
     "KB, MB, GB, KiB, MiB or GiB"},
    {"CompressTypeWithoutSubtype", "compress = { types = [\"text\"] }\n",
     "9:23: listeners.web.routes[0].compress.types[0]: \"text\": expected a media type like "
     "\"application/json\" or \"text/*\" (no parameters)"},
    {"CompressAnyType", "compress = { types = [\"*/*\"] }\n",
     "9:23: listeners.web.routes[0].compress.types[0]: \"*/*\": the type cannot be \"*\": list "
     "the types worth compressing (\"text/*\", ...)"},
    {"CompressTypeWithParameters", "compress = { types = [\"text/html; charset=utf-8\"] }\n",
     "9:23: listeners.web.routes[0].compress.types[0]: \"text/html; charset=utf-8\": expected a "
     "media type like \"application/json\" or \"text/*\" (no parameters)"},
    {"CompressOnRedirect", "[[listeners.web.routes]]\nredirect = \"https\"\ncompress = {}\n",
     "11:12: listeners.web.routes[1].compress: a redirect route sends nothing upstream: remove "
     "compress"},

    // --- pool protocol ---
    {"PoolProtocolUnknown", "[pools.other]\nprotocol = \"h2c\"\nbackends = [\"127.0.0.1:1\"]\n",
     "10:12: pools.other.protocol: \"h2c\" is not one of: http/1.1, h2 (did you mean \"h2\"?)"},
    {"H2PoolOnATcpListener",
     "[pools.db]\nprotocol = \"h2\"\nbackends = [\"127.0.0.1:1\"]\n"
     "[listeners.db]\nbind = \"127.0.0.1:5432\"\nmode = \"tcp\"\npool = \"db\"\n",
     "10:12: pools.db.protocol: \"h2\" is for pools of http listeners, and tcp listener \"db\" "
     "(line 12) uses this pool"},
};

class BrokenGatewayConfig : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(BrokenGatewayConfig, ReportsExactlyOneProblemAtItsPosition) {
  AuthDir dir;
  std::string text = std::string(
                         "[pools.api]\nbackends = [\"127.0.0.1:9001\"]\n[listeners.web]\nbind = "
                         "\"127.0.0.1:8080\"\nmode = \"http\"\npool = \"api\"\n"
                         "[[listeners.web.routes]]\npool = \"api\"\n") +
                     GetParam().toml;
  EXPECT_EQ(problems(text, dir.config()), std::vector<std::string>{GetParam().expected}) << text;
}

INSTANTIATE_TEST_SUITE_P(GatewayKeys, BrokenGatewayConfig, ::testing::ValuesIn(kCases),
                         [](const auto& testInfo) { return std::string(testInfo.param.name); });

}  // namespace
}  // namespace ringlb::config
