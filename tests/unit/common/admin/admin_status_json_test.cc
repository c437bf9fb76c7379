#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/admin/status_json.h"
#include "tests/unit/common/admin/admin_fixtures.h"

namespace ringlb::admin {
namespace {

using nlohmann::json;
using testing::at;
using testing::sampleSnapshot;

json render(const AdminSnapshot& s) { return json::parse(renderStatusJson(s)); }

TEST(AdminStatusJsonTest, ListsListenersWithNameBindAndMode) {
  json doc = render(sampleSnapshot());
  ASSERT_EQ(doc["listeners"].size(), 2u);
  EXPECT_EQ(doc["listeners"][0]["name"], "db");
  EXPECT_EQ(doc["listeners"][0]["bind"], "127.0.0.1:5432");
  EXPECT_EQ(doc["listeners"][0]["mode"], "tcp");
  EXPECT_EQ(doc["listeners"][0]["active_connections"], 3);
}

TEST(AdminStatusJsonTest, BackendStateIsUpOrDown) {
  json backends = render(sampleSnapshot())["pools"][0]["backends"];
  EXPECT_EQ(backends[0]["address"], "127.0.0.1:9001");
  EXPECT_EQ(backends[0]["state"], "up");
  EXPECT_EQ(backends[1]["state"], "down");
}

TEST(AdminStatusJsonTest, LastChangeIsNullBeforeAnyChange) {
  json backends = render(sampleSnapshot())["pools"][0]["backends"];
  EXPECT_TRUE(backends[0]["last_change"].is_null());
}

TEST(AdminStatusJsonTest, LastChangeIsIso8601Utc) {
  json backends = render(sampleSnapshot())["pools"][0]["backends"];
  EXPECT_EQ(backends[1]["last_change"], "2023-11-14T22:13:50.250Z");
}

TEST(AdminStatusJsonTest, BackendCarriesActiveConnectionsAndWeight) {
  json backends = render(sampleSnapshot())["pools"][0]["backends"];
  EXPECT_EQ(backends[0]["active_connections"], 2);
  EXPECT_EQ(backends[0]["weight"], 3);
}

TEST(AdminStatusJsonTest, BackendCarriesProbeCountsByResult) {
  json backends = render(sampleSnapshot())["pools"][0]["backends"];
  EXPECT_EQ(backends[0]["probes_ok"], 12);
  EXPECT_EQ(backends[1]["probes_failed"], 3);
  EXPECT_EQ(backends[1]["probes_skipped"], 2);
}

TEST(AdminStatusJsonTest, NamesWithQuotesStayValidJson) {
  AdminSnapshot s = sampleSnapshot();
  s.listeners[0].name = "we\"ird\\name";
  EXPECT_EQ(render(s)["listeners"][0]["name"], "we\"ird\\name");
}

TEST(AdminStatusJsonTest, InvalidUtf8DoesNotThrow) {
  AdminSnapshot s = sampleSnapshot();
  s.pools[0].backends[0].lastReason = "bad \xff byte";
  EXPECT_NO_THROW(render(s));
}

TEST(AdminStatusJsonTest, FormatsTimesWithMilliseconds) {
  EXPECT_EQ(formatIso8601(at(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(formatIso8601(at(1'700'000'000'007)), "2023-11-14T22:13:20.007Z");
}

}  // namespace
}  // namespace ringlb::admin
