// The client's Accept-Encoding (RFC 9110 section 12.5.3) and the content
// coding the compression phase answers with (docs/gateway.md, phase 8).
//
// Only the codings the gateway can produce (br, gzip, zstd) and `identity`
// and `*` are kept while parsing: a field of any length costs no memory.
//
// Thread rules: value types and pure functions; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "common/http1/http_types.h"
#include "config/model.h"

namespace ringlb::l7 {

// A q-value in thousandths: "0.5" is 500, "1" is 1000 (RFC 9110 section
// 12.4.2 allows three decimals).
using QValue = uint16_t;
inline constexpr QValue kQMax = 1000;

// "q=" value text to thousandths; nullopt unless it is "0" or "1" with up to
// three decimals and at most 1 ("1.5", "2", "0.0001", "" are refused).
std::optional<QValue> parseQValue(std::string_view text);

// What a client said about the codings the gateway can produce.
class AcceptEncoding {
 public:
  // Adds one Accept-Encoding field value: several fields are one list
  // (RFC 9110 section 5.3). Elements are `coding [OWS ";" OWS "q=" qvalue]`;
  // tokens and "q" are case-insensitive; a malformed element (bad token, bad
  // or repeated q, another parameter) is ignored as if absent. A coding
  // listed twice keeps its lowest q: when in doubt, do not compress.
  void add(std::string_view fieldValue);

  // At least one Accept-Encoding field was seen. An empty one means
  // "identity only" (RFC 9110 section 12.5.3).
  bool present() const { return present_; }

  // The client's q for `coding`: its own element ("x-gzip" counts as
  // "gzip"), else the `*` element's, else nullopt (not acceptable). 0 also
  // means not acceptable.
  std::optional<QValue> qvalue(config::ContentCoding coding) const;

  // The q of an explicit "identity" element, nullopt when not listed.
  std::optional<QValue> identity() const { return q_[kIdentity]; }

 private:
  enum Slot : uint8_t { kGzip, kBrotli, kZstd, kIdentity, kAny, kSlots };
  void set(Slot slot, QValue q);

  std::array<std::optional<QValue>, kSlots> q_{};
  bool present_ = false;
};

// Every Accept-Encoding field of a request, combined.
AcceptEncoding parseAcceptEncoding(std::span<const http::HeaderView> requestFields);

// The coding to answer with: the highest q among `preference` (the route's
// `algorithms`), ties going to the earlier one in `preference`. nullopt when
// the client sent no Accept-Encoding (RFC 9110 would allow any coding; old
// clients and tools sending none get identity), accepts none of them, or
// explicitly prefers identity (identity's q above the best coding's).
std::optional<config::ContentCoding> chooseCoding(
    const AcceptEncoding& accept, std::span<const config::ContentCoding> preference);

// The token written in Content-Encoding: "zstd", "br", "gzip".
std::string_view codingToken(config::ContentCoding coding);

}  // namespace ringlb::l7
