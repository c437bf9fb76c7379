// The schema, the docs and the examples agree: docs/config.md embeds the
// generated key reference, and examples/everything.toml uses every key.
#include <gtest/gtest.h>

#include <cstdlib>
#include <regex>
#include <set>

#include "config/parse.h"
#include "config/schema.h"
#include "tests/unit/config/config_test_support.h"

namespace ringlb::config {
namespace {

using testing::readFile;
using testing::repoRoot;

// "pools.*.health.", the generic path prefix of a section's keys.
std::string genericPrefix(Section section) {
  switch (section) {
    case Section::Root: return "";
    case Section::Global: return "global.";
    case Section::Admin: return "admin.";
    case Section::Pool: return "pools.*.";
    case Section::Health: return "pools.*.health.";
    case Section::PoolTls: return "pools.*.tls.";
    case Section::Backend: return "pools.*.backends[].";
    case Section::Listener: return "listeners.*.";
    case Section::Tls: return "listeners.*.tls.";
    case Section::Certificate: return "listeners.*.tls.certificates[].";
    case Section::Route: return "listeners.*.routes[].";
    case Section::RateLimit: return "listeners.*.routes[].rate_limit.";
    case Section::Auth: return "listeners.*.routes[].auth.";
    case Section::Cors: return "listeners.*.routes[].cors.";
    case Section::Compress: return "listeners.*.routes[].compress.";
    case Section::Cache: return "listeners.*.routes[].cache.";
  }
  return "?";
}

// "listeners.web.routes[1].pool" -> "listeners.*.routes[].pool".
std::string genericPath(const std::string& path) {
  static const std::regex kIndex(R"(\[\d+\])");
  static const std::regex kName(R"(^(pools|listeners)\.[^.]+)");
  return std::regex_replace(std::regex_replace(path, kIndex, "[]"), kName, "$1.*");
}

TEST(ConfigDocs, EmbedTheGeneratedKeyReference) {
  const auto docsPath = repoRoot() / "docs/config.md";
  std::string docs = readFile(docsPath);
  auto begin = docs.find(kDocsBeginMarker);
  auto end = docs.find(kDocsEndMarker);
  ASSERT_NE(begin, std::string::npos) << docsPath << " lacks " << kDocsBeginMarker;
  ASSERT_NE(end, std::string::npos) << docsPath << " lacks " << kDocsEndMarker;
  begin += kDocsBeginMarker.size();
  std::string expected = renderKeyReference() + "\n";
  if (docs.substr(begin, end - begin) != expected && std::getenv("RINGLB_UPDATE_DOCS")) {
    docs.replace(begin, end - begin, expected);
    std::ofstream(docsPath, std::ios::binary) << docs;
  }
  // Not EXPECT_EQ: a diff of two long tables helps less than the fix.
  EXPECT_TRUE(docs.substr(begin, end - begin) == expected)
      << "docs/config.md is out of date with config/schema.cc; regenerate it with\n"
         "  RINGLB_UPDATE_DOCS=1 ringlb_unit_tests --gtest_filter=ConfigDocs.*";
}

TEST(ConfigSchema, EveryKeyAppearsOncePerSection) {
  std::set<std::pair<Section, std::string_view>> seen;
  for (const KeyInfo& info : schemaKeys()) {
    EXPECT_TRUE(seen.emplace(info.section, info.key).second) << info.key;
    EXPECT_FALSE(info.meaning.empty()) << info.key;
    EXPECT_FALSE(info.defaultValue.empty()) << info.key;
  }
}

TEST(ConfigExamples, EverythingExampleUsesEverySchemaKey) {
  Diagnostics diag("everything.toml");
  auto parsed = parseConfig(readFile(repoRoot() / "examples/everything.toml"), diag);
  ASSERT_TRUE(parsed);
  std::set<std::string> used;
  for (const std::string& path : parsed->sources.paths()) used.insert(genericPath(path));
  for (const KeyInfo& info : schemaKeys()) {
    std::string path = genericPrefix(info.section) + std::string(info.key);
    EXPECT_TRUE(used.count(path)) << "examples/everything.toml does not use " << path;
  }
}

class ExampleFile : public ::testing::TestWithParam<const char*> {};

TEST_P(ExampleFile, LoadsWithoutProblems) {
  LoadResult result =
      loadConfigFile((repoRoot() / "examples" / GetParam()).string(), testing::fakeOptions());
  for (const ConfigError& error : result.errors) ADD_FAILURE() << error.format();
  EXPECT_TRUE(result.config);
}

INSTANTIATE_TEST_SUITE_P(ConfigExamples, ExampleFile,
                         ::testing::Values("minimal-http.toml", "tcp-udp.toml", "everything.toml"),
                         [](const auto& testInfo) {
                           std::string name = testInfo.param;
                           return std::regex_replace(name, std::regex("[^A-Za-z0-9]"), "_");
                         });

}  // namespace
}  // namespace ringlb::config
