// Specification of Cache-Control parsing (RFC 9111 section 5.2) and
// HTTP-date (RFC 9110 section 5.6.7): l7/cache/cache_control.h.
#include "l7/cache/cache_control.h"

#include <gtest/gtest.h>

#include <limits>
#include <vector>

namespace ringlb::l7::cache {
namespace {

constexpr Seconds k2Pow31 = Seconds{1} << 31;
constexpr Seconds kSunday1994 = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT

CacheControl parse(std::initializer_list<std::string_view> values) {
  std::vector<http::HeaderView> fields;
  for (std::string_view v : values) fields.push_back({"Cache-Control", v});
  return parseCacheControl(fields);
}

TEST(ParseCacheControl, ReadsResponseDirectives) {
  CacheControl cc =
      parse({"public, max-age=60, s-maxage=120, must-revalidate, proxy-revalidate, "
             "immutable, no-transform, stale-while-revalidate=30, stale-if-error=300"});
  EXPECT_TRUE(cc.isPublic);
  EXPECT_EQ(cc.maxAge, 60);
  EXPECT_EQ(cc.sMaxAge, 120);
  EXPECT_TRUE(cc.mustRevalidate);
  EXPECT_TRUE(cc.proxyRevalidate);
  EXPECT_TRUE(cc.immutable);
  EXPECT_TRUE(cc.noTransform);
  EXPECT_EQ(cc.staleWhileRevalidate, 30);
  EXPECT_EQ(cc.staleIfError, 300);
  EXPECT_FALSE(cc.noCache);
  EXPECT_FALSE(cc.noStore);
  EXPECT_FALSE(cc.isPrivate);
}

TEST(ParseCacheControl, ReadsRequestDirectives) {
  CacheControl cc = parse({"no-cache, no-store, max-stale=10, min-fresh=5, only-if-cached"});
  EXPECT_TRUE(cc.noCache);
  EXPECT_TRUE(cc.noStore);
  EXPECT_EQ(cc.maxStale, 10);
  EXPECT_EQ(cc.minFresh, 5);
  EXPECT_TRUE(cc.onlyIfCached);
  EXPECT_FALSE(cc.maxAge.has_value());
}

TEST(ParseCacheControl, NoFieldsGiveTheDefaults) {
  CacheControl cc = parseCacheControl({});
  EXPECT_FALSE(cc.maxAge || cc.sMaxAge || cc.maxStale || cc.minFresh);
  EXPECT_FALSE(cc.noCache || cc.noStore || cc.isPublic || cc.isPrivate);
}

TEST(ParseCacheControl, OtherFieldsAreNotRead) {
  std::vector<http::HeaderView> fields = {{"Pragma", "no-cache"}, {"X-Cache-Control", "no-store"}};
  CacheControl cc = parseCacheControl(fields);
  EXPECT_FALSE(cc.noCache);
  EXPECT_FALSE(cc.noStore);
}

TEST(ParseCacheControl, NamesAreCaseInsensitive) {
  std::vector<http::HeaderView> fields = {{"CACHE-control", "MAX-AGE=5, No-Store, PRIVATE"}};
  CacheControl cc = parseCacheControl(fields);
  EXPECT_EQ(cc.maxAge, 5);
  EXPECT_TRUE(cc.noStore);
  EXPECT_TRUE(cc.isPrivate);
}

TEST(ParseCacheControl, SeveralFieldsAreOneList) {
  CacheControl cc = parse({"public", "max-age=7", "no-transform"});
  EXPECT_TRUE(cc.isPublic);
  EXPECT_EQ(cc.maxAge, 7);
  EXPECT_TRUE(cc.noTransform);
}

TEST(ParseCacheControl, QuotedArgumentsAreAccepted) {
  CacheControl cc = parse({R"(max-age="60", s-maxage="5", stale-if-error="9")"});
  EXPECT_EQ(cc.maxAge, 60);
  EXPECT_EQ(cc.sMaxAge, 5);
  EXPECT_EQ(cc.staleIfError, 9);
}

TEST(ParseCacheControl, CommaInsideAQuotedArgumentDoesNotSplit) {
  CacheControl cc = parse({R"(no-cache="Set-Cookie, max-age=999", max-age=10)"});
  EXPECT_TRUE(cc.noCache);
  EXPECT_EQ(cc.maxAge, 10);
}

TEST(ParseCacheControl, QualifiedNoCacheAndPrivateCountAsUnqualified) {
  CacheControl cc = parse({R"(private="Set-Cookie", no-cache="Authorization")"});
  EXPECT_TRUE(cc.isPrivate);
  EXPECT_TRUE(cc.noCache);
}

TEST(ParseCacheControl, UnterminatedQuoteSwallowsTheRest) {
  CacheControl cc = parse({R"(no-cache="a, max-age=5)"});
  EXPECT_TRUE(cc.noCache);
  EXPECT_FALSE(cc.maxAge.has_value());
}

TEST(ParseCacheControl, UnterminatedQuotedMaxAgeCountsAsZero) {
  EXPECT_EQ(parse({R"(max-age="60)"}).maxAge, 0);
}

TEST(ParseCacheControl, InvalidMaxAgeAndSMaxAgeCountAsZero) {
  for (std::string_view bad : {"max-age=abc", "max-age=-1", "max-age=1.5", "max-age",
                               "max-age=", "max-age=+5", "max-age=0x10", R"(max-age="")"}) {
    EXPECT_EQ(parse({bad}).maxAge, 0) << bad;
  }
  EXPECT_EQ(parse({"s-maxage=soon"}).sMaxAge, 0);
}

TEST(ParseCacheControl, InvalidOtherDeltasCountAsAbsent) {
  CacheControl cc = parse(
      {"min-fresh=abc, max-stale=-3, stale-while-revalidate=1e3, stale-if-error, min-fresh="});
  EXPECT_FALSE(cc.minFresh.has_value());
  EXPECT_FALSE(cc.maxStale.has_value());
  EXPECT_FALSE(cc.staleWhileRevalidate.has_value());
  EXPECT_FALSE(cc.staleIfError.has_value());
}

TEST(ParseCacheControl, MaxStaleWithoutValueIsUnlimited) {
  EXPECT_EQ(parse({"max-stale"}).maxStale, std::numeric_limits<Seconds>::max());
  EXPECT_EQ(parse({"max-stale=30"}).maxStale, 30);
}

TEST(ParseCacheControl, HugeValuesClampTo2Pow31) {
  CacheControl cc =
      parse({"max-age=99999999999999999999999999999, s-maxage=2147483649, "
             "min-fresh=2147483648, max-stale=18446744073709551616"});
  EXPECT_EQ(cc.maxAge, k2Pow31);
  EXPECT_EQ(cc.sMaxAge, k2Pow31);
  EXPECT_EQ(cc.minFresh, k2Pow31);
  EXPECT_EQ(cc.maxStale, k2Pow31);
  EXPECT_EQ(parse({"max-age=2147483647"}).maxAge, 2147483647);
}

TEST(ParseCacheControl, ConflictingMaxAgesMakeTheResponseStale) {
  EXPECT_EQ(parse({"max-age=60, max-age=3600"}).maxAge, 0);
  EXPECT_EQ(parse({"max-age=60", "max-age=60"}).maxAge, 60);
  EXPECT_EQ(parse({"s-maxage=1", "s-maxage=2"}).sMaxAge, 0);
}

TEST(ParseCacheControl, FirstValidDeltaWinsForOtherDirectives) {
  EXPECT_EQ(parse({"min-fresh=5, min-fresh=50"}).minFresh, 5);
  EXPECT_EQ(parse({"stale-if-error=x, stale-if-error=9"}).staleIfError, 9);
}

TEST(ParseCacheControl, PublicWithAnArgumentIsIgnored) {
  EXPECT_FALSE(parse({"public=yes"}).isPublic);
  EXPECT_TRUE(parse({"public=yes, public"}).isPublic);
}

TEST(ParseCacheControl, UnknownAndMalformedDirectivesAreIgnored) {
  CacheControl cc = parse({"foo=bar, =5, \"quoted\", max-age=3, community=\"UCI\", a b"});
  EXPECT_EQ(cc.maxAge, 3);
  EXPECT_FALSE(cc.isPublic);
}

TEST(ParseCacheControl, EmptyValuesAndEmptyElements) {
  CacheControl cc = parse({"", ",,, ,", " , no-store ,"});
  EXPECT_TRUE(cc.noStore);
  EXPECT_FALSE(cc.maxAge.has_value());
}

TEST(ParseCacheControl, WhitespaceAroundEqualsIsTolerated) {
  EXPECT_EQ(parse({"max-age = 5"}).maxAge, 5);
}

TEST(ParseDeltaSeconds, DigitsOnlyClamped) {
  EXPECT_EQ(parseDeltaSeconds("0"), 0);
  EXPECT_EQ(parseDeltaSeconds("007"), 7);
  EXPECT_EQ(parseDeltaSeconds("2147483648"), k2Pow31);
  EXPECT_EQ(parseDeltaSeconds("2147483649"), k2Pow31);
  EXPECT_EQ(parseDeltaSeconds(std::string(1000, '9')), k2Pow31);
  for (std::string_view bad : {"", " 1", "1 ", "+1", "-1", "1,2", "one"}) {
    EXPECT_FALSE(parseDeltaSeconds(bad).has_value()) << bad;
  }
}

TEST(ParseHttpDate, AcceptsTheThreeForms) {
  EXPECT_EQ(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), kSunday1994);
  EXPECT_EQ(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), kSunday1994);
  EXPECT_EQ(parseHttpDate("Sun Nov  6 08:49:37 1994"), kSunday1994);
  EXPECT_EQ(parseHttpDate("Sun Nov 06 08:49:37 1994"), kSunday1994);
}

TEST(ParseHttpDate, KnownInstants) {
  EXPECT_EQ(parseHttpDate("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(parseHttpDate("Wed, 31 Dec 1969 23:59:59 GMT"), -1);
  EXPECT_EQ(parseHttpDate("Tue, 29 Feb 2000 00:00:00 GMT"), 951782400);
  EXPECT_EQ(parseHttpDate("Tue, 19 Jan 2038 03:14:08 GMT"), k2Pow31);
  EXPECT_EQ(parseHttpDate("Fri, 31 Dec 9999 23:59:59 GMT"), 253402300799);
}

TEST(ParseHttpDate, LeapSecondCountsAsTheNextSecond) {
  EXPECT_EQ(parseHttpDate("Sat, 31 Dec 2016 23:59:60 GMT"), 1483228800);
}

TEST(ParseHttpDate, SurroundingWhitespaceIsAllowed) {
  EXPECT_EQ(parseHttpDate("  Sun, 06 Nov 1994 08:49:37 GMT\t"), kSunday1994);
}

TEST(ParseHttpDate, TwoDigitYearsFarAheadAreInThePastCentury) {
  // Valid while the current year is before 2044.
  EXPECT_EQ(parseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), kSunday1994);
  EXPECT_EQ(parseHttpDate("Saturday, 01-Jan-05 00:00:00 GMT"), 1104537600);
}

TEST(ParseHttpDate, RejectsGarbage) {
  for (std::string_view bad : {
           "",
           "garbage",
           "0",
           "-1",
           "1994-11-06T08:49:37Z",
           "Sun, 06 Nov 1994 08:49:37 UTC",
           "Sun, 06 Nov 1994 08:49:37 gmt",
           "sun, 06 Nov 1994 08:49:37 GMT",
           "Sun, 06 nov 1994 08:49:37 GMT",
           "Sun, 6 Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 94 08:49:37 GMT",
           "Sun, 06 Nov 1994 08:49:37 GMTx",
           "Sun, 06 Nov 1994 08:49:37",
           "Sun, 06 Nov 1994 8:49:37 GMT",
           "Sun,  06 Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 19944 08:49:37 GMT",
           "Sun, 06 Nov 99999999999999999999 08:49:37 GMT",
           "Xyz, 06 Nov 1994 08:49:37 GMT",
           "Sunday, 06 Nov 1994 08:49:37 GMT",
           "Sun, 06-Nov-94 08:49:37 GMT",
           "Sunday, 06-Nov-1994 08:49:37 GMT",
           "Sun Nov 6 08:49:37 1994",
           "Sun Nov  6 08:49:37 94",
           "Sun Nov  6 08:49:37 1994 GMT",
           "Sun, 31 Nov 1994 08:49:37 GMT",
           "Sun, 00 Nov 1994 08:49:37 GMT",
           "Mon, 29 Feb 2100 00:00:00 GMT",
           "Sun, 06 Nov 1994 24:00:00 GMT",
           "Sun, 06 Nov 1994 08:60:00 GMT",
           "Sun, 06 Nov 1994 08:49:61 GMT",
           "Sun, 06 Nov 1994 08:49:3a GMT",
       }) {
    EXPECT_FALSE(parseHttpDate(bad).has_value()) << "'" << bad << "'";
  }
}

TEST(ParseHttpDate, RejectsEmbeddedNul) {
  std::string withNul("Sun, 06 Nov 1994 08:49:37 GMT\0", 30);
  EXPECT_FALSE(parseHttpDate(withNul).has_value());
}

TEST(FormatHttpDate, WritesImfFixdate) {
  EXPECT_EQ(formatHttpDate(kSunday1994), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(formatHttpDate(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(formatHttpDate(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
  EXPECT_EQ(formatHttpDate(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
}

TEST(FormatHttpDate, ClampsToFourDigitYears) {
  EXPECT_EQ(formatHttpDate(std::numeric_limits<Seconds>::max()), "Fri, 31 Dec 9999 23:59:59 GMT");
  EXPECT_EQ(formatHttpDate(std::numeric_limits<Seconds>::min()), "Mon, 01 Jan 0001 00:00:00 GMT");
}

TEST(FormatHttpDate, RoundTripsThroughParse) {
  for (Seconds t = -2'000'000'000; t < 5'000'000'000; t += 7'777'777) {
    EXPECT_EQ(parseHttpDate(formatHttpDate(t)), t) << formatHttpDate(t);
  }
}

TEST(FieldValue, FirstFieldOfTheNameCaseInsensitive) {
  std::vector<http::HeaderView> fields = {{"X-A", "1"}, {"date", "d1"}, {"DATE", "d2"}, {"E", ""}};
  EXPECT_EQ(fieldValue(fields, "Date"), "d1");
  EXPECT_EQ(fieldValue(fields, "e"), "");
  EXPECT_FALSE(fieldValue(fields, "expires").has_value());
  EXPECT_FALSE(fieldValue({}, "date").has_value());
}

}  // namespace
}  // namespace ringlb::l7::cache
