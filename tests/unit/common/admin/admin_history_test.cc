// AdminHistory: the status page's chart series, one point per sample, from
// counter and histogram deltas between snapshots built by hand.
#include "common/admin/admin_history.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/unit/common/admin/admin_fixtures.h"

namespace ringlb::admin {
namespace {

using nlohmann::json;
using testing::at;
using testing::sampleSnapshot;
using Clock = AdminHistory::Clock;

// The sample snapshot at `second` seconds after a fixed start, wall and steady.
struct Timeline {
  Clock::time_point start = Clock::time_point(std::chrono::hours(1));
  AdminSnapshot snap(int second) const {
    AdminSnapshot s = sampleSnapshot();
    s.now = at(1'700'000'000'000 + second * 1000);
    return s;
  }
  Clock::time_point steady(double second) const {
    return start +
           std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(second));
  }
};

ListenerView& web(AdminSnapshot& s) { return s.listeners[1]; }
ListenerView& db(AdminSnapshot& s) { return s.listeners[0]; }

const AdminHistory::Series& webSeries(const AdminHistory& h) { return h.listeners()[1]; }

// Adds `n` requests answered `code` that took `micros` each to the http listener.
void serve(ListenerView& l, int code, uint64_t n, uint64_t micros) {
  l.requestsByCode[code] += n;
  size_t bucket = 0;
  while (bucket < kDurationBuckets.size() && micros / 1e6 > kDurationBuckets[bucket]) ++bucket;
  l.requestDuration.buckets[bucket] += n;
  l.requestDuration.count += n;
  l.requestDuration.sumMicros += n * micros;
}

TEST(AdminHistoryQuantile, IsNoneWithoutObservations) {
  EXPECT_FALSE(histogramQuantile(HistogramBuckets{}, 0.5).has_value());
}

TEST(AdminHistoryQuantile, InterpolatesInsideTheBucket) {
  HistogramBuckets b{};
  b[4] = 100;  // (5 ms, 10 ms]
  EXPECT_NEAR(histogramQuantile(b, 0.5).value(), 0.0075, 1e-9);
  EXPECT_NEAR(histogramQuantile(b, 0.99).value(), 0.00995, 1e-9);
}

TEST(AdminHistoryQuantile, FindsTheBucketOfTheRank) {
  HistogramBuckets b{};
  b[0] = 90;  // <= 0.5 ms
  b[7] = 10;  // (50 ms, 100 ms]
  EXPECT_LE(histogramQuantile(b, 0.5).value(), 0.0005);
  EXPECT_GT(histogramQuantile(b, 0.95).value(), 0.05);
  EXPECT_LE(histogramQuantile(b, 0.95).value(), 0.1);
}

TEST(AdminHistoryQuantile, TheInfBucketCountsAsTheLargestBound) {
  HistogramBuckets b{};
  b.back() = 3;
  EXPECT_EQ(histogramQuantile(b, 0.99).value(), kDurationBuckets.back());
}

TEST(AdminHistory, KeepsAtMostItsCapacity) {
  Timeline tl;
  AdminHistory h(5);
  for (int i = 0; i < 12; ++i) h.sample(tl.snap(i), tl.steady(i));
  EXPECT_EQ(h.times().size(), 5u);
  EXPECT_EQ(h.times().front(), at(1'700'000'007'000));
  for (const auto& s : h.listeners()) EXPECT_EQ(s.points.size(), 5u);
  for (const auto& s : h.backends()) EXPECT_EQ(s.points.size(), 5u);
}

TEST(AdminHistory, TheDefaultIsFiveMinutesOfSeconds) { EXPECT_EQ(AdminHistory().capacity(), 300u); }

TEST(AdminHistory, TheFirstPointIsNullForWantOfAPreviousTotal) {
  Timeline tl;
  AdminHistory h;
  h.sample(tl.snap(0), tl.steady(0));
  ASSERT_EQ(webSeries(h).points.size(), 1u);
  EXPECT_FALSE(webSeries(h).points[0].rate.has_value());
  EXPECT_FALSE(webSeries(h).points[0].p50.has_value());
}

TEST(AdminHistory, RatesAreCounterDeltasOverTheElapsedTime) {
  Timeline tl;
  AdminHistory h;
  AdminSnapshot s = tl.snap(0);
  h.sample(s, tl.steady(0));
  s = tl.snap(2);
  serve(web(s), 200, 30, 300);
  serve(web(s), 502, 4, 300);
  db(s).connectionsAccepted += 10;
  db(s).rejected[static_cast<size_t>(RejectReason::NoBackend)] += 2;
  s.pools[0].backends[0].requests += 8;
  s.pools[0].backends[1].connectFailures += 3;
  h.sample(s, tl.steady(2));

  const auto& w = webSeries(h).points.back();
  EXPECT_DOUBLE_EQ(w.rate.value(), 17.0);   // 34 answers in 2 s
  EXPECT_DOUBLE_EQ(w.errors.value(), 2.0);  // 4 of them 5xx
  const auto& d = h.listeners()[0].points.back();
  EXPECT_DOUBLE_EQ(d.rate.value(), 5.0);    // tcp: connections
  EXPECT_DOUBLE_EQ(d.errors.value(), 1.0);  // tcp: refused connections
  EXPECT_DOUBLE_EQ(h.backends()[0].points.back().rate.value(), 4.0);
  EXPECT_DOUBLE_EQ(h.backends()[1].points.back().errors.value(), 1.5);
}

TEST(AdminHistory, PercentilesComeFromTheHistogramDeltaOfTheInterval) {
  Timeline tl;
  AdminHistory h;
  AdminSnapshot s = tl.snap(0);
  h.sample(s, tl.steady(0));
  serve(web(s), 200, 1000, 200'000);  // (100 ms, 250 ms]
  s.now = tl.snap(1).now;
  h.sample(s, tl.steady(1));
  serve(web(s), 200, 99, 3'000);   // (2.5 ms, 5 ms]
  serve(web(s), 200, 1, 700'000);  // (0.5 s, 1 s]
  s.now = tl.snap(2).now;
  h.sample(s, tl.steady(2));

  // The slow second before does not weigh on this one.
  const auto& p = webSeries(h).points.back();
  ASSERT_TRUE(p.p50 && p.p95 && p.p99);
  EXPECT_GT(p.p50.value(), 2.5);
  EXPECT_LE(p.p50.value(), 5.0);
  EXPECT_LE(p.p95.value(), 5.0);
  EXPECT_GT(p.p99.value(), 2.5);
  EXPECT_LE(p.p99.value(), 5.0);
  const auto& before = webSeries(h).points[1];
  ASSERT_TRUE(before.p50);
  EXPECT_GT(before.p50.value(), 100.0);
  EXPECT_LE(before.p50.value(), 250.0);
}

TEST(AdminHistory, NoPercentilesWhenNoRequestFinished) {
  Timeline tl;
  AdminHistory h;
  h.sample(tl.snap(0), tl.steady(0));
  h.sample(tl.snap(1), tl.steady(1));
  const auto& p = webSeries(h).points.back();
  EXPECT_DOUBLE_EQ(p.rate.value(), 0.0);
  EXPECT_FALSE(p.p50.has_value());
  EXPECT_FALSE(p.p99.has_value());
}

TEST(AdminHistory, TcpListenersHaveNoLatency) {
  Timeline tl;
  AdminHistory h;
  AdminSnapshot s = tl.snap(0);
  db(s).requestDuration.buckets[0] = 5;  // never filled for tcp; ignored if it were
  h.sample(s, tl.steady(0));
  s = tl.snap(1);
  db(s).requestDuration.buckets[0] = 50;
  h.sample(s, tl.steady(1));
  EXPECT_FALSE(h.listeners()[0].latency);
  EXPECT_TRUE(webSeries(h).latency);
  EXPECT_FALSE(h.listeners()[0].points.back().p50.has_value());
}

TEST(AdminHistory, ACounterThatWentDownGivesNoRateNotANegativeOne) {
  Timeline tl;
  AdminHistory h;
  AdminSnapshot s = tl.snap(0);
  serve(web(s), 200, 100, 300);
  serve(web(s), 500, 10, 300);
  h.sample(s, tl.steady(0));
  s = tl.snap(1);  // the counters started again from the fixture's
  h.sample(s, tl.steady(1));
  const auto& reset = webSeries(h).points.back();
  EXPECT_FALSE(reset.rate.has_value());
  EXPECT_FALSE(reset.errors.has_value());
  EXPECT_FALSE(reset.p50.has_value());
  // The next interval counts from the new totals.
  s = tl.snap(2);
  serve(web(s), 200, 3, 300);
  h.sample(s, tl.steady(2));
  EXPECT_DOUBLE_EQ(webSeries(h).points.back().rate.value(), 3.0);
}

TEST(AdminHistory, AListenerAddedByAReloadStartsWithNullPoints) {
  Timeline tl;
  AdminHistory h;
  h.sample(tl.snap(0), tl.steady(0));
  h.sample(tl.snap(1), tl.steady(1));
  AdminSnapshot s = tl.snap(2);
  ListenerView added;
  added.name = "new";
  added.mode = "udp";
  added.datagramsIn = 1000;  // since long before: not a rate
  s.listeners.push_back(added);
  h.sample(s, tl.steady(2));
  ASSERT_EQ(h.listeners().size(), 3u);
  const auto& n = h.listeners()[2];
  EXPECT_EQ(n.name, "new");
  ASSERT_EQ(n.points.size(), 3u);
  for (const auto& p : n.points) EXPECT_FALSE(p.rate.has_value());
  s = tl.snap(3);
  s.listeners.push_back(added);
  s.listeners.back().datagramsIn += 4;
  h.sample(s, tl.steady(3));
  EXPECT_DOUBLE_EQ(h.listeners()[2].points.back().rate.value(), 4.0);
}

TEST(AdminHistory, AListenerRemovedByAReloadIsDropped) {
  Timeline tl;
  AdminHistory h;
  h.sample(tl.snap(0), tl.steady(0));
  AdminSnapshot s = tl.snap(1);
  s.listeners.erase(s.listeners.begin());  // "db" gone
  serve(s.listeners[0], 200, 2, 300);
  h.sample(s, tl.steady(1));
  ASSERT_EQ(h.listeners().size(), 1u);
  EXPECT_EQ(h.listeners()[0].name, "web");
  EXPECT_DOUBLE_EQ(h.listeners()[0].points.back().rate.value(), 2.0);  // its totals carried on
}

TEST(AdminHistory, AListenerWhoseModeChangedStartsAgain) {
  Timeline tl;
  AdminHistory h;
  h.sample(tl.snap(0), tl.steady(0));
  AdminSnapshot s = tl.snap(1);
  db(s).mode = "udp";
  db(s).datagramsIn = 500;
  h.sample(s, tl.steady(1));
  EXPECT_EQ(h.listeners()[0].mode, "udp");
  EXPECT_FALSE(h.listeners()[0].points.back().rate.has_value());
}

TEST(AdminHistoryJson, GivesTimesAndAlignedColumns) {
  Timeline tl;
  AdminHistory h;
  AdminSnapshot s = tl.snap(0);
  h.sample(s, tl.steady(0));
  s = tl.snap(1);
  serve(web(s), 200, 9, 3'000);
  serve(web(s), 503, 1, 3'000);
  h.sample(s, tl.steady(1));

  json doc = json::parse(renderHistoryJson(h));
  EXPECT_EQ(doc["interval_seconds"], 1);
  EXPECT_EQ(doc["capacity"], 300);
  EXPECT_EQ(doc["t"], json::array({1'700'000'000'000LL, 1'700'000'001'000LL}));
  ASSERT_EQ(doc["listeners"].size(), 2u);
  const json& w = doc["listeners"][1];
  EXPECT_EQ(w["name"], "web");
  EXPECT_EQ(w["mode"], "http");
  EXPECT_EQ(w["rate_unit"], "requests/s");
  EXPECT_EQ(w["errors_unit"], "5xx answers/s");
  EXPECT_EQ(w["latency"], true);
  EXPECT_EQ(w["rate"], json::array({nullptr, 10.0}));
  EXPECT_EQ(w["errors"], json::array({nullptr, 1.0}));
  ASSERT_EQ(w["p99_ms"].size(), 2u);
  EXPECT_TRUE(w["p99_ms"][0].is_null());
  EXPECT_GT(w["p99_ms"][1].get<double>(), 2.5);
  EXPECT_LE(w["p99_ms"][1].get<double>(), 5.0);
}

TEST(AdminHistoryJson, TcpListenersHaveNoPercentileColumns) {
  Timeline tl;
  AdminHistory h;
  h.sample(tl.snap(0), tl.steady(0));
  json db = json::parse(renderHistoryJson(h))["listeners"][0];
  EXPECT_EQ(db["latency"], false);
  EXPECT_EQ(db["rate_unit"], "connections/s");
  EXPECT_FALSE(db.contains("p50_ms"));
}

TEST(AdminHistoryJson, ListsBackendsByPoolAndAddress) {
  Timeline tl;
  AdminHistory h;
  h.sample(tl.snap(0), tl.steady(0));
  json backends = json::parse(renderHistoryJson(h))["backends"];
  ASSERT_EQ(backends.size(), 2u);
  EXPECT_EQ(backends[1]["pool"], "api");
  EXPECT_EQ(backends[1]["address"], "127.0.0.1:9002");
  EXPECT_EQ(backends[1]["errors_unit"], "failed connects/s");
  EXPECT_EQ(backends[1]["rate"].size(), 1u);
}

TEST(AdminHistoryJson, IsEmptyBeforeAnySample) {
  json doc = json::parse(renderHistoryJson(AdminHistory()));
  EXPECT_TRUE(doc["t"].empty());
  EXPECT_TRUE(doc["listeners"].empty());
}

}  // namespace
}  // namespace ringlb::admin
