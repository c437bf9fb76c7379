// Specification of what is stored, for how long, and what a stored response
// may be used for (RFC 9111 sections 3, 4.2, 4.3.4; RFC 5861):
// l7/cache/freshness.h.
#include "l7/cache/freshness.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace ringlb::l7::cache {
namespace {

using http::Method;

// A head owning its field list (the views point to string literals or to
// strings the test keeps alive).
struct Head {
  Head(Method method, uint16_t status, std::vector<http::HeaderView> f) : fields(std::move(f)) {
    head.method = method;
    head.status = status;
    head.headers = fields;
  }
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;
  std::vector<http::HeaderView> fields;
  http::MessageHead head;
};

Head get(std::vector<http::HeaderView> fields = {}) {
  return Head(Method::Get, 0, std::move(fields));
}
Head reply(uint16_t status, std::vector<http::HeaderView> fields = {}) {
  return Head(Method::Other, status, std::move(fields));
}

constexpr Seconds kSent = 1'000'000;
constexpr Seconds kArrived = kSent + 2;

StoreDecision decide(const Head& request, const Head& response, Seconds defaultTtl = 0) {
  return decideStore(request.head, response.head, kSent, kArrived, defaultTtl);
}
NoStore reason(const Head& request, const Head& response, Seconds defaultTtl = 0) {
  return decide(request, response, defaultTtl).reason;
}

// --- decideStore: what is stored -------------------------------------------

TEST(DecideStore, StoresA200WithMaxAge) {
  StoreDecision d = decide(get(), reply(200, {{"Cache-Control", "max-age=60"}}));
  EXPECT_TRUE(d.store());
  EXPECT_EQ(d.freshness.lifetime, 60);
  EXPECT_EQ(d.freshness.requestTime, kSent);
  EXPECT_EQ(d.freshness.responseTime, kArrived);
}

TEST(DecideStore, OnlyGetIsStored) {
  for (Method m : {Method::Head, Method::Post, Method::Put, Method::Other}) {
    Head request(m, 0, {});
    EXPECT_EQ(reason(request, reply(200, {{"Cache-Control", "max-age=60"}})), NoStore::Method);
  }
}

TEST(DecideStore, HeuristicallyCacheableStatusesAreStoredWithDefaultTtl) {
  for (uint16_t status : {200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}) {
    StoreDecision d = decide(get(), reply(status), 300);
    EXPECT_TRUE(d.store()) << status;
    EXPECT_EQ(d.freshness.lifetime, 300) << status;
  }
}

TEST(DecideStore, OtherStatusesAreNotStoredEvenWithMaxAge) {
  for (uint16_t status : {100, 201, 202, 303, 304, 400, 401, 403, 429, 500, 502, 503, 504}) {
    EXPECT_EQ(reason(get(), reply(status, {{"Cache-Control", "max-age=60"}}), 300), NoStore::Status)
        << status;
  }
}

TEST(DecideStore, Status302And307NeedExplicitFreshness) {
  for (uint16_t status : {302, 307}) {
    EXPECT_EQ(reason(get(), reply(status), 300), NoStore::Status) << status;
    EXPECT_TRUE(decide(get(), reply(status, {{"Cache-Control", "max-age=5"}})).store());
    EXPECT_TRUE(decide(get(), reply(status, {{"Cache-Control", "s-maxage=5"}})).store());
    std::string expires = formatHttpDate(kArrived + 60);
    EXPECT_TRUE(decide(get(), reply(status, {{"Expires", expires}})).store());
  }
}

TEST(DecideStore, PartialContentIsNotStored) {
  EXPECT_EQ(reason(get(), reply(206, {{"Cache-Control", "max-age=60"}})), NoStore::Partial);
  EXPECT_EQ(reason(get(), reply(200, {{"Cache-Control", "max-age=60"},
                                      {"Content-Range", "bytes 0-9/10"}})),
            NoStore::Partial);
}

TEST(DecideStore, NoStoreOnEitherSide) {
  EXPECT_EQ(
      reason(get({{"Cache-Control", "no-store"}}), reply(200, {{"Cache-Control", "max-age=60"}})),
      NoStore::RequestNoStore);
  EXPECT_EQ(reason(get(), reply(200, {{"Cache-Control", "max-age=60, no-store"}})),
            NoStore::ResponseNoStore);
}

TEST(DecideStore, PrivateIsNotStored) {
  EXPECT_EQ(reason(get(), reply(200, {{"Cache-Control", "private, max-age=60"}})),
            NoStore::Private);
  EXPECT_EQ(reason(get(), reply(200, {{"Cache-Control", R"(private="Set-Cookie", max-age=60)"}})),
            NoStore::Private);
}

TEST(DecideStore, AuthorizationNeedsPublicSMaxAgeOrMustRevalidate) {
  Head request = get({{"Authorization", "Bearer x"}});
  EXPECT_EQ(reason(request, reply(200, {{"Cache-Control", "max-age=60"}})), NoStore::Authorization);
  EXPECT_EQ(reason(request, reply(200, {{"Cache-Control", "max-age=60, proxy-revalidate"}})),
            NoStore::Authorization);
  EXPECT_TRUE(decide(request, reply(200, {{"Cache-Control", "public, max-age=60"}})).store());
  EXPECT_TRUE(decide(request, reply(200, {{"Cache-Control", "s-maxage=60"}})).store());
  EXPECT_TRUE(
      decide(request, reply(200, {{"Cache-Control", "max-age=60, must-revalidate"}})).store());
}

TEST(DecideStore, AuthorizationFieldNameIsCaseInsensitive) {
  EXPECT_EQ(reason(get({{"authorization", ""}}), reply(200, {{"Cache-Control", "max-age=60"}})),
            NoStore::Authorization);
}

TEST(DecideStore, VaryStarIsNotStored) {
  EXPECT_EQ(reason(get(), reply(200, {{"Cache-Control", "max-age=60"}, {"Vary", "*"}})),
            NoStore::VaryStar);
  EXPECT_EQ(reason(get(), reply(200, {{"Cache-Control", "max-age=60"},
                                      {"Vary", "Accept-Encoding"},
                                      {"vary", "Accept, *"}})),
            NoStore::VaryStar);
  EXPECT_TRUE(
      decide(get(), reply(200, {{"Cache-Control", "max-age=60"}, {"Vary", "Accept-Encoding"}}))
          .store());
}

TEST(DecideStore, SetCookieIsNotStored) {
  EXPECT_EQ(
      reason(get(), reply(200, {{"Cache-Control", "public, max-age=60"}, {"set-cookie", "a=b"}})),
      NoStore::SetCookie);
}

TEST(DecideStore, NoFreshnessWithoutValidatorIsNotStored) {
  EXPECT_EQ(reason(get(), reply(200)), NoStore::NoFreshness);
  EXPECT_EQ(reason(get(), reply(200, {{"Cache-Control", "max-age=0"}})), NoStore::NoFreshness);
  EXPECT_EQ(reason(get(), reply(200, {{"Cache-Control", "no-cache, max-age=60"}})),
            NoStore::NoFreshness);
  EXPECT_EQ(reason(get(), reply(200, {{"Expires", "0"}})), NoStore::NoFreshness);
}

TEST(DecideStore, ZeroLifetimeWithAValidatorIsStoredStale) {
  StoreDecision etag = decide(get(), reply(200, {{"ETag", R"("v1")"}}));
  EXPECT_TRUE(etag.store());
  EXPECT_EQ(etag.freshness.lifetime, 0);
  EXPECT_TRUE(etag.freshness.hasValidator);

  StoreDecision lm = decide(get(), reply(200, {{"Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT"},
                                               {"Cache-Control", "max-age=0"}}));
  EXPECT_TRUE(lm.store());
  EXPECT_TRUE(lm.freshness.hasValidator);
}

TEST(DecideStore, NoCacheWithAValidatorIsStoredAndMarked) {
  StoreDecision d =
      decide(get(), reply(200, {{"Cache-Control", "no-cache, max-age=60"}, {"ETag", R"(W/"x")"}}));
  EXPECT_TRUE(d.store());
  EXPECT_TRUE(d.freshness.noCache);
  EXPECT_EQ(d.freshness.lifetime, 60);
}

TEST(DecideStore, InvalidLastModifiedOrEmptyETagIsNoValidator) {
  EXPECT_EQ(reason(get(), reply(200, {{"Last-Modified", "yesterday"}})), NoStore::NoFreshness);
  EXPECT_EQ(reason(get(), reply(200, {{"ETag", ""}})), NoStore::NoFreshness);
}

TEST(DecideStore, ReasonsHaveAFixedPriority) {
  // Method > Partial > Status > RequestNoStore > ResponseNoStore > Private >
  // Authorization > VaryStar > SetCookie > NoFreshness.
  Head post(Method::Post, 0, {});
  EXPECT_EQ(reason(post, reply(206, {{"Cache-Control", "no-store"}})), NoStore::Method);
  EXPECT_EQ(reason(get(), reply(206, {{"Cache-Control", "private"}})), NoStore::Partial);
  EXPECT_EQ(reason(get(), reply(500, {{"Cache-Control", "no-store"}})), NoStore::Status);
  EXPECT_EQ(
      reason(get({{"Cache-Control", "no-store"}}), reply(200, {{"Cache-Control", "no-store"}})),
      NoStore::RequestNoStore);
  EXPECT_EQ(reason(get(), reply(200, {{"Cache-Control", "no-store, private"}})),
            NoStore::ResponseNoStore);
  EXPECT_EQ(reason(get({{"Authorization", "x"}}), reply(200, {{"Cache-Control", "private"}})),
            NoStore::Private);
  EXPECT_EQ(reason(get({{"Authorization", "x"}}), reply(200, {{"Vary", "*"}})),
            NoStore::Authorization);
  EXPECT_EQ(reason(get(), reply(200, {{"Vary", "*"}, {"Set-Cookie", "a=b"}})), NoStore::VaryStar);
  EXPECT_EQ(reason(get(), reply(200, {{"Set-Cookie", "a=b"}})), NoStore::SetCookie);
}

// --- decideStore: freshness lifetime ----------------------------------------

TEST(DecideStore, SMaxAgeBeatsMaxAgeBeatsExpires) {
  std::string expires = formatHttpDate(kArrived + 1000);
  EXPECT_EQ(decide(get(),
                   reply(200, {{"Cache-Control", "max-age=60, s-maxage=30"}, {"Expires", expires}}))
                .freshness.lifetime,
            30);
  EXPECT_EQ(decide(get(), reply(200, {{"Cache-Control", "max-age=60"}, {"Expires", expires}}))
                .freshness.lifetime,
            60);
}

TEST(DecideStore, ExplicitFreshnessBeatsDefaultTtl) {
  EXPECT_EQ(decide(get(), reply(200, {{"Cache-Control", "max-age=60"}}), 3600).freshness.lifetime,
            60);
}

TEST(DecideStore, ExpiresIsCountedFromDate) {
  std::string date = formatHttpDate(kArrived - 100);
  std::string expires = formatHttpDate(kArrived + 500);
  EXPECT_EQ(decide(get(), reply(200, {{"Date", date}, {"Expires", expires}})).freshness.lifetime,
            600);
}

TEST(DecideStore, ExpiresWithoutDateIsCountedFromTheResponseTime) {
  std::string expires = formatHttpDate(kArrived + 500);
  EXPECT_EQ(decide(get(), reply(200, {{"Expires", expires}})).freshness.lifetime, 500);
  EXPECT_EQ(decide(get(), reply(200, {{"Date", "bogus"}, {"Expires", expires}})).freshness.lifetime,
            500);
}

TEST(DecideStore, InvalidOrPastExpiresIsStaleEvenWithDefaultTtl) {
  for (std::string_view bad : {"0", "-1", "never", ""}) {
    StoreDecision d = decide(get(), reply(200, {{"Expires", bad}, {"ETag", R"("a")"}}), 3600);
    EXPECT_TRUE(d.store()) << bad;
    EXPECT_EQ(d.freshness.lifetime, 0) << bad;
  }
  std::string past = formatHttpDate(kArrived - 10);
  EXPECT_EQ(decide(get(), reply(200, {{"Expires", past}, {"ETag", R"("a")"}})).freshness.lifetime,
            0);
}

TEST(DecideStore, MustRevalidateFlags) {
  EXPECT_TRUE(decide(get(), reply(200, {{"Cache-Control", "max-age=1, must-revalidate"}}))
                  .freshness.mustRevalidate);
  EXPECT_TRUE(decide(get(), reply(200, {{"Cache-Control", "max-age=1, proxy-revalidate"}}))
                  .freshness.mustRevalidate);
  EXPECT_TRUE(
      decide(get(), reply(200, {{"Cache-Control", "s-maxage=1"}})).freshness.mustRevalidate);
  EXPECT_FALSE(
      decide(get(), reply(200, {{"Cache-Control", "max-age=1"}})).freshness.mustRevalidate);
}

TEST(DecideStore, StaleWindowsComeFromTheResponse) {
  Freshness f =
      decide(get({{"Cache-Control", "stale-if-error=999"}}),
             reply(200,
                   {{"Cache-Control", "max-age=1, stale-while-revalidate=30, stale-if-error=60"}}))
          .freshness;
  EXPECT_EQ(f.staleWhileRevalidate, 30);
  EXPECT_EQ(f.staleIfError, 60);
}

// --- decideStore: age (RFC 9111 section 4.2.3) ------------------------------

Seconds initialAge(std::vector<http::HeaderView> fields) {
  fields.push_back({"Cache-Control", "max-age=600"});
  return decide(get(), reply(200, std::move(fields))).freshness.correctedInitialAge;
}

TEST(CorrectedInitialAge, IsTheResponseDelayWithoutDateOrAge) { EXPECT_EQ(initialAge({}), 2); }

TEST(CorrectedInitialAge, ApparentAgeFromDate) {
  std::string date = formatHttpDate(kArrived - 12);
  EXPECT_EQ(initialAge({{"Date", date}}), 12);
}

TEST(CorrectedInitialAge, AgePlusResponseDelayWhenLarger) {
  std::string date = formatHttpDate(kArrived - 12);
  EXPECT_EQ(initialAge({{"Date", date}, {"Age", "5"}}), 12);   // max(12, 5 + 2)
  EXPECT_EQ(initialAge({{"Date", date}, {"Age", "30"}}), 32);  // max(12, 30 + 2)
}

TEST(CorrectedInitialAge, DateInTheFutureGivesNoApparentAge) {
  std::string date = formatHttpDate(kArrived + 3600);
  EXPECT_EQ(initialAge({{"Date", date}, {"Age", "4"}}), 6);
}

TEST(CorrectedInitialAge, InvalidAgeIsIgnored) {
  for (std::string_view bad : {"abc", "-5", "1, 2", "", "5s", "0x10"}) {
    EXPECT_EQ(initialAge({{"Age", bad}}), 2) << bad;
  }
}

TEST(CorrectedInitialAge, HugeAgeIsClamped) {
  EXPECT_EQ(initialAge({{"Age", "999999999999999999999999"}}), (Seconds{1} << 31) + 2);
}

TEST(CurrentAge, AddsResidentTime) {
  Freshness f;
  f.responseTime = 1000;
  f.correctedInitialAge = 10;
  EXPECT_EQ(currentAge(f, 1000), 10);
  EXPECT_EQ(currentAge(f, 1005), 15);
  EXPECT_EQ(currentAge(f, 900), 10);  // a clock that went back adds nothing
}

TEST(NoStoreName, NamesEveryReason) {
  EXPECT_EQ(noStoreName(NoStore::None), "");
  EXPECT_EQ(noStoreName(NoStore::Method), "method");
  EXPECT_EQ(noStoreName(NoStore::Status), "status");
  EXPECT_EQ(noStoreName(NoStore::RequestNoStore), "request_no_store");
  EXPECT_EQ(noStoreName(NoStore::ResponseNoStore), "response_no_store");
  EXPECT_EQ(noStoreName(NoStore::Private), "private");
  EXPECT_EQ(noStoreName(NoStore::Authorization), "authorization");
  EXPECT_EQ(noStoreName(NoStore::VaryStar), "vary_star");
  EXPECT_EQ(noStoreName(NoStore::SetCookie), "set_cookie");
  EXPECT_EQ(noStoreName(NoStore::NoFreshness), "no_freshness");
  EXPECT_EQ(noStoreName(NoStore::Partial), "partial");
}

// --- usability --------------------------------------------------------------

// Stored at 1000 with age 0 and a lifetime of 100 (fresh until 1100).
Freshness stored(Seconds lifetime = 100) {
  Freshness f;
  f.requestTime = 1000;
  f.responseTime = 1000;
  f.lifetime = lifetime;
  f.hasValidator = true;
  return f;
}

Usability use(const Freshness& f, Seconds now, std::vector<http::HeaderView> fields = {}) {
  Head request = get(std::move(fields));
  return usability(f, request.head, now);
}

TEST(Usability, FreshUntilTheAgeReachesTheLifetime) {
  EXPECT_EQ(use(stored(), 1000), Usability::Fresh);
  EXPECT_EQ(use(stored(), 1099), Usability::Fresh);
  EXPECT_EQ(use(stored(), 1100), Usability::MustValidate);
}

TEST(Usability, InitialAgeCounts) {
  Freshness f = stored();
  f.correctedInitialAge = 90;
  EXPECT_EQ(use(f, 1009), Usability::Fresh);
  EXPECT_EQ(use(f, 1010), Usability::MustValidate);
}

TEST(Usability, ZeroLifetimeMustValidateAtOnce) {
  EXPECT_EQ(use(stored(0), 1000), Usability::MustValidate);
}

TEST(Usability, RequestNoCacheMustValidate) {
  EXPECT_EQ(use(stored(), 1000, {{"Cache-Control", "no-cache"}}), Usability::MustValidate);
}

TEST(Usability, PragmaNoCacheCountsOnlyWithoutCacheControl) {
  EXPECT_EQ(use(stored(), 1000, {{"Pragma", "no-cache"}}), Usability::MustValidate);
  EXPECT_EQ(use(stored(), 1000, {{"Pragma", "no-cache"}, {"Cache-Control", "max-stale=5"}}),
            Usability::Fresh);
  EXPECT_EQ(use(stored(), 1000, {{"Pragma", "x-other"}}), Usability::Fresh);
}

TEST(Usability, ResponseNoCacheMustValidate) {
  Freshness f = stored();
  f.noCache = true;
  EXPECT_EQ(use(f, 1000), Usability::MustValidate);
  EXPECT_EQ(use(f, 1000, {{"Cache-Control", "max-stale"}}), Usability::MustValidate);
}

TEST(Usability, RequestMaxAgeAsksForYounger) {
  EXPECT_EQ(use(stored(), 1050, {{"Cache-Control", "max-age=49"}}), Usability::MustValidate);
  EXPECT_EQ(use(stored(), 1050, {{"Cache-Control", "max-age=50"}}), Usability::Fresh);
  EXPECT_EQ(use(stored(), 1001, {{"Cache-Control", "max-age=0"}}), Usability::MustValidate);
  EXPECT_EQ(use(stored(), 1050, {{"Cache-Control", "max-age=bogus"}}), Usability::MustValidate);
}

TEST(Usability, RequestMinFreshAsksForFreshnessLeft) {
  EXPECT_EQ(use(stored(), 1050, {{"Cache-Control", "min-fresh=51"}}), Usability::MustValidate);
  EXPECT_EQ(use(stored(), 1050, {{"Cache-Control", "min-fresh=50"}}), Usability::Fresh);
  EXPECT_EQ(use(stored(), 1050, {{"Cache-Control", "min-fresh=99999999999999"}}),
            Usability::MustValidate);
}

TEST(Usability, MaxStaleServesStaleWithinIt) {
  EXPECT_EQ(use(stored(), 1120, {{"Cache-Control", "max-stale=20"}}), Usability::Fresh);
  EXPECT_EQ(use(stored(), 1121, {{"Cache-Control", "max-stale=20"}}), Usability::MustValidate);
  EXPECT_EQ(use(stored(), 999999999, {{"Cache-Control", "max-stale"}}), Usability::Fresh);
}

TEST(Usability, MustRevalidateForbidsStale) {
  Freshness f = stored();
  f.mustRevalidate = true;
  f.staleWhileRevalidate = 60;
  EXPECT_EQ(use(f, 1050), Usability::Fresh);
  EXPECT_EQ(use(f, 1101, {{"Cache-Control", "max-stale"}}), Usability::MustValidate);
  EXPECT_EQ(use(f, 1101), Usability::MustValidate);
}

TEST(Usability, StaleWhileRevalidateWindow) {
  Freshness f = stored();
  f.staleWhileRevalidate = 30;
  EXPECT_EQ(use(f, 1100), Usability::StaleWhileRevalidate);
  EXPECT_EQ(use(f, 1130), Usability::StaleWhileRevalidate);
  EXPECT_EQ(use(f, 1131), Usability::MustValidate);
}

TEST(Usability, NoStaleWhileRevalidateWithoutTheDirective) {
  EXPECT_EQ(use(stored(), 1100), Usability::MustValidate);
}

TEST(Usability, MaxStaleIsCheckedBeforeStaleWhileRevalidate) {
  Freshness f = stored();
  f.staleWhileRevalidate = 30;
  EXPECT_EQ(use(f, 1110, {{"Cache-Control", "max-stale=10"}}), Usability::Fresh);
  EXPECT_EQ(use(f, 1111, {{"Cache-Control", "max-stale=10"}}), Usability::StaleWhileRevalidate);
}

TEST(Usability, RequestMaxAgeBeatsStaleWhileRevalidate) {
  Freshness f = stored();
  f.staleWhileRevalidate = 30;
  EXPECT_EQ(use(f, 1110, {{"Cache-Control", "max-age=100"}}), Usability::MustValidate);
}

// --- staleIfErrorAllows -----------------------------------------------------

bool onError(const Freshness& f, Seconds now, std::vector<http::HeaderView> fields = {}) {
  Head request = get(std::move(fields));
  return staleIfErrorAllows(f, request.head, now);
}

TEST(StaleIfError, ResponseWindow) {
  Freshness f = stored();
  f.staleIfError = 60;
  EXPECT_TRUE(onError(f, 1160));
  EXPECT_FALSE(onError(f, 1161));
}

TEST(StaleIfError, RequestWindow) {
  EXPECT_TRUE(onError(stored(), 1190, {{"Cache-Control", "stale-if-error=90"}}));
  EXPECT_FALSE(onError(stored(), 1191, {{"Cache-Control", "stale-if-error=90"}}));
}

TEST(StaleIfError, TheLargerWindowCounts) {
  Freshness f = stored();
  f.staleIfError = 60;
  EXPECT_TRUE(onError(f, 1190, {{"Cache-Control", "stale-if-error=90"}}));
  EXPECT_TRUE(onError(f, 1160, {{"Cache-Control", "stale-if-error=10"}}));
}

TEST(StaleIfError, NoWindowNoStale) {
  EXPECT_FALSE(onError(stored(), 1100));
  EXPECT_FALSE(onError(stored(), 1050));
}

TEST(StaleIfError, MustRevalidateForbidsIt) {
  Freshness f = stored();
  f.staleIfError = 60;
  f.mustRevalidate = true;
  EXPECT_FALSE(onError(f, 1101, {{"Cache-Control", "stale-if-error=90"}}));
}

TEST(StaleIfError, NoCacheResponseHonoursOnlyItsOwnWindow) {
  Freshness f = stored();
  f.noCache = true;
  EXPECT_FALSE(onError(f, 1101, {{"Cache-Control", "stale-if-error=90"}}));
  f.staleIfError = 60;
  EXPECT_TRUE(onError(f, 1101));
}

// --- mergeNotModified -------------------------------------------------------

std::vector<std::string> flat(const std::vector<OwnedField>& fields) {
  std::vector<std::string> out;
  out.reserve(fields.size());
  for (const OwnedField& f : fields) out.push_back(f.name + ": " + f.value);
  return out;
}

using Strings = std::vector<std::string>;

TEST(MergeNotModified, ReplacesInPlaceAndKeepsTheRest) {
  std::vector<OwnedField> old = {{"Date", "d1"},
                                 {"ETag", "\"e1\""},
                                 {"Cache-Control", "max-age=1"},
                                 {"Content-Type", "text/html"}};
  std::vector<http::HeaderView> fresh = {{"Date", "d2"}, {"Cache-Control", "max-age=60"}};
  EXPECT_EQ(flat(mergeNotModified(old, fresh)),
            (Strings{"Date: d2", "ETag: \"e1\"", "Cache-Control: max-age=60",
                     "Content-Type: text/html"}));
}

TEST(MergeNotModified, NamesMatchCaseInsensitivelyAndTakeThe304Spelling) {
  std::vector<OwnedField> old = {{"ETag", "\"a\""}};
  std::vector<http::HeaderView> fresh = {{"etag", "\"b\""}};
  EXPECT_EQ(flat(mergeNotModified(old, fresh)), (Strings{"etag: \"b\""}));
}

TEST(MergeNotModified, AllStoredFieldsOfANameAreReplacedAtTheFirst) {
  std::vector<OwnedField> old = {{"Link", "a"}, {"X", "1"}, {"link", "b"}, {"Y", "2"}};
  std::vector<http::HeaderView> fresh = {{"Link", "c"}, {"Z", "3"}, {"LINK", "d"}};
  EXPECT_EQ(flat(mergeNotModified(old, fresh)),
            (Strings{"Link: c", "LINK: d", "X: 1", "Y: 2", "Z: 3"}));
}

TEST(MergeNotModified, NewNamesAreAppendedInOrder) {
  std::vector<OwnedField> old = {{"A", "1"}};
  std::vector<http::HeaderView> fresh = {{"C", "3"}, {"B", "2"}};
  EXPECT_EQ(flat(mergeNotModified(old, fresh)), (Strings{"A: 1", "C: 3", "B: 2"}));
}

TEST(MergeNotModified, MessageFieldsOfThe304AreSkipped) {
  std::vector<OwnedField> old = {{"Content-Length", "10"}, {"Content-Encoding", "gzip"}};
  std::vector<http::HeaderView> fresh = {{"Content-Length", "0"},
                                         {"Content-Encoding", "br"},
                                         {"Transfer-Encoding", "chunked"},
                                         {"Content-Range", "x"},
                                         {"Connection", "close"},
                                         {"Keep-Alive", "timeout=5"},
                                         {"TE", "trailers"},
                                         {"Trailer", "X"},
                                         {"Upgrade", "h2c"},
                                         {"Proxy-Connection", "k"},
                                         {"Age", "50"},
                                         {"age", "7"}};
  EXPECT_EQ(flat(mergeNotModified(old, fresh)),
            (Strings{"Content-Length: 10", "Content-Encoding: gzip"}));
}

TEST(MergeNotModified, FieldsNamedInConnectionAreSkipped) {
  std::vector<OwnedField> old = {{"A", "1"}};
  std::vector<http::HeaderView> fresh = {{"Connection", "X-Hop, keep-alive"}, {"x-hop", "1"}};
  EXPECT_EQ(flat(mergeNotModified(old, fresh)), (Strings{"A: 1"}));
}

TEST(MergeNotModified, EmptyInputs) {
  std::vector<OwnedField> old = {{"A", "1"}, {"A", "2"}};
  EXPECT_EQ(flat(mergeNotModified(old, {})), (Strings{"A: 1", "A: 2"}));
  std::vector<http::HeaderView> fresh = {{"B", ""}};
  EXPECT_EQ(flat(mergeNotModified({}, fresh)), (Strings{"B: "}));
}

}  // namespace
}  // namespace ringlb::l7::cache
