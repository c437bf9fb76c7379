// Internal to the compression encoders (compress_*.cc): the per-coding
// factories behind makeEncoder() and the allocation counter that lets zlib
// and brotli report the memory a stream holds.
//
// Thread rules: as Encoder: one stream, one worker thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "l7/gateway/compress_encoder.h"

namespace ringlb::l7::compress {

std::unique_ptr<Encoder> makeGzipEncoder(const EncoderOptions& options);
std::unique_ptr<Encoder> makeZstdEncoder(const EncoderOptions& options);
std::unique_ptr<Encoder> makeBrotliEncoder(const EncoderOptions& options);

// Allocates through malloc and counts the bytes live, for the libraries'
// allocation hooks (zlib's zalloc/zfree, brotli's alloc_func/free_func):
// their free hooks do not pass the size, so it is kept before the block.
class CountingAllocator {
 public:
  void* allocate(size_t bytes);  // null when out of memory
  void release(void* block);     // null is fine
  size_t bytes() const { return bytes_; }

 private:
  size_t bytes_ = 0;
};

// Counts turns of an encoder loop in which the library neither took input
// nor gave output: a few in a row may be internal steps, more mean a stuck
// stream, which fails instead of spinning.
class StallGuard {
 public:
  bool stuck(bool moved) {
    stalls_ = moved ? 0 : stalls_ + 1;
    return stalls_ > kMaxStalls;
  }

 private:
  static constexpr int kMaxStalls = 4;
  int stalls_ = 0;
};

// ceil(log2(n)) for n >= 1, clamped to [lo, hi]: a window that fits n bytes.
int windowBitsFor(uint64_t n, int lo, int hi);

}  // namespace ringlb::l7::compress
