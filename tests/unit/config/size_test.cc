// Sizes as written in the config (max_body_size): units, limits, messages.
#include "config/size.h"

#include <gtest/gtest.h>

namespace ringlb::config::size_test {
namespace {

std::optional<uint64_t> parse(std::string_view text) {
  std::string error;
  return parseSize(text, &error);
}

std::string parseError(std::string_view text) {
  std::string error;
  EXPECT_FALSE(parseSize(text, &error).has_value()) << text;
  return error;
}

TEST(Size, BinaryUnitsArePowersOf1024) {
  EXPECT_EQ(parse("512KiB"), 512u * 1024);
  EXPECT_EQ(parse("100MiB"), 100u * 1024 * 1024);
  EXPECT_EQ(parse("1GiB"), uint64_t{1} << 30);
}

TEST(Size, DecimalUnitsArePowersOf1000) {
  EXPECT_EQ(parse("10KB"), 10'000u);
  EXPECT_EQ(parse("10MB"), 10'000'000u);
  EXPECT_EQ(parse("1GB"), 1'000'000'000u);
}

TEST(Size, BareNumbersAndBAreBytes) {
  EXPECT_EQ(parse("0"), 0u);
  EXPECT_EQ(parse("4096"), 4096u);
  EXPECT_EQ(parse("4096B"), 4096u);
}

TEST(Size, BadSpellingsSayWhatIsWrong) {
  EXPECT_EQ(parseError("100 potatoes"), "unknown size unit; use B, KB, MB, GB, KiB, MiB or GiB");
  EXPECT_EQ(parseError("10mb"), "unknown size unit; use B, KB, MB, GB, KiB, MiB or GiB");
  EXPECT_EQ(parseError("MiB"),
            "expected a number of bytes or a number with a unit, like \"512KiB\" or \"100MiB\"");
  EXPECT_EQ(parseError("-1MiB"), "a size cannot be negative");
  EXPECT_EQ(parseError("1.5MiB"), "unknown size unit; use B, KB, MB, GB, KiB, MiB or GiB");
}

TEST(Size, AboveOneTebibyteIsRefused) {
  EXPECT_EQ(parse("1024GiB"), kMaxSize);
  EXPECT_EQ(parseError("1025GiB"), "size is larger than the maximum of 1TiB");
  EXPECT_EQ(parseError("99999999999999999999999"), "size is larger than the maximum of 1TiB");
}

TEST(Size, FormatPicksTheShortestExactSpelling) {
  EXPECT_EQ(formatSize(1 << 20), "1MiB");
  EXPECT_EQ(formatSize(1000), "1KB");
  EXPECT_EQ(formatSize(1023), "1023");
  EXPECT_EQ(formatSize(0), "0");
}

}  // namespace
}  // namespace ringlb::config::size_test
