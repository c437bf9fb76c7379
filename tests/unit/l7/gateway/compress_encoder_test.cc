// Specification of the streaming encoders (l7/gateway/compress_encoder.h):
// round trips through each library's own streaming decoder, flush points a
// client can decode up to, bounded output per call and the memory each
// stream holds.
#include "l7/gateway/compress_encoder.h"

#include <brotli/decode.h>
#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "l7/gateway/accept_encoding.h"

namespace ringlb::l7 {
namespace {

using config::ContentCoding;

// ---------------------------------------------------------------- decoders

// A streaming decoder per coding. feed() decodes what it is given and
// appends the output; ended() says the stream's end was seen.
class Decoder {
 public:
  virtual ~Decoder() = default;
  virtual bool feed(std::string_view in, std::string& out) = 0;
  virtual bool ended() const = 0;
};

class GzipDecoder final : public Decoder {
 public:
  GzipDecoder() { ok_ = inflateInit2(&z_, 15 + 16) == Z_OK; }
  ~GzipDecoder() override { inflateEnd(&z_); }
  bool feed(std::string_view in, std::string& out) override {
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z_.avail_in = static_cast<uInt>(in.size());
    while (ok_ && !ended_) {
      char buf[8192];
      z_.next_out = reinterpret_cast<Bytef*>(buf);
      z_.avail_out = sizeof buf;
      int rc = inflate(&z_, Z_NO_FLUSH);
      out.append(buf, sizeof buf - z_.avail_out);
      if (rc == Z_STREAM_END)
        ended_ = true;
      else if (rc == Z_BUF_ERROR)
        break;  // needs more input
      else if (rc != Z_OK)
        ok_ = false;
      if (z_.avail_in == 0 && z_.avail_out != 0) break;
    }
    return ok_;
  }
  bool ended() const override { return ended_; }

 private:
  z_stream z_{};
  bool ok_ = false;
  bool ended_ = false;
};

class ZstdDecoder final : public Decoder {
 public:
  ~ZstdDecoder() override { ZSTD_freeDStream(d_); }
  bool feed(std::string_view in, std::string& out) override {
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    for (;;) {
      char buf[8192];
      ZSTD_outBuffer output{buf, sizeof buf, 0};
      size_t rc = ZSTD_decompressStream(d_, &output, &input);
      if (ZSTD_isError(rc)) return false;
      out.append(buf, output.pos);
      if (rc == 0) ended_ = true;  // a later call would start a next frame
      if (input.pos == input.size && output.pos < output.size) return true;
    }
  }
  bool ended() const override { return ended_; }

 private:
  ZSTD_DStream* d_ = ZSTD_createDStream();
  bool ended_ = false;
};

class BrotliDecoder final : public Decoder {
 public:
  ~BrotliDecoder() override { BrotliDecoderDestroyInstance(d_); }
  bool feed(std::string_view in, std::string& out) override {
    size_t availIn = in.size();
    auto* nextIn = reinterpret_cast<const uint8_t*>(in.data());
    for (;;) {
      uint8_t buf[8192];
      size_t availOut = sizeof buf;
      uint8_t* nextOut = buf;
      BrotliDecoderResult rc =
          BrotliDecoderDecompressStream(d_, &availIn, &nextIn, &availOut, &nextOut, nullptr);
      out.append(reinterpret_cast<char*>(buf), sizeof buf - availOut);
      if (rc == BROTLI_DECODER_RESULT_ERROR) return false;
      if (rc == BROTLI_DECODER_RESULT_SUCCESS) ended_ = true;
      // The decoder may ask for input while it still holds output.
      bool more = rc == BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT || BrotliDecoderHasMoreOutput(d_);
      if (!more) return availIn == 0 || !ended_;
    }
  }
  bool ended() const override { return ended_; }

 private:
  BrotliDecoderState* d_ = BrotliDecoderCreateInstance(nullptr, nullptr, nullptr);
  bool ended_ = false;
};

std::unique_ptr<Decoder> makeDecoder(ContentCoding coding) {
  switch (coding) {
    case ContentCoding::Gzip: return std::make_unique<GzipDecoder>();
    case ContentCoding::Zstd: return std::make_unique<ZstdDecoder>();
    case ContentCoding::Brotli: return std::make_unique<BrotliDecoder>();
  }
  return nullptr;
}

// The whole of `compressed` decoded; the stream must end exactly there.
std::string decodeAll(ContentCoding coding, const std::string& compressed) {
  auto decoder = makeDecoder(coding);
  std::string out;
  EXPECT_TRUE(decoder->feed(compressed, out));
  EXPECT_TRUE(decoder->ended());
  return out;
}

// ---------------------------------------------------------------- inputs

std::string randomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// HTML-like text: words, tags and numbers drawn from a fixed vocabulary.
std::string textBytes(size_t n, uint64_t seed) {
  static const char* const kWords[] = {"<div class=\"item\">",
                                       "</div>",
                                       "<a href=\"/products/",
                                       "\">",
                                       "</a>",
                                       "price",
                                       "the",
                                       "shipping",
                                       "\"id\": ",
                                       "\"name\": \"",
                                       "\",",
                                       "<li>",
                                       "</li>\n",
                                       "customer",
                                       "order",
                                       "available",
                                       "2024-05-14T09:12:44Z",
                                       " ",
                                       " ",
                                       "\n"};
  std::mt19937_64 rng(seed);
  std::string s;
  s.reserve(n + 64);
  while (s.size() < n) {
    uint64_t r = rng();
    s += kWords[r % std::size(kWords)];
    if (r % 7 == 0) s += std::to_string(r % 100000);
  }
  s.resize(n);
  return s;
}

// Odd piece sizes, cycled, so that pieces cross every internal boundary.
constexpr size_t kPieces[] = {1, 7, 1000, 4093, 65537, 17, 31337, 3, 200000};

// ---------------------------------------------------------------- round trips

struct Feed {
  std::string compressed;
  size_t worstExcess = 0;  // the most one call output beyond maxOutput()
  bool ok = true;
};

// Feeds `input` in odd pieces (flushing every `flushEvery` pieces when not
// 0), then finishes; checks each call's output against maxOutput().
Feed feed(Encoder& encoder, const std::string& input, size_t flushEvery) {
  Feed f;
  size_t offset = 0;
  size_t pieces = 0;
  auto track = [&](size_t inBytes, size_t before) {
    size_t produced = f.compressed.size() - before;
    size_t bound = encoder.maxOutput(inBytes);
    if (produced > bound) f.worstExcess = std::max(f.worstExcess, produced - bound);
  };
  while (offset < input.size()) {
    size_t n = std::min(kPieces[pieces % std::size(kPieces)], input.size() - offset);
    size_t before = f.compressed.size();
    f.ok = f.ok && encoder.write(std::string_view(input).substr(offset, n), f.compressed);
    track(n, before);
    offset += n;
    if (flushEvery != 0 && ++pieces % flushEvery == 0) {
      before = f.compressed.size();
      f.ok = f.ok && encoder.flush(f.compressed);
      track(0, before);
    } else if (flushEvery == 0) {
      ++pieces;
    }
  }
  size_t before = f.compressed.size();
  f.ok = f.ok && encoder.finish(f.compressed);
  track(0, before);
  return f;
}

enum class Data { Random, Text };

using RoundTripParam = std::tuple<ContentCoding, Data, size_t, size_t>;

class RoundTrip : public ::testing::TestWithParam<RoundTripParam> {};

TEST_P(RoundTrip, DecodesToTheInput) {
  auto [coding, data, size, flushEvery] = GetParam();
  std::string input = data == Data::Random ? randomBytes(size, size) : textBytes(size, size);
  auto encoder = makeEncoder(coding);
  ASSERT_NE(encoder, nullptr);
  EXPECT_EQ(encoder->coding(), coding);
  Feed f = feed(*encoder, input, flushEvery);
  ASSERT_TRUE(f.ok) << encoder->error();
  EXPECT_TRUE(encoder->finished());
  EXPECT_EQ(f.worstExcess, 0u);
  EXPECT_EQ(encoder->bytesIn(), input.size());
  EXPECT_EQ(encoder->bytesOut(), f.compressed.size());
  std::string decoded = decodeAll(coding, f.compressed);
  ASSERT_EQ(decoded.size(), input.size());
  EXPECT_TRUE(decoded == input);
  if (data == Data::Text && size >= 64 * 1024) {
    EXPECT_LT(f.compressed.size(), input.size() / 3);  // text compresses well
  }
}

std::string roundTripName(const ::testing::TestParamInfo<RoundTripParam>& info) {
  auto [coding, data, size, flushEvery] = info.param;
  std::string name = coding == ContentCoding::Brotli ? "br" : std::string(codingToken(coding));
  name += data == Data::Random ? "_random_" : "_text_";
  name += std::to_string(size);
  if (flushEvery != 0) name += "_flush" + std::to_string(flushEvery);
  return name;
}

INSTANTIATE_TEST_SUITE_P(
    AllCodings, RoundTrip,
    ::testing::Combine(
        ::testing::Values(ContentCoding::Gzip, ContentCoding::Zstd, ContentCoding::Brotli),
        ::testing::Values(Data::Random, Data::Text),
        ::testing::Values(size_t{0}, size_t{1}, size_t{64 * 1024}, size_t{5 * 1024 * 1024}),
        ::testing::Values(size_t{0}, size_t{1}, size_t{3})),
    roundTripName);

class EveryCoding : public ::testing::TestWithParam<ContentCoding> {};

std::string codingName(const ::testing::TestParamInfo<ContentCoding>& info) {
  return info.param == ContentCoding::Brotli ? "br" : std::string(codingToken(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllCodings, EveryCoding,
                         ::testing::Values(ContentCoding::Gzip, ContentCoding::Zstd,
                                           ContentCoding::Brotli),
                         codingName);

TEST_P(EveryCoding, AFlushMakesEverythingWrittenDecodable) {
  auto encoder = makeEncoder(GetParam());
  ASSERT_NE(encoder, nullptr);
  auto decoder = makeDecoder(GetParam());
  std::string sent;
  std::string decoded;
  for (int round = 0; round < 5; ++round) {
    std::string part = textBytes(3000 + round * 10000, round);
    sent += part;
    std::string out;
    ASSERT_TRUE(encoder->write(part, out));
    ASSERT_TRUE(encoder->flush(out));
    EXPECT_FALSE(out.empty());
    ASSERT_TRUE(decoder->feed(out, decoded));
    EXPECT_EQ(decoded.size(), sent.size()) << "round " << round;
    EXPECT_FALSE(decoder->ended());
  }
  std::string tail;
  ASSERT_TRUE(encoder->finish(tail));
  ASSERT_TRUE(decoder->feed(tail, decoded));
  EXPECT_TRUE(decoder->ended());
  EXPECT_TRUE(decoded == sent);
}

TEST_P(EveryCoding, AFlushWithNothingNewOutputsNothing) {
  auto encoder = makeEncoder(GetParam());
  std::string out;
  ASSERT_TRUE(encoder->flush(out));  // nothing written yet
  EXPECT_TRUE(out.empty());
  ASSERT_TRUE(encoder->write("hello hello hello", out));
  ASSERT_TRUE(encoder->flush(out));
  size_t afterFirst = out.size();
  ASSERT_TRUE(encoder->flush(out));
  ASSERT_TRUE(encoder->write(std::string_view(), out));
  ASSERT_TRUE(encoder->flush(out));
  EXPECT_EQ(out.size(), afterFirst);
  ASSERT_TRUE(encoder->finish(out));
  EXPECT_EQ(decodeAll(GetParam(), out), "hello hello hello");
}

TEST_P(EveryCoding, NothingIsAcceptedAfterFinish) {
  auto encoder = makeEncoder(GetParam());
  std::string out;
  ASSERT_TRUE(encoder->write("abc", out));
  ASSERT_TRUE(encoder->finish(out));
  size_t size = out.size();
  EXPECT_FALSE(encoder->write("more", out));
  EXPECT_FALSE(encoder->flush(out));
  EXPECT_FALSE(encoder->finish(out));
  EXPECT_EQ(out.size(), size);
  EXPECT_TRUE(encoder->finished());
  EXPECT_FALSE(encoder->failed());
  EXPECT_EQ(decodeAll(GetParam(), out), "abc");
}

TEST_P(EveryCoding, ACallableSinkGetsBoundedPieces) {
  auto encoder = makeEncoder(GetParam());
  std::string input = randomBytes(300 * 1024, 7);
  std::string collected;
  size_t calls = 0;
  size_t largest = 0;
  auto sink = [&](std::span<const uint8_t> piece) {
    ++calls;
    largest = std::max(largest, piece.size());
    collected.append(reinterpret_cast<const char*>(piece.data()), piece.size());
  };
  ASSERT_TRUE(encoder->write(input, sink));
  ASSERT_TRUE(encoder->finish(sink));
  EXPECT_GT(calls, 1u);
  EXPECT_LE(largest, Encoder::kPieceBytes);
  EXPECT_TRUE(decodeAll(GetParam(), collected) == input);
}

TEST_P(EveryCoding, ASizeHintStillRoundTripsWhenWrong) {
  std::string input = textBytes(200 * 1024, 3);
  for (uint64_t hint : {uint64_t{0}, uint64_t{1}, uint64_t{500}, uint64_t{200 * 1024},
                        uint64_t{1} << 40, UINT64_MAX}) {
    auto encoder = makeEncoder(GetParam(), {.sizeHint = hint});
    ASSERT_NE(encoder, nullptr) << hint;
    Feed f = feed(*encoder, input, 0);
    ASSERT_TRUE(f.ok) << hint << ": " << encoder->error();
    EXPECT_TRUE(decodeAll(GetParam(), f.compressed) == input) << hint;
  }
}

TEST_P(EveryCoding, ManyStreamsAreIndependent) {
  std::vector<std::unique_ptr<Encoder>> encoders;
  std::vector<std::string> outs(8);
  for (int i = 0; i < 8; ++i) encoders.push_back(makeEncoder(GetParam()));
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE(encoders[i]->write(textBytes(5000, i * 10 + round), outs[i]));
    }
  }
  for (int i = 0; i < 8; ++i) {
    ASSERT_TRUE(encoders[i]->finish(outs[i]));
    std::string expected;
    for (int round = 0; round < 3; ++round) expected += textBytes(5000, i * 10 + round);
    EXPECT_TRUE(decodeAll(GetParam(), outs[i]) == expected) << i;
  }
}

// ---------------------------------------------------------------- memory

// The memory documented in compress_encoder.h, measured after 5 MiB of text
// has gone through (windows and buffers at their largest).
TEST_P(EveryCoding, MemoryPerStreamIsAsDocumented) {
  auto encoder = makeEncoder(GetParam());
  std::string input = textBytes(5 * 1024 * 1024, 11);
  std::string out;
  size_t peak = encoder->memoryBytes();
  for (size_t offset = 0; offset < input.size(); offset += 16 * 1024) {
    ASSERT_TRUE(encoder->write(std::string_view(input).substr(offset, 16 * 1024), out));
    peak = std::max(peak, encoder->memoryBytes());
    out.clear();
  }
  ASSERT_TRUE(encoder->finish(out));
  constexpr size_t KiB = 1024;
  switch (GetParam()) {
    case ContentCoding::Gzip:
      EXPECT_GE(peak, 256 * KiB);
      EXPECT_LE(peak, 272 * KiB);
      break;
    case ContentCoding::Zstd:
      EXPECT_GE(peak, 1024 * KiB);
      EXPECT_LE(peak, 1536 * KiB);
      break;
    case ContentCoding::Brotli:
      EXPECT_GE(peak, 1024 * KiB);
      EXPECT_LE(peak, 2304 * KiB);
      break;
  }
  RecordProperty("memory_bytes", std::to_string(peak));
  std::printf("[ memory   ] %s: %zu KiB per stream\n", std::string(codingToken(GetParam())).c_str(),
              peak / KiB);
}

// A body known to be small gets a small window. Brotli's ring buffer grows
// with the input anyway; its 512 KiB hash table is the same at any size.
TEST_P(EveryCoding, ASmallSizeHintHoldsLessMemory) {
  auto large = makeEncoder(GetParam());
  auto small = makeEncoder(GetParam(), {.sizeHint = 2048});
  std::string input = textBytes(2048, 5);
  std::string out;
  // Flushed, so that every coding has set up its tables.
  ASSERT_TRUE(large->write(input, out) && large->flush(out));
  ASSERT_TRUE(small->write(input, out) && small->flush(out));
  if (GetParam() == ContentCoding::Brotli) {
    EXPECT_LE(small->memoryBytes(), large->memoryBytes());
    EXPECT_LE(small->memoryBytes(), 600 * 1024u);
  } else {
    EXPECT_LT(small->memoryBytes(), 64 * 1024u);
  }
  std::printf("[ memory   ] %s: %zu KiB for a 2 KiB body (%zu KiB without the hint)\n",
              std::string(codingToken(GetParam())).c_str(), small->memoryBytes() / 1024,
              large->memoryBytes() / 1024);
}

// ---------------------------------------------------------------- failures

// A coding whose library fails on the second write: the base class stops the
// stream and keeps the reason.
class FailingEncoder final : public Encoder {
 public:
  FailingEncoder() : Encoder(ContentCoding::Gzip) {}
  size_t memoryBytes() const override { return 0; }

 protected:
  bool doWrite(std::span<const uint8_t> in, const Sink& out) override {
    if (++writes_ == 2) return fail("library said no");
    emit(out, in);
    return true;
  }
  bool doFlush(const Sink&) override { return true; }
  bool doFinish(const Sink&) override { return true; }
  size_t heldBackBound() const override { return 0; }

 private:
  int writes_ = 0;
};

TEST(Encoder, AFailureStopsTheStream) {
  FailingEncoder encoder;
  std::string out;
  EXPECT_TRUE(encoder.write("a", out));
  EXPECT_FALSE(encoder.failed());
  EXPECT_TRUE(encoder.error().empty());
  EXPECT_FALSE(encoder.write("b", out));
  EXPECT_TRUE(encoder.failed());
  EXPECT_EQ(encoder.error(), "library said no");
  EXPECT_FALSE(encoder.write("c", out));
  EXPECT_FALSE(encoder.flush(out));
  EXPECT_FALSE(encoder.finish(out));
  EXPECT_FALSE(encoder.finished());
  EXPECT_EQ(out, "a");
}

TEST(Encoder, MaxOutputCoversTheInputAndAConstant) {
  for (ContentCoding coding : {ContentCoding::Gzip, ContentCoding::Zstd, ContentCoding::Brotli}) {
    auto encoder = makeEncoder(coding);
    EXPECT_GE(encoder->maxOutput(0), 1024u);
    EXPECT_LE(encoder->maxOutput(0), 256 * 1024u);
    EXPECT_GE(encoder->maxOutput(16384), 16384 + encoder->maxOutput(0));
  }
}

}  // namespace
}  // namespace ringlb::l7
