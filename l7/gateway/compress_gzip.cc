// gzip (RFC 1952) through zlib's deflate.
#include <zlib.h>

#include <algorithm>
#include <climits>

#include "l7/gateway/compress_codecs.h"

namespace ringlb::l7::compress {
namespace {

// zlib's defaults: level 6, a 32 KiB window, memLevel 8. deflate holds
// (1 << (windowBits + 2)) + (1 << (memLevel + 9)) = 256 KiB plus ~6 KiB of
// state; a smaller window costs 2-5 % of ratio on HTML for 64 KiB saved,
// which gzip (the fallback coding) does not need. A body known to be small
// gets a window that just fits it and a memLevel lowered to match (as NGINX
// does): a 2 KiB body needs ~38 KiB, not 262.
constexpr int kGzipLevel = 6;
constexpr int kGzipWindowBits = 15;
constexpr int kGzipWrapper = 16;  // added to windowBits: gzip header and trailer
constexpr int kMemLevel = 8;
// deflate buffers up to 1 << (memLevel + 6) symbols (16 Ki) before it writes
// a block; each costs at most 48 bits coded (a 15-bit length code and 5 extra
// bits, a 15-bit distance code and 13 extra), plus the block's trees.
constexpr size_t kGzipHeldBack = 6 * (size_t{1} << (kMemLevel + 6)) + 1024;
// avail_in is an unsigned int: larger inputs go in slices.
constexpr size_t kMaxSlice = size_t{1} << 30;

class GzipEncoder final : public Encoder {
 public:
  GzipEncoder() : Encoder(config::ContentCoding::Gzip) {}
  ~GzipEncoder() override {
    if (ready_) deflateEnd(&z_);
  }

  bool init(const EncoderOptions& options) {
    int windowBits = kGzipWindowBits;
    int memLevel = kMemLevel;
    if (options.sizeHint) {
      // deflate looks ahead MIN_LOOKAHEAD (262) bytes; zlib's gzip needs 9+ bits.
      uint64_t fit = std::min<uint64_t>(*options.sizeHint, uint64_t{1} << 32) + 262;
      windowBits = windowBitsFor(fit, 9, kGzipWindowBits);
      memLevel = std::max(1, kMemLevel - (kGzipWindowBits - windowBits));
    }
    z_.zalloc = [](voidpf opaque, uInt items, uInt size) -> voidpf {
      if (size != 0 && items > SIZE_MAX / size) return Z_NULL;
      return static_cast<CountingAllocator*>(opaque)->allocate(size_t{items} * size);
    };
    z_.zfree = [](voidpf opaque, voidpf block) {
      static_cast<CountingAllocator*>(opaque)->release(block);
    };
    z_.opaque = &alloc_;
    int rc = deflateInit2(&z_, kGzipLevel, Z_DEFLATED, windowBits + kGzipWrapper, memLevel,
                          Z_DEFAULT_STRATEGY);
    ready_ = rc == Z_OK;
    return ready_;
  }

  size_t memoryBytes() const override { return sizeof(*this) + alloc_.bytes(); }

 protected:
  bool doWrite(std::span<const uint8_t> in, const Sink& out) override {
    while (!in.empty()) {
      size_t slice = std::min(in.size(), kMaxSlice);
      if (!deflateAll(in.first(slice), Z_NO_FLUSH, out)) return false;
      in = in.subspan(slice);
    }
    return true;
  }
  bool doFlush(const Sink& out) override { return deflateAll({}, Z_SYNC_FLUSH, out); }
  bool doFinish(const Sink& out) override { return deflateAll({}, Z_FINISH, out); }
  size_t heldBackBound() const override { return kGzipHeldBack; }

 private:
  // Runs deflate over `in` until it is consumed and, for a flush or finish,
  // until deflate has nothing more to say.
  bool deflateAll(std::span<const uint8_t> in, int mode, const Sink& out) {
    z_.next_in = const_cast<Bytef*>(in.data());  // zlib does not write through it
    z_.avail_in = static_cast<uInt>(in.size());
    StallGuard guard;
    for (;;) {
      uint8_t piece[kPieceBytes];
      z_.next_out = piece;
      z_.avail_out = sizeof piece;
      uInt inBefore = z_.avail_in;
      int rc = deflate(&z_, mode);
      size_t produced = sizeof piece - z_.avail_out;
      emit(out, {piece, produced});
      if (rc == Z_STREAM_END) return true;
      // Z_BUF_ERROR is "no progress possible" (a flush with nothing new):
      // not fatal, the guard below stops a loop on it.
      if (rc != Z_OK && rc != Z_BUF_ERROR) return fail(zError(rc));
      // A full piece may mean more output is waiting.
      if (mode != Z_FINISH && z_.avail_in == 0 && z_.avail_out != 0) return true;
      if (guard.stuck(produced > 0 || z_.avail_in != inBefore)) {
        return fail("deflate made no progress");
      }
    }
  }

  z_stream z_{};
  CountingAllocator alloc_;
  bool ready_ = false;
};

}  // namespace

std::unique_ptr<Encoder> makeGzipEncoder(const EncoderOptions& options) {
  auto encoder = std::make_unique<GzipEncoder>();
  if (!encoder->init(options)) return nullptr;
  return encoder;
}

}  // namespace ringlb::l7::compress
