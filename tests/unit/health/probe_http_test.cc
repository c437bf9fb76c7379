#include "health/probe_http.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringlb::health {
namespace {

struct StatusLineCase {
  const char* name;
  std::string received;
  StatusLineParse parse;
  uint16_t status;
};

class StatusLineTable : public ::testing::TestWithParam<StatusLineCase> {};

TEST_P(StatusLineTable, ParsesWhatArrivedSoFar) {
  const StatusLineCase& c = GetParam();
  StatusLine line = parseStatusLine(c.received);
  EXPECT_EQ(line.parse, c.parse);
  EXPECT_EQ(line.status, c.status);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, StatusLineTable,
    ::testing::Values(
        StatusLineCase{"Ok", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                       StatusLineParse::Complete, 200},
        StatusLineCase{"Http10WithoutReason", "HTTP/1.0 503\r\n", StatusLineParse::Complete, 503},
        StatusLineCase{"BareNewline", "HTTP/1.1 404 Not Found\n", StatusLineParse::Complete, 404},
        StatusLineCase{"EmptyReason", "HTTP/1.1 204 \r\n", StatusLineParse::Complete, 204},
        StatusLineCase{"NothingYet", "", StatusLineParse::NeedMore, 0},
        StatusLineCase{"HalfAVersion", "HTTP/1", StatusLineParse::NeedMore, 0},
        StatusLineCase{"HalfACode", "HTTP/1.1 2", StatusLineParse::NeedMore, 0},
        StatusLineCase{"CodeWithoutLineEnd", "HTTP/1.1 200 OK", StatusLineParse::NeedMore, 0},
        StatusLineCase{"AnotherProtocol", "SSH-2.0-OpenSSH\r\n", StatusLineParse::Invalid, 0},
        StatusLineCase{"JudgedBeforeTheLineEnds", "SSH", StatusLineParse::Invalid, 0},
        StatusLineCase{"Http2Version", "HTTP/2 200\r\n", StatusLineParse::Invalid, 0},
        StatusLineCase{"LetterInCode", "HTTP/1.1 2x0 OK\r\n", StatusLineParse::Invalid, 0},
        StatusLineCase{"FourDigitCode", "HTTP/1.1 2000 OK\r\n", StatusLineParse::Invalid, 0},
        StatusLineCase{"NoSpaceAfterCode", "HTTP/1.1 200OK\r\n", StatusLineParse::Invalid, 0},
        StatusLineCase{"ShortCode", "HTTP/1.1 20\r\n", StatusLineParse::Invalid, 0},
        StatusLineCase{"CodeBelow100", "HTTP/1.1 099 x\r\n", StatusLineParse::Invalid, 0}),
    [](const auto& param) { return std::string(param.param.name); });

TEST(StatusExpected, StatusesInsideAnyRangeAreExpected) {
  std::vector<config::StatusRange> ranges = {{200, 299}, {304, 304}};
  EXPECT_TRUE(statusExpected(200, ranges));
  EXPECT_TRUE(statusExpected(299, ranges));
  EXPECT_TRUE(statusExpected(304, ranges));
}

TEST(StatusExpected, StatusesOutsideEveryRangeAreNot) {
  std::vector<config::StatusRange> ranges = {{200, 299}, {304, 304}};
  EXPECT_FALSE(statusExpected(199, ranges));
  EXPECT_FALSE(statusExpected(300, ranges));
  EXPECT_FALSE(statusExpected(503, ranges));
}

TEST(StatusExpected, NoRangeExpectsNothing) { EXPECT_FALSE(statusExpected(200, {})); }

TEST(BuildHealthRequest, IsAGetOfThePathWithHostAndConnectionClose) {
  EXPECT_EQ(buildHealthRequest("/healthz", "127.0.0.1:9001"),
            "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUser-Agent: ringlb-health\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n");
}

TEST(BuildHealthRequest, AnEmptyPathAsksForTheRoot) {
  EXPECT_EQ(buildHealthRequest("", "h").rfind("GET / HTTP/1.1\r\n", 0), 0u);
}

}  // namespace
}  // namespace ringlb::health
