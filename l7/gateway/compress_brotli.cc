// Brotli (RFC 7932) through libbrotlienc's streaming API.
#include <brotli/encode.h>

#include <algorithm>

#include "l7/gateway/compress_codecs.h"

namespace ringlb::l7::compress {
namespace {

// Quality 4 is the usual on-the-fly setting: about gzip 6's ratio or better
// at twice its speed; 5 gains ~8 % ratio for ~40 % more CPU. A 256 KiB
// window (lgwin 18; brotli's ring buffer is twice that) gives up ~1 % of
// ratio against 1 MiB (lgwin 20) and saves ~1.5 MiB per stream. A known
// body size shrinks the window to fit.
constexpr int kQuality = 4;
constexpr int kBrotliWindowBits = 18;
// Brotli keeps commands for a whole metablock (up to twice the window), a
// buffer that grows with it: cutting metablocks at 128 KiB of input with a
// flush bounds it (~2 MiB per stream in all instead of ~3.2) for ~0.1 % of
// ratio, and bounds the output held back.
constexpr size_t kMetablockBytes = 128 * 1024;
constexpr size_t kBrotliHeldBack = kMetablockBytes + 64 * 1024;
// At a size hint of 1 MiB quality 4 switches to a 4 MiB hash table (H54):
// hints are capped below that, and always set so that brotli does not take
// the first write's size as one.
constexpr uint64_t kMaxSizeHint = (uint64_t{1} << 20) - 1;

class BrotliEncoder final : public Encoder {
 public:
  BrotliEncoder() : Encoder(config::ContentCoding::Brotli) {}
  ~BrotliEncoder() override {
    if (state_ != nullptr) BrotliEncoderDestroyInstance(state_);
  }

  bool init(const EncoderOptions& options) {
    state_ = BrotliEncoderCreateInstance(
        [](void* opaque, size_t bytes) {
          return static_cast<CountingAllocator*>(opaque)->allocate(bytes);
        },
        [](void* opaque, void* block) { static_cast<CountingAllocator*>(opaque)->release(block); },
        &alloc_);
    if (state_ == nullptr) return false;
    uint64_t hint = std::min(options.sizeHint.value_or(kMaxSizeHint), kMaxSizeHint);
    int windowBits = windowBitsFor(hint, BROTLI_MIN_WINDOW_BITS, kBrotliWindowBits);
    return set(BROTLI_PARAM_QUALITY, kQuality) && set(BROTLI_PARAM_LGWIN, windowBits) &&
           set(BROTLI_PARAM_SIZE_HINT, static_cast<uint32_t>(std::max<uint64_t>(hint, 1)));
  }

  size_t memoryBytes() const override { return sizeof(*this) + alloc_.bytes(); }

 protected:
  bool doWrite(std::span<const uint8_t> in, const Sink& out) override {
    while (!in.empty()) {
      size_t n = std::min(in.size(), kMetablockBytes - sinceFlush_);
      if (!run(in.first(n), BROTLI_OPERATION_PROCESS, out)) return false;
      in = in.subspan(n);
      sinceFlush_ += n;
      if (sinceFlush_ == kMetablockBytes && !doFlush(out)) return false;
    }
    return true;
  }
  bool doFlush(const Sink& out) override {
    sinceFlush_ = 0;
    return run({}, BROTLI_OPERATION_FLUSH, out);
  }
  bool doFinish(const Sink& out) override { return run({}, BROTLI_OPERATION_FINISH, out); }
  size_t heldBackBound() const override { return kBrotliHeldBack; }

 private:
  bool set(BrotliEncoderParameter parameter, uint32_t value) {
    return BrotliEncoderSetParameter(state_, parameter, value) == BROTLI_TRUE;
  }

  // Feeds `in` whole; for a flush or finish, until brotli has nothing left.
  bool run(std::span<const uint8_t> in, BrotliEncoderOperation op, const Sink& out) {
    size_t availIn = in.size();
    const uint8_t* nextIn = in.data();
    StallGuard guard;
    for (;;) {
      uint8_t piece[kPieceBytes];
      size_t availOut = sizeof piece;
      uint8_t* nextOut = piece;
      size_t inBefore = availIn;
      if (!BrotliEncoderCompressStream(state_, op, &availIn, &nextIn, &availOut, &nextOut,
                                       nullptr)) {
        return fail("brotli encoder error");
      }
      size_t produced = sizeof piece - availOut;
      emit(out, {piece, produced});
      bool done = availIn == 0 && !BrotliEncoderHasMoreOutput(state_) &&
                  (op != BROTLI_OPERATION_FINISH || BrotliEncoderIsFinished(state_));
      if (done) return true;
      if (guard.stuck(produced > 0 || availIn != inBefore)) {
        return fail("brotli encoder made no progress");
      }
    }
  }

  BrotliEncoderState* state_ = nullptr;
  CountingAllocator alloc_;
  size_t sinceFlush_ = 0;  // input since the last metablock cut
};

}  // namespace

std::unique_ptr<Encoder> makeBrotliEncoder(const EncoderOptions& options) {
  auto encoder = std::make_unique<BrotliEncoder>();
  if (!encoder->init(options)) return nullptr;
  return encoder;
}

}  // namespace ringlb::l7::compress
