// Where a relayed message body ends (the forward proxy's response and
// request bodies): length, chunked, none, until close.
#include "l7/body_end.h"

#include <gtest/gtest.h>

#include <string>

namespace ringlb::l7 {
namespace {

// The body framing of the response `raw` answering `method`, and the bytes after its head.
struct Parsed {
  http::Http1Parser parser{http::MessageKind::Response};
  std::string rest;
};

BodyEnd responseBody(Parsed& p, std::string_view raw, http::Method method = http::Method::Get) {
  p.parser.setRequestMethod(method);
  http::ParseResult r = p.parser.feed(raw);
  EXPECT_EQ(r.status, http::ParseStatus::HeadComplete);
  p.rest = std::string(raw.substr(r.consumed));
  return BodyEnd(p.parser.head());
}

TEST(BodyEnd, ALengthBodyEndsAfterItsLengthAndLeavesTheRest) {
  Parsed p;
  BodyEnd body = responseBody(p, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA");
  EXPECT_EQ(body.take(p.rest), 5u);
  EXPECT_TRUE(body.done());
  EXPECT_EQ(body.take("more"), 0u);
  EXPECT_EQ(body.payloadBytes(), 5u);
}

TEST(BodyEnd, ALengthBodySplitAnywhereEndsOnce) {
  Parsed p;
  BodyEnd body = responseBody(p, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n");
  EXPECT_EQ(body.take("ab"), 2u);
  EXPECT_FALSE(body.done());
  EXPECT_EQ(body.take("cdef"), 2u);
  EXPECT_TRUE(body.done());
}

TEST(BodyEnd, AChunkedBodyEndsAfterItsLastChunkFramingIncluded) {
  Parsed p;
  BodyEnd body = responseBody(
      p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nNEXT");
  EXPECT_EQ(body.take(p.rest), p.rest.size() - 4);
  EXPECT_TRUE(body.done());
  EXPECT_EQ(body.payloadBytes(), 3u);
}

TEST(BodyEnd, BrokenChunkFramingFails) {
  Parsed p;
  BodyEnd body = responseBody(p, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
  body.take("zz\r\n");
  EXPECT_TRUE(body.failed());
  EXPECT_FALSE(body.done());
}

TEST(BodyEnd, AHeadResponseAndA304HaveNoBody) {
  Parsed head;
  EXPECT_TRUE(responseBody(head, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", http::Method::Head)
                  .done());
  Parsed notModified;
  EXPECT_TRUE(responseBody(notModified, "HTTP/1.1 304 Not Modified\r\n\r\n").done());
}

TEST(BodyEnd, ABodyDelimitedByTheCloseNeverEnds) {
  Parsed p;
  BodyEnd body = responseBody(p, "HTTP/1.1 200 OK\r\n\r\n");
  EXPECT_EQ(body.take("anything"), 8u);
  EXPECT_FALSE(body.done());
}

}  // namespace
}  // namespace ringlb::l7
