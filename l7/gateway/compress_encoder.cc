#include "l7/gateway/compress_encoder.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "l7/gateway/compress_codecs.h"

namespace ringlb::l7 {

void Sink::appendTo(void* ctx, std::span<const uint8_t> bytes) {
  static_cast<std::string*>(ctx)->append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

bool Encoder::usable() const { return state_ == State::Open; }

bool Encoder::write(std::span<const uint8_t> in, Sink out) {
  if (!usable()) return false;
  if (in.empty()) return true;
  bytesIn_ += in.size();
  pending_ = true;
  return doWrite(in, out);
}

bool Encoder::flush(Sink out) {
  if (!usable()) return false;
  if (!pending_) return true;  // a second flush would only add an empty block
  pending_ = false;
  return doFlush(out);
}

bool Encoder::finish(Sink out) {
  if (!usable()) return false;
  if (!doFinish(out)) return false;
  state_ = State::Finished;
  return true;
}

bool Encoder::fail(std::string_view why) {
  state_ = State::Failed;
  error_ = why;
  return false;
}

void Encoder::emit(const Sink& out, std::span<const uint8_t> bytes) {
  bytesOut_ += bytes.size();
  out.put(bytes);
}

std::unique_ptr<Encoder> makeEncoder(config::ContentCoding coding, const EncoderOptions& options) {
  switch (coding) {
    case config::ContentCoding::Gzip: return compress::makeGzipEncoder(options);
    case config::ContentCoding::Zstd: return compress::makeZstdEncoder(options);
    case config::ContentCoding::Brotli: return compress::makeBrotliEncoder(options);
  }
  return nullptr;
}

namespace compress {

// The size sits in a header as wide as malloc's alignment, so the block the
// library gets stays aligned.
constexpr size_t kHeader = alignof(std::max_align_t);

void* CountingAllocator::allocate(size_t bytes) {
  if (bytes > SIZE_MAX - kHeader) return nullptr;
  auto* raw = static_cast<unsigned char*>(std::malloc(bytes + kHeader));
  if (raw == nullptr) return nullptr;
  std::memcpy(raw, &bytes, sizeof bytes);
  bytes_ += bytes;
  return raw + kHeader;
}

void CountingAllocator::release(void* block) {
  if (block == nullptr) return;
  unsigned char* raw = static_cast<unsigned char*>(block) - kHeader;
  size_t bytes = 0;
  std::memcpy(&bytes, raw, sizeof bytes);
  bytes_ -= bytes;
  std::free(raw);
}

int windowBitsFor(uint64_t n, int lo, int hi) {
  int bits = lo;
  while (bits < hi && (uint64_t{1} << bits) < n) ++bits;
  return bits;
}

}  // namespace compress
}  // namespace ringlb::l7
