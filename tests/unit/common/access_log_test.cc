// The access log: JSON lines that stay valid for hostile input, and a writer
// that never blocks the producer (a full ring drops and counts).
#include "common/access_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

namespace ringlb {
namespace {

using namespace std::chrono_literals;

std::string escaped(std::string_view s) {
  std::string out;
  appendJsonEscaped(out, s);
  return out;
}

AccessRecord sampleRecord() {
  AccessRecord r;
  r.time = std::chrono::system_clock::time_point(1'700'000'000'123ms);
  r.client = "127.0.0.1:4242";
  r.listener = "web";
  r.route = "routes[0]";
  r.pool = "api";
  r.backend = "127.0.0.1:9001";
  r.method = "GET";
  r.path = "/a?b=1";
  r.status = 200;
  r.bytesIn = 78;
  r.bytesOut = 1234;
  r.duration = 1500us;
  r.requestId = "abc";
  return r;
}

std::string readAll(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(AccessLogJson, QuotesAndBackslashesAreEscaped) {
  EXPECT_EQ(escaped("a\"b\\c"), "a\\\"b\\\\c");
}

TEST(AccessLogJson, ControlBytesBecomeUnicodeEscapes) {
  EXPECT_EQ(escaped(std::string("\x01\n\r\t\x1f\x7f", 6)), "\\u0001\\n\\r\\t\\u001f\\u007f");
  EXPECT_EQ(escaped(std::string("a\0b", 3)), "a\\u0000b");
}

TEST(AccessLogJson, ValidUtf8IsKeptAsIs) {
  EXPECT_EQ(escaped("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST(AccessLogJson, InvalidUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(escaped("\xff"), "\\ufffd");
  EXPECT_EQ(escaped("\xc0\xaf"), "\\ufffd\\ufffd");                        // overlong '/'
  EXPECT_EQ(escaped("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd");             // surrogate
  EXPECT_EQ(escaped("a\xe2\x82"), "a\\ufffd\\ufffd");                      // truncated
  EXPECT_EQ(escaped("\xf4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd");  // above U+10FFFF
}

TEST(AccessLogFormat, WritesEveryFieldOnOneLine) {
  std::string line;
  formatAccessLine(sampleRecord(), line);
  EXPECT_EQ(line,
            "{\"time\":\"2023-11-14T22:13:20.123Z\",\"client\":\"127.0.0.1:4242\","
            "\"listener\":\"web\",\"route\":\"routes[0]\",\"pool\":\"api\","
            "\"backend\":\"127.0.0.1:9001\",\"method\":\"GET\",\"path\":\"/a?b=1\","
            "\"status\":200,\"bytes_in\":78,\"bytes_out\":1234,\"duration_ms\":1.500,"
            "\"request_id\":\"abc\"}\n");
}

TEST(AccessLogFormat, UpstreamTimesAppearOnlyWhenKnown) {
  AccessRecord r = sampleRecord();
  r.upstreamConnect = 250us;
  r.upstreamResponse = 12345us;
  std::string line;
  formatAccessLine(r, line);
  EXPECT_NE(line.find(",\"upstream_connect_ms\":0.250,\"upstream_response_ms\":12.345,"),
            std::string::npos)
      << line;
}

TEST(AccessLogFormat, EmptyFieldsBecomeDashes) {
  AccessRecord r = sampleRecord();
  r.method = "";
  r.backend = "";
  std::string line;
  formatAccessLine(r, line);
  EXPECT_NE(line.find("\"backend\":\"-\",\"method\":\"-\""), std::string::npos) << line;
}

TEST(AccessLogFormat, HostilePathCannotBreakTheLine) {
  AccessRecord r = sampleRecord();
  r.path = "/\"}\n{\"status\":1";
  std::string line;
  formatAccessLine(r, line);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_NE(line.find("\"path\":\"/\\\"}\\n{\\\"status\\\":1\""), std::string::npos) << line;
}

class AccessLogFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ringlb-access-XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    ::close(fd);
    path_ = tmpl;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_;
};

TEST_F(AccessLogFile, AppendedLinesReachTheFile) {
  AccessLog log;
  ASSERT_EQ(log.open(path_, 2), "");
  ASSERT_TRUE(log.enabled());
  log.append(0, "one\n");
  log.append(1, "two\n");
  log.flush();
  std::string text = readAll(path_);
  EXPECT_NE(text.find("one\n"), std::string::npos);
  EXPECT_NE(text.find("two\n"), std::string::npos);
}

TEST_F(AccessLogFile, ALineThatDoesNotFitIsDroppedAndCounted) {
  AccessLog log(64);
  ASSERT_EQ(log.open(path_, 1), "");
  log.append(0, std::string(100, 'y') + "\n");  // more than the whole ring
  log.append(0, "fits\n");
  log.flush();
  EXPECT_EQ(log.dropped(), 1u);
  EXPECT_EQ(readAll(path_), "fits\n");
}

TEST_F(AccessLogFile, ReopenWritesToTheNewFileAfterRotation) {
  AccessLog log;
  ASSERT_EQ(log.open(path_, 1), "");
  log.append(0, "before\n");
  log.flush();
  std::string rotated = path_ + ".1";
  ASSERT_EQ(std::rename(path_.c_str(), rotated.c_str()), 0);
  ASSERT_EQ(log.open(path_, 1), "");
  log.append(0, "after\n");
  log.flush();
  EXPECT_EQ(readAll(rotated), "before\n");
  EXPECT_EQ(readAll(path_), "after\n");
  std::remove(rotated.c_str());
}

TEST_F(AccessLogFile, OffDisablesAppending) {
  AccessLog log;
  ASSERT_EQ(log.open(path_, 1), "");
  ASSERT_EQ(log.open("off", 1), "");
  EXPECT_FALSE(log.enabled());
  log.append(0, "nothing\n");
  log.flush();
  EXPECT_EQ(readAll(path_), "");
}

TEST(AccessLogOpen, UnwritablePathIsAnError) {
  AccessLog log;
  EXPECT_NE(log.open("/nonexistent-dir/x/access.log", 1), "");
  EXPECT_FALSE(log.enabled());
}

}  // namespace
}  // namespace ringlb
