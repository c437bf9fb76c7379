// Specification of variants (RFC 9111 section 4.1): the names a response's
// Vary lists and the request's normalised side of them: l7/cache/vary.h.
#include "l7/cache/vary.h"

#include <gtest/gtest.h>

#include <vector>

namespace ringlb::l7::cache {
namespace {

using Names = std::vector<std::string>;
using config::ContentCoding;

std::optional<Names> names(std::vector<http::HeaderView> response) { return varyNames(response); }

std::string key(const Names& n, std::vector<http::HeaderView> request,
                const std::optional<config::CompressConfig>& compress = std::nullopt) {
  return varyKey(n, request, compress);
}

// The Accept-Encoding part of the key for one request field value.
std::string aeKey(std::string_view value,
                  const std::optional<config::CompressConfig>& compress = std::nullopt) {
  return key({"accept-encoding"}, {{"Accept-Encoding", value}}, compress);
}

config::CompressConfig compressWith(std::vector<ContentCoding> algorithms) {
  config::CompressConfig c;
  c.algorithms = std::move(algorithms);
  return c;
}

// --- varyNames --------------------------------------------------------------

TEST(VaryNames, LowerCasedSortedDeduplicated) {
  EXPECT_EQ(names({{"Vary", "User-Agent, Accept-Encoding"}, {"vary", "accept-encoding, Accept"}}),
            (Names{"accept", "accept-encoding", "user-agent"}));
}

TEST(VaryNames, NoVaryOrEmptyVaryIsNoNames) {
  EXPECT_EQ(names({}), Names{});
  EXPECT_EQ(names({{"Content-Type", "text/html"}}), Names{});
  EXPECT_EQ(names({{"Vary", ""}}), Names{});
  EXPECT_EQ(names({{"Vary", " , ,"}}), Names{});
}

TEST(VaryNames, EmptyElementsAreSkipped) {
  EXPECT_EQ(names({{"Vary", ",, Accept ,"}}), (Names{"accept"}));
}

TEST(VaryNames, StarNeverMatches) {
  EXPECT_EQ(names({{"Vary", "*"}}), std::nullopt);
  EXPECT_EQ(names({{"Vary", "Accept, *"}}), std::nullopt);
  EXPECT_EQ(names({{"Vary", "Accept"}, {"Vary", "*"}}), std::nullopt);
}

TEST(VaryNames, SomethingNotAFieldNameNeverMatches) {
  EXPECT_EQ(names({{"Vary", "Accept Language"}}), std::nullopt);
  EXPECT_EQ(names({{"Vary", "Accept, \"x\""}}), std::nullopt);
  EXPECT_EQ(names({{"Vary", "a:b"}}), std::nullopt);
}

// --- varyKey: ordinary fields -----------------------------------------------

TEST(VaryKey, NoNamesIsAnEmptyKey) { EXPECT_EQ(key({}, {{"Accept", "x"}}), ""); }

TEST(VaryKey, OneLinePerName) {
  EXPECT_EQ(key({"accept-language", "x-tenant"},
                {{"X-Tenant", "blue"}, {"Accept-Language", "en"}, {"Other", "z"}}),
            "accept-language:en\nx-tenant:blue\n");
}

TEST(VaryKey, AbsentAndEmptyDiffer) {
  EXPECT_EQ(key({"x-tenant"}, {}), "x-tenant\n");
  EXPECT_EQ(key({"x-tenant"}, {{"X-Tenant", ""}}), "x-tenant:\n");
}

TEST(VaryKey, FieldNamesMatchCaseInsensitively) {
  EXPECT_EQ(key({"x-tenant"}, {{"X-TENANT", "a"}}), key({"x-tenant"}, {{"x-tenant", "a"}}));
}

TEST(VaryKey, ValuesAreCaseSensitive) {
  EXPECT_NE(key({"x-tenant"}, {{"X-Tenant", "a"}}), key({"x-tenant"}, {{"X-Tenant", "A"}}));
}

TEST(VaryKey, SeveralFieldsAreJoinedWithCommas) {
  EXPECT_EQ(key({"accept"}, {{"Accept", "text/html, application/json"}, {"Accept", "*/*"}}),
            "accept:text/html,application/json,*/*\n");
}

TEST(VaryKey, WhitespaceAroundCommasIsRemoved) {
  EXPECT_EQ(key({"accept"}, {{"Accept", "a ,  b,\tc"}}), "accept:a,b,c\n");
  EXPECT_EQ(key({"accept"}, {{"Accept", "a ,  b,\tc"}}), key({"accept"}, {{"Accept", "a,b,c"}}));
}

TEST(VaryKey, WhitespaceInsideQuotedStringsIsKept) {
  EXPECT_EQ(key({"x"}, {{"X", R"(a="p , q" , b)"}}), "x:a=\"p , q\",b\n");
  EXPECT_EQ(key({"x"}, {{"X", R"(a="p\" , q" , b)"}}), "x:a=\"p\\\" , q\",b\n");
}

TEST(VaryKey, WhitespaceElsewhereIsKept) {
  EXPECT_NE(key({"x"}, {{"X", "a b"}}), key({"x"}, {{"X", "ab"}}));
}

TEST(VaryKey, SameRequestSameKeyDifferentValueDifferentKey) {
  Names n = {"accept-language"};
  EXPECT_EQ(key(n, {{"Accept-Language", "en"}}), key(n, {{"Accept-Language", "en"}}));
  EXPECT_NE(key(n, {{"Accept-Language", "en"}}), key(n, {{"Accept-Language", "fr"}}));
}

// --- varyKey: Accept-Encoding on a route that compresses --------------------

TEST(VaryKeyCompress, TheCodingTheRouteWouldPick) {
  config::CompressConfig c;  // zstd, br, gzip
  EXPECT_EQ(aeKey("gzip, deflate", c), "accept-encoding:gzip\n");
  EXPECT_EQ(aeKey("gzip, deflate, br", c), "accept-encoding:br\n");
  EXPECT_EQ(aeKey("gzip, br, zstd", c), "accept-encoding:zstd\n");
  EXPECT_EQ(aeKey("*", c), "accept-encoding:zstd\n");
}

TEST(VaryKeyCompress, ClientsGettingTheSameCodingShareAVariant) {
  config::CompressConfig c = compressWith({ContentCoding::Gzip});
  EXPECT_EQ(aeKey("gzip", c), aeKey("gzip, deflate, br", c));
  EXPECT_EQ(aeKey("x-gzip;q=0.5, identity;q=0.1", c), aeKey("GZIP", c));
}

TEST(VaryKeyCompress, NoAcceptableCodingIsIdentity) {
  config::CompressConfig c;
  EXPECT_EQ(aeKey("", c), "accept-encoding:identity\n");
  EXPECT_EQ(aeKey("identity", c), "accept-encoding:identity\n");
  EXPECT_EQ(aeKey("deflate", c), "accept-encoding:identity\n");
  EXPECT_EQ(aeKey("gzip;q=0", c), "accept-encoding:identity\n");
  EXPECT_EQ(aeKey("gzip;q=0.5, identity", c), "accept-encoding:identity\n");
  EXPECT_EQ(aeKey("gzip;q=bogus", c), "accept-encoding:identity\n");
}

TEST(VaryKeyCompress, AbsentStaysAbsent) {
  EXPECT_EQ(key({"accept-encoding"}, {}, config::CompressConfig{}), "accept-encoding\n");
}

// --- varyKey: Accept-Encoding without compression ---------------------------

TEST(VaryKeyNoCompress, SortedAcceptableCodings) {
  EXPECT_EQ(aeKey("gzip, deflate, br"), "accept-encoding:br,deflate,gzip\n");
  EXPECT_EQ(aeKey("zstd, gzip"), "accept-encoding:gzip,zstd\n");
  EXPECT_EQ(aeKey("GZIP, Deflate"), "accept-encoding:deflate,gzip\n");
  EXPECT_EQ(aeKey("x-gzip"), "accept-encoding:gzip\n");
}

TEST(VaryKeyNoCompress, QZeroIsNotAcceptable) {
  EXPECT_EQ(aeKey("deflate;q=0, gzip"), "accept-encoding:gzip\n");
  EXPECT_EQ(aeKey("gzip;q=0.000, br;q=0.001"), "accept-encoding:br\n");
}

TEST(VaryKeyNoCompress, StarCoversTheUnlisted) {
  EXPECT_EQ(aeKey("*"), "accept-encoding:br,deflate,gzip,zstd\n");
  EXPECT_EQ(aeKey("*;q=0, gzip"), "accept-encoding:gzip\n");
  EXPECT_EQ(aeKey("*, deflate;q=0"), "accept-encoding:br,gzip,zstd\n");
}

TEST(VaryKeyNoCompress, QValuesOtherwiseDoNotMatter) {
  EXPECT_EQ(aeKey("gzip;q=0.1, br;q=0.9"), aeKey("br, gzip"));
}

TEST(VaryKeyNoCompress, NothingAcceptableIsIdentity) {
  EXPECT_EQ(aeKey(""), "accept-encoding:identity\n");
  EXPECT_EQ(aeKey("identity"), "accept-encoding:identity\n");
  EXPECT_EQ(aeKey("compress, exi"), "accept-encoding:identity\n");
  EXPECT_EQ(aeKey("deflate;q=bad, gzip;level=9"), "accept-encoding:identity\n");
}

TEST(VaryKeyNoCompress, SeveralFieldsAreOneList) {
  EXPECT_EQ(key({"accept-encoding"}, {{"Accept-Encoding", "gzip"}, {"accept-encoding", "deflate"}}),
            "accept-encoding:deflate,gzip\n");
}

TEST(VaryKeyNoCompress, RepeatedCodingKeepsItsLowestQ) {
  EXPECT_EQ(aeKey("deflate, deflate;q=0"), "accept-encoding:identity\n");
}

TEST(VaryKeyNoCompress, AbsentStaysAbsent) {
  EXPECT_EQ(key({"accept-encoding"}, {}), "accept-encoding\n");
}

TEST(VaryKey, AcceptEncodingAmongOtherNames) {
  EXPECT_EQ(key({"accept-encoding", "accept-language"},
                {{"Accept-Language", "en , fr"}, {"Accept-Encoding", "br"}}),
            "accept-encoding:br\naccept-language:en,fr\n");
}

}  // namespace
}  // namespace ringlb::l7::cache
