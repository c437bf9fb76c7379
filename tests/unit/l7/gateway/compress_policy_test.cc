// Specification of the compression decision and its header edits
// (l7/gateway/compress_policy.h): one test per rule.
#include "l7/gateway/compress_policy.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringlb::l7 {
namespace {

using config::ContentCoding;
using http::HeaderView;
using Fields = std::vector<HeaderView>;

// A GET asking for gzip and br, answered 200 text/html of unknown length.
struct Case {
  config::CompressConfig config;
  http::Method method = http::Method::Get;
  Fields request = {{"Host", "a"}, {"Accept-Encoding", "gzip, br"}};
  uint16_t status = 200;
  Fields response = {{"Content-Type", "text/html; charset=utf-8"}};
  bool hasBody = true;
  std::optional<uint64_t> contentLength;

  CompressDecision decide() const {
    CompressInput in;
    in.method = method;
    in.requestFields = request;
    in.status = status;
    in.responseFields = response;
    in.hasBody = hasBody;
    in.contentLength = contentLength;
    return decideCompression(config, in);
  }
};

TEST(CompressPolicy, AnEligibleResponseIsCompressedWithTheEdits) {
  Case c;
  c.response.push_back({"ETag", "\"abc\""});
  CompressDecision d = c.decide();
  ASSERT_TRUE(d.compress());
  EXPECT_EQ(d.skip, CompressSkip::None);
  EXPECT_EQ(d.coding, ContentCoding::Brotli);  // the default order: zstd, br, gzip
  EXPECT_EQ(d.contentEncoding, "br");
  EXPECT_TRUE(d.removeContentLength);
  EXPECT_TRUE(d.chunked());
  EXPECT_EQ(d.vary, "Accept-Encoding");
  EXPECT_EQ(d.etag, "W/\"abc\"");
}

TEST(CompressPolicy, StatusesOutside200To599AndNoBodyOnesAreNotCompressed) {
  for (uint16_t status : {100, 101, 199, 204, 206, 304, 600, 0}) {
    Case c;
    c.status = status;
    CompressDecision d = c.decide();
    EXPECT_FALSE(d.compress()) << status;
    EXPECT_EQ(d.skip, CompressSkip::Status) << status;
    EXPECT_FALSE(d.vary) << status;
  }
  for (uint16_t status : {200, 201, 203, 301, 404, 500, 599}) {
    Case c;
    c.status = status;
    EXPECT_TRUE(c.decide().compress()) << status;
  }
}

TEST(CompressPolicy, HeadIsNotCompressedButVaries) {
  Case c;
  c.method = http::Method::Head;
  c.hasBody = false;  // a HEAD response never has one
  CompressDecision d = c.decide();
  EXPECT_FALSE(d.compress());
  EXPECT_EQ(d.skip, CompressSkip::Head);
  EXPECT_EQ(d.vary, "Accept-Encoding");
  EXPECT_FALSE(d.removeContentLength);
  EXPECT_TRUE(d.contentEncoding.empty());
}

TEST(CompressPolicy, AResponseWithoutABodyIsNotCompressed) {
  Case c;
  c.hasBody = false;
  EXPECT_EQ(c.decide().skip, CompressSkip::NoBody);
}

TEST(CompressPolicy, ARangeResponseIsNotCompressed) {
  Case c;
  c.response.push_back({"Content-Range", "bytes 0-99/1000"});
  EXPECT_EQ(c.decide().skip, CompressSkip::Range);
}

TEST(CompressPolicy, AnEncodedResponseIsNotCompressedAgain) {
  for (std::string_view encoding : {"gzip", "br", "identity, gzip", "x-custom", "GZIP"}) {
    Case c;
    c.response.push_back({"Content-Encoding", encoding});
    CompressDecision d = c.decide();
    EXPECT_EQ(d.skip, CompressSkip::Encoded) << encoding;
    EXPECT_FALSE(d.vary) << encoding;
  }
  Case identity;
  identity.response.push_back({"content-encoding", "Identity"});
  EXPECT_TRUE(identity.decide().compress());
}

TEST(CompressPolicy, ATransferCodingOtherThanChunkedIsNotCompressed) {
  Case c;
  c.response.push_back({"Transfer-Encoding", "gzip, chunked"});
  EXPECT_EQ(c.decide().skip, CompressSkip::TransferCoded);
  Case chunked;
  chunked.response.push_back({"Transfer-Encoding", "chunked"});
  EXPECT_TRUE(chunked.decide().compress());
}

TEST(CompressPolicy, NoTransformOnEitherSideIsHonoured) {
  for (std::string_view cc : {"no-transform", "public, No-Transform, max-age=60",
                              "max-age=0,no-transform", " no-transform ; x"}) {
    Case response;
    response.response.push_back({"Cache-Control", cc});
    EXPECT_EQ(response.decide().skip, CompressSkip::NoTransform) << cc;
    Case request;
    request.request.push_back({"Cache-Control", cc});
    EXPECT_EQ(request.decide().skip, CompressSkip::NoTransform) << cc;
  }
  for (std::string_view cc : {"no-transformx", "no-cache=\"no-transform\"",
                              "private=\"a, no-transform\"", "no-store", "x-no-transform"}) {
    Case c;
    c.response.push_back({"Cache-Control", cc});
    EXPECT_TRUE(c.decide().compress()) << cc;
  }
}

TEST(CompressPolicy, AMissingContentTypeIsNotCompressed) {
  Case c;
  c.response.clear();
  EXPECT_EQ(c.decide().skip, CompressSkip::NoContentType);
  Case bad;
  bad.response = {{"Content-Type", "html"}};
  EXPECT_EQ(bad.decide().skip, CompressSkip::NoContentType);
}

TEST(CompressPolicy, OnlyListedTypesAreCompressed) {
  for (std::string_view type :
       {"text/plain", "TEXT/CSS", "application/json", "application/json; charset=utf-8",
        "image/svg+xml", "Application/JavaScript ;x=1", "text/html"}) {
    Case c;
    c.response = {{"Content-Type", type}};
    EXPECT_TRUE(c.decide().compress()) << type;
  }
  for (std::string_view type : {"image/png", "application/octet-stream", "video/mp4",
                                "application/jsonx", "texts/plain", "application/json+x"}) {
    Case c;
    c.response = {{"Content-Type", type}};
    CompressDecision d = c.decide();
    EXPECT_EQ(d.skip, CompressSkip::Type) << type;
    EXPECT_FALSE(d.vary) << type;
  }
  Case exact;
  exact.config.types = {"application/wasm"};
  exact.response = {{"Content-Type", "application/wasm"}};
  EXPECT_TRUE(exact.decide().compress());
  exact.response = {{"Content-Type", "text/html"}};
  EXPECT_EQ(exact.decide().skip, CompressSkip::Type);
  Case any;
  any.config.types = {"*/*"};
  any.response = {{"Content-Type", "image/png"}};
  EXPECT_TRUE(any.decide().compress());
}

TEST(CompressPolicy, AKnownLengthUnderMinSizeIsNotCompressed) {
  Case c;  // min_size 1024 by default
  c.contentLength = 1023;
  EXPECT_EQ(c.decide().skip, CompressSkip::TooSmall);
  EXPECT_FALSE(c.decide().vary);
  c.contentLength = 1024;
  EXPECT_TRUE(c.decide().compress());
  c.contentLength = std::nullopt;  // chunked or until close: compressed
  EXPECT_TRUE(c.decide().compress());
  c.config.minSize = 0;
  c.contentLength = 0;  // nothing to gain, whatever min_size says
  EXPECT_EQ(c.decide().skip, CompressSkip::TooSmall);
  c.contentLength = 1;
  EXPECT_TRUE(c.decide().compress());
}

TEST(CompressPolicy, AClientAcceptingNoCodingGetsIdentityAndVary) {
  for (std::string_view accept : {"identity", "", "deflate", "gzip;q=0, br;q=0", "*;q=0"}) {
    Case c;
    c.request = {{"Accept-Encoding", accept}};
    CompressDecision d = c.decide();
    EXPECT_EQ(d.skip, CompressSkip::NotAccepted) << accept;
    EXPECT_EQ(d.vary, "Accept-Encoding") << accept;
    EXPECT_FALSE(d.etag) << accept;
  }
  Case none;
  none.request = {{"Host", "a"}};
  EXPECT_EQ(none.decide().skip, CompressSkip::NotAccepted);
}

TEST(CompressPolicy, TheRoutesAlgorithmsAndOrderDecide) {
  Case c;
  c.request = {{"Accept-Encoding", "gzip, br, zstd"}};
  c.config.algorithms = {ContentCoding::Gzip, ContentCoding::Zstd};
  EXPECT_EQ(c.decide().coding, ContentCoding::Gzip);
  EXPECT_EQ(c.decide().contentEncoding, "gzip");
  c.config.algorithms = {ContentCoding::Zstd};
  EXPECT_EQ(c.decide().contentEncoding, "zstd");
}

TEST(CompressPolicy, VaryIsMergedNotDuplicated) {
  auto varyFor = [](Fields extra) {
    Case c;
    c.response.insert(c.response.end(), extra.begin(), extra.end());
    return c.decide().vary;
  };
  EXPECT_EQ(varyFor({{"Vary", "Origin"}}), "Origin, Accept-Encoding");
  EXPECT_EQ(varyFor({{"Vary", "Origin"}, {"vary", "Cookie, "}}), "Origin, Cookie, Accept-Encoding");
  EXPECT_EQ(varyFor({{"Vary", "accept-encoding"}}), std::nullopt);
  EXPECT_EQ(varyFor({{"Vary", "Origin, Accept-Encoding"}}), std::nullopt);
  EXPECT_EQ(varyFor({{"Vary", "Origin"}, {"Vary", "ACCEPT-ENCODING"}}), std::nullopt);
  EXPECT_EQ(varyFor({{"Vary", "*"}}), std::nullopt);
  EXPECT_EQ(varyFor({{"Vary", ""}}), "Accept-Encoding");
}

TEST(CompressPolicy, TheEtagIsWeakened) {
  auto etagFor = [](std::string_view etag) {
    Case c;
    c.response.push_back({"ETag", etag});
    return c.decide().etag;
  };
  EXPECT_EQ(etagFor("\"v1\""), "W/\"v1\"");
  EXPECT_EQ(etagFor("W/\"v1\""), std::nullopt);  // already weak
  EXPECT_EQ(etagFor("v1"), "");                  // malformed: removed
  Case none;
  EXPECT_EQ(none.decide().etag, std::nullopt);
}

TEST(CompressPolicy, SkipNamesAreStable) {
  EXPECT_EQ(skipName(CompressSkip::None), "none");
  EXPECT_EQ(skipName(CompressSkip::NoTransform), "no_transform");
  EXPECT_EQ(skipName(CompressSkip::NotAccepted), "not_accepted");
  EXPECT_EQ(skipName(CompressSkip::TooSmall), "too_small");
}

TEST(CompressEdits, TheHeadIsRewrittenForACompressedBody) {
  Fields fields = {{"Content-Type", "text/html"},
                   {"Content-Length", "5000"},
                   {"ETag", "\"x\""},
                   {"Vary", "Origin"},
                   {"Content-Encoding", "identity"},
                   {"Server", "s"}};
  Case c;
  c.response = fields;
  c.contentLength = 5000;
  CompressDecision d = c.decide();
  ASSERT_TRUE(d.compress());
  std::vector<HeaderView> out;
  applyCompressEdits(fields, d, out);
  ASSERT_EQ(out.size(), 5u);
  EXPECT_EQ(out[0].value, "text/html");
  EXPECT_EQ(out[1].name, "ETag");
  EXPECT_EQ(out[1].value, "W/\"x\"");
  EXPECT_EQ(out[2].name, "Vary");
  EXPECT_EQ(out[2].value, "Origin, Accept-Encoding");
  EXPECT_EQ(out[3].name, "Content-Encoding");
  EXPECT_EQ(out[3].value, "br");
  EXPECT_EQ(out[4].name, "Server");
}

TEST(CompressEdits, MissingFieldsAreAddedAndDuplicatesDropped) {
  Fields fields = {{"Content-Type", "text/html"}, {"Vary", "A"}, {"Vary", "B"}, {"ETag", "bad"}};
  Case c;
  c.response = fields;
  CompressDecision d = c.decide();
  std::vector<HeaderView> out = {{"stale", "x"}};
  applyCompressEdits(fields, d, out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].name, "Content-Type");
  EXPECT_EQ(out[1].name, "Vary");
  EXPECT_EQ(out[1].value, "A, B, Accept-Encoding");
  EXPECT_EQ(out[2].name, "Content-Encoding");  // the malformed ETag is gone
}

TEST(CompressEdits, AnUncompressedResponseOnlyGetsVary) {
  Fields fields = {{"Content-Type", "text/html"}, {"Content-Length", "5000"}, {"ETag", "\"x\""}};
  Case c;
  c.request = {{"Accept-Encoding", "identity"}};
  c.response = fields;
  c.contentLength = 5000;
  std::vector<HeaderView> out;
  applyCompressEdits(fields, c.decide(), out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[1].name, "Content-Length");
  EXPECT_EQ(out[2].value, "\"x\"");
  EXPECT_EQ(out[3].name, "Vary");
  CompressDecision nothing;
  applyCompressEdits(fields, nothing, out);
  EXPECT_EQ(out.size(), 3u);
}

// From parsed HTTP/1.1 heads.
struct Heads {
  http::Http1Parser request{http::MessageKind::Request};
  http::Http1Parser response{http::MessageKind::Response};

  CompressDecision decide(std::string_view rawRequest, std::string_view rawResponse,
                          http::Method method = http::Method::Get) {
    EXPECT_EQ(request.feed(rawRequest).status, http::ParseStatus::HeadComplete);
    response.setRequestMethod(method);
    EXPECT_EQ(response.feed(rawResponse).status, http::ParseStatus::HeadComplete);
    return decideCompression(config::CompressConfig{}, request.head(), response.head());
  }
};

TEST(CompressPolicyHeads, LengthAndFramingComeFromTheParser) {
  constexpr std::string_view kGet = "GET / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n";
  EXPECT_EQ(Heads()
                .decide(kGet,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                        "Content-Length: 10\r\n\r\n")
                .skip,
            CompressSkip::TooSmall);
  EXPECT_TRUE(Heads()
                  .decide(kGet,
                          "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                          "Content-Length: 5000\r\n\r\n")
                  .compress());
  EXPECT_TRUE(Heads()
                  .decide(kGet,
                          "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n")
                  .compress());
  EXPECT_TRUE(
      Heads().decide(kGet, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n").compress());
  EXPECT_EQ(
      Heads().decide(kGet, "HTTP/1.1 304 Not Modified\r\nContent-Type: text/html\r\n\r\n").skip,
      CompressSkip::Status);
}

TEST(CompressPolicyHeads, HeadUsesTheDeclaredLength) {
  constexpr std::string_view kHead = "HEAD / HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip\r\n\r\n";
  CompressDecision small = Heads().decide(
      kHead, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10\r\n\r\n",
      http::Method::Head);
  EXPECT_EQ(small.skip, CompressSkip::TooSmall);
  CompressDecision big = Heads().decide(
      kHead, "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 9000\r\n\r\n",
      http::Method::Head);
  EXPECT_EQ(big.skip, CompressSkip::Head);
  EXPECT_EQ(big.vary, "Accept-Encoding");
}

}  // namespace
}  // namespace ringlb::l7
