#include <gtest/gtest.h>

#include <string>

#include "common/admin/metrics_text.h"
#include "tests/unit/common/admin/admin_fixtures.h"

namespace ringlb::admin {
namespace {

using testing::sampleSnapshot;

bool hasLine(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.rfind(line + "\n", 0) == 0;
}

size_t countOf(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

TEST(AdminMetricsTest, EscapesBackslashQuoteAndNewlineInLabelValues) {
  EXPECT_EQ(escapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escapeLabelValue("127.0.0.1:9001"), "127.0.0.1:9001");
}

TEST(AdminMetricsTest, BackendUpIsOneForHealthyAndZeroForDownBackends) {
  std::string text = renderMetrics(sampleSnapshot());
  EXPECT_TRUE(hasLine(text, R"(ringlb_backend_up{pool="api",backend="127.0.0.1:9001"} 1)"));
  EXPECT_TRUE(hasLine(text, R"(ringlb_backend_up{pool="api",backend="127.0.0.1:9002"} 0)"));
}

TEST(AdminMetricsTest, RequestsAreCountedPerListenerAndStatusCode) {
  std::string text = renderMetrics(sampleSnapshot());
  EXPECT_TRUE(hasLine(text, R"(ringlb_requests_total{listener="web",code="200"} 7)"));
  EXPECT_TRUE(hasLine(text, R"(ringlb_requests_total{listener="web",code="503"} 2)"));
}

TEST(AdminMetricsTest, BytesHaveAnInAndAnOutDirectionPerListener) {
  std::string text = renderMetrics(sampleSnapshot());
  EXPECT_TRUE(hasLine(text, R"(ringlb_bytes_total{listener="db",direction="in"} 1000)"));
  EXPECT_TRUE(hasLine(text, R"(ringlb_bytes_total{listener="db",direction="out"} 2000)"));
}

TEST(AdminMetricsTest, ActiveConnectionsAndHealthChangesUseTheContractNames) {
  std::string text = renderMetrics(sampleSnapshot());
  EXPECT_TRUE(hasLine(text, R"(ringlb_connections_active{listener="db"} 3)"));
  EXPECT_TRUE(hasLine(text, R"(ringlb_accept_failures_total{listener="db"} 5)"));
  EXPECT_TRUE(hasLine(
      text, R"(ringlb_backend_health_changes_total{pool="api",backend="127.0.0.1:9002"} 1)"));
}

TEST(AdminMetricsTest, HistogramBucketsAreCumulativeAndEndWithInf) {
  std::string text = renderMetrics(sampleSnapshot());
  const std::string name = "ringlb_request_duration_seconds";
  EXPECT_TRUE(hasLine(text, name + R"(_bucket{listener="web",le="0.0005"} 5)"));
  EXPECT_TRUE(hasLine(text, name + R"(_bucket{listener="web",le="0.001"} 5)"));
  EXPECT_TRUE(hasLine(text, name + R"(_bucket{listener="web",le="0.005"} 8)"));
  EXPECT_TRUE(hasLine(text, name + R"(_bucket{listener="web",le="+Inf"} 9)"));
  EXPECT_TRUE(hasLine(text, name + R"(_count{listener="web"} 9)"));
  EXPECT_TRUE(hasLine(text, name + R"(_sum{listener="web"} 7.5)"));
}

TEST(AdminMetricsTest, RequestDurationIsOnlyExportedForHttpListeners) {
  std::string text = renderMetrics(sampleSnapshot());
  EXPECT_EQ(text.find(R"(ringlb_request_duration_seconds_count{listener="db"})"),
            std::string::npos);
}

TEST(AdminMetricsTest, EveryRejectReasonIsListedEvenAtZero) {
  std::string text = renderMetrics(sampleSnapshot());
  EXPECT_TRUE(hasLine(text, R"(ringlb_rejected_total{listener="db",reason="no_backend"} 4)"));
  EXPECT_TRUE(hasLine(text, R"(ringlb_rejected_total{listener="db",reason="bad_request"} 0)"));
}

TEST(AdminMetricsTest, ReloadsAreCountedByResult) {
  std::string text = renderMetrics(sampleSnapshot());
  EXPECT_TRUE(hasLine(text, R"(ringlb_reloads_total{result="ok"} 2)"));
  EXPECT_TRUE(hasLine(text, R"(ringlb_reloads_total{result="failed"} 1)"));
}

TEST(AdminMetricsTest, EventLoopCountersArePerWorker) {
  std::string text = renderMetrics(sampleSnapshot());
  EXPECT_TRUE(hasLine(text, R"(ringlb_worker_wakeups_total{worker="0"} 100)"));
  EXPECT_TRUE(hasLine(text, R"(ringlb_worker_batched_waits_total{worker="0"} 40)"));
  EXPECT_TRUE(hasLine(text, R"(ringlb_worker_completions_total{worker="1"} 200)"));
  EXPECT_TRUE(hasLine(text, R"(ringlb_recv_buffers_exhausted_total{worker="1"} 7)"));
  EXPECT_TRUE(hasLine(text, R"(ringlb_recv_rearms_total{worker="0"} 2)"));
  EXPECT_TRUE(hasLine(text, R"(ringlb_recv_rearms_total{worker="1"} 11)"));
}

TEST(AdminMetricsTest, HealthProbesAreCountedByResult) {
  std::string text = renderMetrics(sampleSnapshot());
  EXPECT_TRUE(hasLine(
      text, R"(ringlb_health_probes_total{pool="api",backend="127.0.0.1:9001",result="ok"} 12)"));
  EXPECT_TRUE(hasLine(
      text,
      R"(ringlb_health_probes_total{pool="api",backend="127.0.0.1:9002",result="failed"} 3)"));
  EXPECT_TRUE(hasLine(
      text,
      R"(ringlb_health_probes_total{pool="api",backend="127.0.0.1:9002",result="skipped"} 2)"));
}

TEST(AdminMetricsTest, EachFamilyHasExactlyOneHelpAndTypeLine) {
  std::string text = renderMetrics(sampleSnapshot());
  EXPECT_EQ(countOf(text, "# TYPE ringlb_backend_up gauge\n"), 1u);
  EXPECT_EQ(countOf(text, "# HELP ringlb_backend_up "), 1u);
  EXPECT_EQ(countOf(text, "# TYPE ringlb_request_duration_seconds histogram\n"), 1u);
}

TEST(AdminMetricsTest, AnEmptySnapshotStillRendersTheFamilies) {
  std::string text = renderMetrics(AdminSnapshot{});
  EXPECT_NE(text.find("# TYPE ringlb_requests_total counter"), std::string::npos);
  EXPECT_EQ(text.back(), '\n');
}

}  // namespace
}  // namespace ringlb::admin
