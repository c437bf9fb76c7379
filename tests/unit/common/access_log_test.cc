// The access log: JSON lines that stay valid for hostile input, and a writer
// that never blocks the producer (a full ring drops and counts).
#include "common/access_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <set>
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

AccessRecord tcpRecord() {
  AccessRecord r;
  r.mode = AccessMode::Tcp;
  r.time = std::chrono::system_clock::time_point(1'700'000'000'123ms);
  r.client = "127.0.0.1:4242";
  r.listener = "db";
  r.pool = "pg";
  r.backend = "127.0.0.1:5432";
  r.bytesIn = 100;
  r.bytesOut = 2000;
  r.duration = 12500us;
  r.upstreamConnect = 300us;
  r.end = AccessEnd::Closed;
  return r;
}

AccessRecord udpRecord() {
  AccessRecord r;
  r.mode = AccessMode::Udp;
  r.time = std::chrono::system_clock::time_point(1'700'000'000'123ms);
  r.client = "127.0.0.1:4242";
  r.listener = "dns";
  r.pool = "resolvers";
  r.backend = "127.0.0.1:5353";
  r.datagramsIn = 3;
  r.datagramsOut = 2;
  r.bytesIn = 90;
  r.bytesOut = 400;
  r.duration = 30'000'000us;
  r.end = AccessEnd::IdleTimeout;
  return r;
}

AccessRecord forwardRecord() {
  AccessRecord r;
  r.mode = AccessMode::Forward;
  r.time = std::chrono::system_clock::time_point(1'700'000'000'123ms);
  r.client = "127.0.0.1:4242";
  r.listener = "egress";
  r.method = "CONNECT";
  r.destination = "api.example.com:443";
  r.path = "api.example.com:443";
  r.backend = "192.0.2.7:443";
  r.status = 200;
  r.bytesIn = 1200;
  r.bytesOut = 5000;
  r.duration = 2000us;
  r.acl = "allowed by \"*.example.com\"";
  r.end = AccessEnd::Closed;
  return r;
}

std::string lineOf(const AccessRecord& r) {
  std::string line;
  formatAccessLine(r, line);
  return line;
}

bool hasKey(const std::string& line, std::string_view key) {
  return line.find("\"" + std::string(key) + "\":") != std::string::npos;
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
            "\"listener\":\"web\",\"mode\":\"http\",\"route\":\"routes[0]\",\"pool\":\"api\","
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

TEST(AccessLogFormat, AFailedExchangeNamesItsError) {
  AccessRecord r = sampleRecord();
  EXPECT_FALSE(hasKey(lineOf(r), "error"));
  r.status = 504;
  r.error = "connect_timeout";
  EXPECT_NE(lineOf(r).find(",\"request_id\":\"abc\",\"error\":\"connect_timeout\"}"),
            std::string::npos)
      << lineOf(r);
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

TEST(AccessLogFormat, HttpIsTheDefaultModeAndHasNoEndKey) {
  std::string line = lineOf(sampleRecord());
  EXPECT_NE(line.find("\"mode\":\"http\""), std::string::npos) << line;
  EXPECT_FALSE(hasKey(line, "end")) << line;
}

TEST(AccessLogFormat, TcpLineHasPoolBackendBytesConnectTimeAndEnd) {
  EXPECT_EQ(lineOf(tcpRecord()),
            "{\"time\":\"2023-11-14T22:13:20.123Z\",\"client\":\"127.0.0.1:4242\","
            "\"listener\":\"db\",\"mode\":\"tcp\",\"pool\":\"pg\",\"backend\":\"127.0.0.1:5432\","
            "\"bytes_in\":100,\"bytes_out\":2000,\"duration_ms\":12.500,"
            "\"upstream_connect_ms\":0.300,\"end\":\"closed\"}\n");
}

TEST(AccessLogFormat, TcpLineHasNoHttpKeys) {
  std::string line = lineOf(tcpRecord());
  for (std::string_view key : {"route", "method", "path", "status", "request_id", "destination"}) {
    EXPECT_FALSE(hasKey(line, key)) << key << " in " << line;
  }
}

TEST(AccessLogFormat, TcpSessionThatNeverConnectedHasNoConnectTimeAndADashBackend) {
  AccessRecord r = tcpRecord();
  r.backend = "";
  r.upstreamConnect.reset();
  r.end = AccessEnd::NoBackend;
  std::string line = lineOf(r);
  EXPECT_NE(line.find("\"backend\":\"-\""), std::string::npos) << line;
  EXPECT_FALSE(hasKey(line, "upstream_connect_ms")) << line;
  EXPECT_NE(line.find("\"end\":\"no_backend\"}"), std::string::npos) << line;
}

TEST(AccessLogFormat, UdpLineCountsDatagramsAndBytesEachWay) {
  EXPECT_EQ(lineOf(udpRecord()),
            "{\"time\":\"2023-11-14T22:13:20.123Z\",\"client\":\"127.0.0.1:4242\","
            "\"listener\":\"dns\",\"mode\":\"udp\",\"pool\":\"resolvers\","
            "\"backend\":\"127.0.0.1:5353\",\"datagrams_in\":3,\"datagrams_out\":2,"
            "\"bytes_in\":90,\"bytes_out\":400,\"duration_ms\":30000.000,"
            "\"end\":\"idle_timeout\"}\n");
}

TEST(AccessLogFormat, ForwardLineHasDestinationStatusAclAndEnd) {
  EXPECT_EQ(lineOf(forwardRecord()),
            "{\"time\":\"2023-11-14T22:13:20.123Z\",\"client\":\"127.0.0.1:4242\","
            "\"listener\":\"egress\",\"mode\":\"forward\",\"method\":\"CONNECT\","
            "\"destination\":\"api.example.com:443\",\"path\":\"api.example.com:443\","
            "\"backend\":\"192.0.2.7:443\",\"status\":200,\"bytes_in\":1200,\"bytes_out\":5000,"
            "\"duration_ms\":2.000,\"acl\":\"allowed by \\\"*.example.com\\\"\","
            "\"end\":\"closed\"}\n");
}

TEST(AccessLogFormat, ForwardLineWithoutAnAclDecisionHasNoAclKey) {
  AccessRecord r = forwardRecord();
  r.acl = "";
  r.method = "";
  r.destination = "";
  r.status = 400;
  r.end = AccessEnd::BadRequest;
  std::string line = lineOf(r);
  EXPECT_FALSE(hasKey(line, "acl")) << line;
  EXPECT_NE(line.find("\"method\":\"-\",\"destination\":\"-\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"status\":400"), std::string::npos) << line;
}

TEST(AccessLogFormat, EveryEndReasonHasItsOwnSnakeCaseName) {
  std::set<std::string_view> names;
  for (int e = static_cast<int>(AccessEnd::Closed); e <= static_cast<int>(AccessEnd::BadResponse);
       ++e) {
    std::string_view name = accessEndName(static_cast<AccessEnd>(e));
    EXPECT_NE(name, "-") << e;
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string_view::npos)
        << name;
    EXPECT_TRUE(names.insert(name).second) << name << " twice";
  }
  EXPECT_EQ(accessEndName(AccessEnd::None), "-");
}

TEST(AccessLogFormat, ResetsAndOtherSocketErrorsNameTheirSide) {
  EXPECT_EQ(accessEndForError(ECONNRESET, true), AccessEnd::ClientReset);
  EXPECT_EQ(accessEndForError(EPIPE, false), AccessEnd::BackendReset);
  EXPECT_EQ(accessEndForError(EHOSTUNREACH, true), AccessEnd::ClientError);
  EXPECT_EQ(accessEndForError(EHOSTUNREACH, false), AccessEnd::BackendError);
}

TEST(AccessLogFormat, HostileForwardFieldsCannotBreakTheLine) {
  AccessRecord r = forwardRecord();
  r.path = "/\"}\n{\"status\":1";
  r.destination = "a\"b:80";
  std::string line = lineOf(r);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  EXPECT_NE(line.find("\"destination\":\"a\\\"b:80\""), std::string::npos) << line;
}

TEST(AccessLogRecord, NothingIsFormattedWhileTheLogIsOff) {
  AccessLog log;  // never opened: off
  std::string scratch;
  log.append(0, tcpRecord(), scratch);
  EXPECT_TRUE(scratch.empty());
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

TEST_F(AccessLogFile, ARecordIsFormattedIntoTheScratchLineAndWritten) {
  AccessLog log;
  ASSERT_EQ(log.open(path_, 1), "");
  std::string scratch = "left over from the previous line";
  log.append(0, udpRecord(), scratch);
  log.flush();
  EXPECT_EQ(scratch, lineOf(udpRecord()));
  EXPECT_EQ(readAll(path_), lineOf(udpRecord()));
}

TEST_F(AccessLogFile, ALineThatDoesNotFitIsDroppedAndCounted) {
  AccessLog log(64);
  ASSERT_EQ(log.open(path_, 1), "");
  std::string tooLong(100, 'y');  // more than the whole ring
  tooLong += '\n';
  log.append(0, tooLong);
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
