// Streaming response compression (docs/gateway.md, phase 8): one Encoder per
// compressed response, fed the body as it arrives from the backend, never
// holding the whole body.
//
//   auto enc = makeEncoder(config::ContentCoding::Gzip, {.sizeHint = length});
//   enc->write(piece, out)  ... as body bytes arrive (may output nothing)
//   enc->flush(out)         when the backend pauses: out goes what was held
//   enc->finish(out)        at the end of the body: the stream's trailer
//
// Defaults, chosen for on-the-fly compression of text with thousands of
// concurrent streams. A stream holds its memory from its first write to its
// destruction; memoryBytes() measures it (figures after 5 MiB of text, and
// for a 2 KiB body announced by sizeHint):
//
//   coding  level       window           held per stream     2 KiB body
//   gzip    6 (zlib's)  32 KiB (15 bits)  262 KiB (memLevel 8)   38 KiB
//   zstd    3           256 KiB (18)      1.4 MiB                62 KiB
//   br      quality 4   256 KiB (18)      2.1 MiB               550 KiB
//
// A known body size (sizeHint, from Content-Length) shrinks gzip's and
// zstd's window and tables to fit the body; brotli's ring buffer grows with
// the input anyway and its 512 KiB hash table is fixed at quality 4.
//
// Bounded output: one call appends at most maxOutput(in.size()) bytes, that
// is the input plus what the encoder held back before (a constant per coding)
// plus under 1 % of framing: a caller that feeds bounded
// pieces needs bounded buffers.
//
// Thread rules: an Encoder belongs to one worker thread (one stream).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "config/model.h"

namespace ringlb::l7 {

// A callable taking output pieces.
template <typename Fn>
concept ByteCallback = std::invocable<Fn&, std::span<const uint8_t>>;

// Where an encoder's output goes: appended to a std::string, or handed to a
// callable in pieces of at most Encoder::kPieceBytes (each view valid only
// during its call; the callable must not call back into the encoder). Refers
// to its target: keep that alive while the sink is used.
class Sink {
 public:
  Sink(std::string& out)  // NOLINT(google-explicit-constructor): the common case reads well
      : ctx_(&out), put_(&appendTo) {}

  template <ByteCallback Fn>
  Sink(Fn& fn)  // NOLINT(google-explicit-constructor)
      : ctx_(&fn),
        put_([](void* ctx, std::span<const uint8_t> bytes) { (*static_cast<Fn*>(ctx))(bytes); }) {}

  void put(std::span<const uint8_t> bytes) const {
    if (!bytes.empty()) put_(ctx_, bytes);
  }

 private:
  static void appendTo(void* ctx, std::span<const uint8_t> bytes);

  void* ctx_;
  void (*put_)(void*, std::span<const uint8_t>);
};

struct EncoderOptions {
  // The body's size when known (Content-Length): windows and tables are
  // sized to it. A wrong hint costs ratio, never correctness.
  std::optional<uint64_t> sizeHint;
};

class Encoder {
 public:
  // Output is produced in pieces of at most this many bytes.
  static constexpr size_t kPieceBytes = 16 * 1024;

  virtual ~Encoder() = default;
  Encoder(const Encoder&) = delete;
  Encoder& operator=(const Encoder&) = delete;

  // Compresses `in`. The coder keeps a window, so a call may output nothing.
  // False when the library failed (the stream is unusable: see error()) or
  // after finish().
  [[nodiscard]] bool write(std::span<const uint8_t> in, Sink out);
  [[nodiscard]] bool write(std::string_view in, Sink out) {
    return write(std::span(reinterpret_cast<const uint8_t*>(in.data()), in.size()), out);
  }
  // Outputs everything written so far in a form the client can decode now
  // (Z_SYNC_FLUSH, ZSTD_e_flush, BROTLI_OPERATION_FLUSH), for a backend that
  // pauses. Costs a few bytes; nothing when nothing was written since the
  // last flush.
  [[nodiscard]] bool flush(Sink out);
  // Ends the stream: outputs the rest and the coding's trailer. Further
  // calls fail.
  [[nodiscard]] bool finish(Sink out);

  // At most this many bytes come out of one write(in.size() == inBytes),
  // flush() (inBytes 0) or finish() (inBytes 0).
  size_t maxOutput(size_t inBytes) const { return inBytes + inBytes / 128 + heldBackBound(); }

  config::ContentCoding coding() const { return coding_; }
  bool finished() const { return state_ == State::Finished; }
  bool failed() const { return state_ == State::Failed; }
  std::string_view error() const { return error_; }  // empty unless failed()
  uint64_t bytesIn() const { return bytesIn_; }
  uint64_t bytesOut() const { return bytesOut_; }
  // Bytes this stream holds now: the encoder and its library state.
  virtual size_t memoryBytes() const = 0;

 protected:
  explicit Encoder(config::ContentCoding coding) : coding_(coding) {}

  // The coding's work; each returns false after calling fail().
  virtual bool doWrite(std::span<const uint8_t> in, const Sink& out) = 0;
  virtual bool doFlush(const Sink& out) = 0;
  virtual bool doFinish(const Sink& out) = 0;
  // The most output the coder can hold back between calls.
  virtual size_t heldBackBound() const = 0;

  bool fail(std::string_view why);
  // Passes a piece on to `out`, counting it.
  void emit(const Sink& out, std::span<const uint8_t> bytes);

 private:
  enum class State : uint8_t { Open, Finished, Failed };
  bool usable() const;

  config::ContentCoding coding_;
  State state_ = State::Open;
  bool pending_ = false;  // input written since the last flush
  std::string error_;
  uint64_t bytesIn_ = 0;
  uint64_t bytesOut_ = 0;
};

// A new stream for `coding`; null when the library could not set one up (out
// of memory): send the response uncompressed.
std::unique_ptr<Encoder> makeEncoder(config::ContentCoding coding,
                                     const EncoderOptions& options = {});

}  // namespace ringlb::l7
