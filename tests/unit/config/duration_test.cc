#include "config/duration.h"

#include <gtest/gtest.h>

namespace ringlb::config {
namespace {

using std::chrono::milliseconds;

Duration parseOk(std::string_view text) {
  std::string error;
  auto value = parseDuration(text, &error);
  EXPECT_TRUE(value) << text << ": " << error;
  return value.value_or(Duration(-1));
}

std::string parseError(std::string_view text) {
  std::string error;
  EXPECT_FALSE(parseDuration(text, &error)) << text;
  return error;
}

TEST(ParseDuration, ReadsEveryUnit) {
  EXPECT_EQ(parseOk("250ms"), milliseconds(250));
  EXPECT_EQ(parseOk("2s"), milliseconds(2000));
  EXPECT_EQ(parseOk("5m"), milliseconds(300'000));
  EXPECT_EQ(parseOk("1h"), milliseconds(3'600'000));
  EXPECT_EQ(parseOk("0s"), milliseconds(0));
}

TEST(ParseDuration, ReadsFractions) {
  EXPECT_EQ(parseOk("1.5s"), milliseconds(1500));
  EXPECT_EQ(parseOk("0.25m"), milliseconds(15'000));
  EXPECT_EQ(parseOk("0.001s"), milliseconds(1));
}

TEST(ParseDuration, RejectsMissingUnit) {
  EXPECT_EQ(parseError("30"), "duration needs a unit: ms, s, m or h (for example \"2s\")");
}

TEST(ParseDuration, RejectsUnknownUnit) {
  EXPECT_EQ(parseError("3d"), "unknown duration unit; use ms, s, m or h");
  EXPECT_EQ(parseError("3 s"), "unknown duration unit; use ms, s, m or h");
}

TEST(ParseDuration, RejectsNegative) {
  EXPECT_EQ(parseError("-1s"), "a duration cannot be negative");
}

TEST(ParseDuration, RejectsOverflowAndAbsurdLengths) {
  EXPECT_EQ(parseError("99999999999999999999999h"), "duration is longer than the maximum of 720h");
  EXPECT_EQ(parseError("721h"), "duration is longer than the maximum of 720h");
  EXPECT_EQ(parseOk("720h"), kMaxDuration);
}

TEST(ParseDuration, RejectsSubMillisecondPrecision) {
  EXPECT_EQ(parseError("1.5ms"), "duration must be a whole number of milliseconds");
}

TEST(ParseDuration, RejectsMalformedNumbers) {
  EXPECT_FALSE(parseError("").empty());
  EXPECT_FALSE(parseError("s").empty());
  EXPECT_EQ(parseError("1.s"), "expected digits after the decimal point");
  EXPECT_EQ(parseError("1.1234567s"), "too many decimals in duration");
}

TEST(FormatDuration, UsesTheLargestExactUnit) {
  EXPECT_EQ(formatDuration(milliseconds(30'000)), "30s");
  EXPECT_EQ(formatDuration(milliseconds(90'000)), "90s");
  EXPECT_EQ(formatDuration(milliseconds(3'600'000)), "1h");
  EXPECT_EQ(formatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(formatDuration(milliseconds(0)), "0s");
}

}  // namespace
}  // namespace ringlb::config
