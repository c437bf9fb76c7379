// zstd (RFC 8878) through libzstd's streaming API.
#include <zstd.h>

#include <algorithm>

#include "l7/gateway/compress_codecs.h"

namespace ringlb::l7::compress {
namespace {

// Level 3 (zstd's default) with its tables cut to the window: level 3 alone
// picks a 2 MiB window and ~3.5 MiB per stream. A 256 KiB window, hashLog 16
// and chainLog 15 hold ~1.4 MiB (the window and a block of input, 256 KiB of
// hash, 128 KiB of chain, a block of output, sequences) and lose ~2 % of
// ratio on 1.5 MiB of HTML, nothing on 100 KiB. A known body size shrinks
// all three to fit. RFC 8878 decoders accept windows up to 8 MiB.
constexpr int kZstdLevel = 3;
constexpr int kWindowLog = 18;
constexpr int kHashLog = 16;
constexpr int kChainLog = 15;
constexpr int kMinWindowLog = 10;  // ZSTD_WINDOWLOG_MIN, outside the stable API
// zstd compresses a block (128 KiB at most) once it has it whole: that much
// input, then its compressed form, may be held back, plus the frame header.
constexpr size_t kZstdHeldBack = ZSTD_BLOCKSIZE_MAX + 1024;

class ZstdEncoder final : public Encoder {
 public:
  ZstdEncoder() : Encoder(config::ContentCoding::Zstd) {}
  ~ZstdEncoder() override { ZSTD_freeCCtx(cctx_); }  // null is fine

  bool init(const EncoderOptions& options) {
    if (cctx_ == nullptr) return false;
    int windowLog = kWindowLog;
    if (options.sizeHint) windowLog = windowBitsFor(*options.sizeHint, kMinWindowLog, kWindowLog);
    return set(ZSTD_c_compressionLevel, kZstdLevel) && set(ZSTD_c_windowLog, windowLog) &&
           set(ZSTD_c_hashLog, std::min(kHashLog, windowLog + 1)) &&
           set(ZSTD_c_chainLog, std::min(kChainLog, windowLog));
  }

  size_t memoryBytes() const override { return sizeof(*this) + ZSTD_sizeof_CCtx(cctx_); }

 protected:
  bool doWrite(std::span<const uint8_t> in, const Sink& out) override {
    return run(in, ZSTD_e_continue, out);
  }
  bool doFlush(const Sink& out) override { return run({}, ZSTD_e_flush, out); }
  bool doFinish(const Sink& out) override { return run({}, ZSTD_e_end, out); }
  size_t heldBackBound() const override { return kZstdHeldBack; }

 private:
  bool set(ZSTD_cParameter parameter, int value) {
    return !ZSTD_isError(ZSTD_CCtx_setParameter(cctx_, parameter, value));
  }

  // Feeds `in` whole; for a flush or an end, until zstd reports nothing left.
  bool run(std::span<const uint8_t> in, ZSTD_EndDirective mode, const Sink& out) {
    ZSTD_inBuffer input{in.data(), in.size(), 0};
    StallGuard guard;
    for (;;) {
      uint8_t piece[kPieceBytes];
      ZSTD_outBuffer output{piece, sizeof piece, 0};
      size_t inBefore = input.pos;
      size_t left = ZSTD_compressStream2(cctx_, &output, &input, mode);
      if (ZSTD_isError(left)) return fail(ZSTD_getErrorName(left));
      emit(out, {piece, output.pos});
      // For a flush or an end, `left` counts bytes still to write; without,
      // a full piece may mean more is waiting.
      bool done =
          mode == ZSTD_e_continue ? input.pos == input.size && output.pos < output.size : left == 0;
      if (done) return true;
      if (guard.stuck(output.pos > 0 || input.pos != inBefore)) {
        return fail("zstd made no progress");
      }
    }
  }

  ZSTD_CCtx* cctx_ = ZSTD_createCCtx();
};

}  // namespace

std::unique_ptr<Encoder> makeZstdEncoder(const EncoderOptions& options) {
  auto encoder = std::make_unique<ZstdEncoder>();
  if (!encoder->init(options)) return nullptr;
  return encoder;
}

}  // namespace ringlb::l7::compress
