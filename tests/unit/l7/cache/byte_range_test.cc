// Specification of range requests answered from a complete stored response
// (RFC 9110 section 14): l7/cache/byte_range.h.
#include "l7/cache/byte_range.h"

#include <gtest/gtest.h>

#include <vector>

namespace ringlb::l7::cache {
namespace {

using http::Method;

RangeAnswer answer(std::vector<http::HeaderView> fields, uint64_t size = 1000,
                   Method method = Method::Get) {
  http::MessageHead head;
  head.method = method;
  head.headers = fields;
  return rangeAnswer(head, size);
}
RangeAnswer answer(std::string_view range, uint64_t size = 1000) {
  return answer({{"Range", range}}, size);
}

void expectPartial(const RangeAnswer& a, uint64_t first, uint64_t last, std::string_view cr) {
  EXPECT_EQ(a.kind, RangeAnswer::Partial);
  EXPECT_EQ(a.first, first);
  EXPECT_EQ(a.last, last);
  EXPECT_EQ(a.contentRange, cr);
}

void expectWhole(const RangeAnswer& a) {
  EXPECT_EQ(a.kind, RangeAnswer::Whole);
  EXPECT_EQ(a.contentRange, "");
}

void expectUnsatisfiable(const RangeAnswer& a, std::string_view cr) {
  EXPECT_EQ(a.kind, RangeAnswer::Unsatisfiable);
  EXPECT_EQ(a.contentRange, cr);
}

TEST(RangeAnswer, FirstToLast) { expectPartial(answer("bytes=0-99"), 0, 99, "bytes 0-99/1000"); }

TEST(RangeAnswer, SingleByte) {
  expectPartial(answer("bytes=0-0"), 0, 0, "bytes 0-0/1000");
  expectPartial(answer("bytes=999-999"), 999, 999, "bytes 999-999/1000");
}

TEST(RangeAnswer, OpenEnded) {
  expectPartial(answer("bytes=500-"), 500, 999, "bytes 500-999/1000");
  expectPartial(answer("bytes=0-"), 0, 999, "bytes 0-999/1000");
}

TEST(RangeAnswer, Suffix) {
  expectPartial(answer("bytes=-100"), 900, 999, "bytes 900-999/1000");
  expectPartial(answer("bytes=-1000"), 0, 999, "bytes 0-999/1000");
}

TEST(RangeAnswer, SuffixLongerThanTheBodyIsTheWholeBody) {
  expectPartial(answer("bytes=-2000"), 0, 999, "bytes 0-999/1000");
  expectPartial(answer("bytes=-18446744073709551615"), 0, 999, "bytes 0-999/1000");
}

TEST(RangeAnswer, LastPastTheEndIsClamped) {
  expectPartial(answer("bytes=900-5000"), 900, 999, "bytes 900-999/1000");
  expectPartial(answer("bytes=0-18446744073709551615"), 0, 999, "bytes 0-999/1000");
}

TEST(RangeAnswer, FirstAtOrPastTheEndIsUnsatisfiable) {
  expectUnsatisfiable(answer("bytes=1000-"), "bytes */1000");
  expectUnsatisfiable(answer("bytes=1000-1001"), "bytes */1000");
  expectUnsatisfiable(answer("bytes=18446744073709551615-"), "bytes */1000");
}

TEST(RangeAnswer, EmptySuffixIsUnsatisfiable) {
  expectUnsatisfiable(answer("bytes=-0"), "bytes */1000");
  expectUnsatisfiable(answer("bytes=-0", 0), "bytes */0");
}

TEST(RangeAnswer, EmptyBody) {
  expectUnsatisfiable(answer("bytes=0-", 0), "bytes */0");
  expectUnsatisfiable(answer("bytes=0-0", 0), "bytes */0");
  // RFC 9110 section 14.1.2: "-N" is satisfiable on an empty body, and no
  // Content-Range can name zero bytes: the empty whole.
  expectWhole(answer("bytes=-5", 0));
}

TEST(RangeAnswer, UnitIsCaseInsensitive) {
  expectPartial(answer("BYTES=0-9"), 0, 9, "bytes 0-9/1000");
  expectPartial(answer("Bytes=0-9"), 0, 9, "bytes 0-9/1000");
}

TEST(RangeAnswer, WhitespaceAroundTheRange) {
  expectPartial(answer("bytes= 0-9"), 0, 9, "bytes 0-9/1000");
  expectPartial(answer("bytes=\t0-9 \t"), 0, 9, "bytes 0-9/1000");
}

TEST(RangeAnswer, EmptyListElementsAreSkipped) {
  expectPartial(answer("bytes=0-9,"), 0, 9, "bytes 0-9/1000");
  expectPartial(answer("bytes=, ,0-9"), 0, 9, "bytes 0-9/1000");
}

TEST(RangeAnswer, SeveralRangesGetTheWhole) {
  expectWhole(answer("bytes=0-1,5-6"));
  expectWhole(answer("bytes=0-1, 0-1"));
  expectWhole(answer("bytes=-5,0-"));
  expectWhole(answer({{"Range", "bytes=0-1"}, {"range", "bytes=5-6"}}));
}

TEST(RangeAnswer, FirstAfterLastIsInvalid) {
  expectWhole(answer("bytes=5-1"));
  expectWhole(answer("bytes=2000-1000"));
}

TEST(RangeAnswer, OverflowIsInvalid) {
  expectWhole(answer("bytes=0-18446744073709551616"));
  expectWhole(answer("bytes=18446744073709551616-"));
  expectWhole(answer("bytes=-18446744073709551616"));
  expectWhole(answer("bytes=" + std::string(5000, '9') + "-"));
}

TEST(RangeAnswer, SyntaxErrorsGetTheWhole) {
  for (std::string_view bad :
       {"", "bytes", "bytes=", "bytes=,", "bytes=abc", "bytes=-", "bytes=--1", "bytes=1-2-3",
        "bytes=+1-2", "bytes=0x10-", "bytes=0 - 99", "bytes =0-99", " bytes=0-99x", "items=0-1",
        "bytes=1.5-2", "bytes=\"0-1\"", "bytes=0-1;x", "=0-1", "bytes==0-1"}) {
    expectWhole(answer(bad));
  }
}

TEST(RangeAnswer, OtherMethodsGetTheWhole) {
  for (Method m : {Method::Head, Method::Post, Method::Other}) {
    expectWhole(answer({{"Range", "bytes=0-9"}}, 1000, m));
  }
}

TEST(RangeAnswer, NoRangeGetsTheWhole) {
  expectWhole(answer(std::vector<http::HeaderView>{}));
  expectWhole(answer({{"Content-Range", "bytes 0-9/1000"}}));
}

TEST(RangeAnswer, HugeBody) {
  uint64_t size = UINT64_MAX;
  expectPartial(answer("bytes=-1", size), size - 1, size - 1,
                "bytes 18446744073709551614-18446744073709551614/18446744073709551615");
}

}  // namespace
}  // namespace ringlb::l7::cache
