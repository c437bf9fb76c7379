#include "l7/cache/byte_range.h"

#include <limits>
#include <optional>

#include "common/ascii.h"
#include "l7/gateway/compress_fields.h"

namespace ringlb::l7::cache {
namespace {

// One range-spec as written: "A-B", "A-" (last absent) or "-N" (first absent).
struct Spec {
  std::optional<uint64_t> first;
  std::optional<uint64_t> last;
};

// 1*DIGIT without overflow; nullopt otherwise.
std::optional<uint64_t> parseOffset(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    auto digit = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<Spec> parseSpec(std::string_view text) {
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  std::string_view a = text.substr(0, dash);
  std::string_view b = text.substr(dash + 1);
  Spec spec;
  if (!a.empty() && !(spec.first = parseOffset(a))) return std::nullopt;
  if (!b.empty() && !(spec.last = parseOffset(b))) return std::nullopt;
  if (!spec.first && !spec.last) return std::nullopt;                            // "-"
  if (spec.first && spec.last && *spec.first > *spec.last) return std::nullopt;  // invalid
  return spec;
}

// The single range-spec of a "bytes=" Range value; nullopt when there are
// several, another unit, or a syntax error (all mean: ignore the field).
std::optional<Spec> singleSpec(std::string_view value) {
  size_t eq = value.find('=');
  if (eq == std::string_view::npos || !equalsIgnoreCase(value.substr(0, eq), "bytes")) {
    return std::nullopt;
  }
  std::optional<Spec> spec;
  int count = 0;
  bool valid = forEachElement(value.substr(eq + 1), [&](std::string_view element) {
    spec = parseSpec(element);
    return spec && ++count == 1;
  });
  if (!valid || count != 1) return std::nullopt;
  return spec;
}

RangeAnswer partial(uint64_t first, uint64_t last, uint64_t size) {
  RangeAnswer answer{RangeAnswer::Partial, first, last, {}};
  answer.contentRange =
      "bytes " + std::to_string(first) + "-" + std::to_string(last) + "/" + std::to_string(size);
  return answer;
}

RangeAnswer unsatisfiable(uint64_t size) {
  return RangeAnswer{RangeAnswer::Unsatisfiable, 0, 0, "bytes */" + std::to_string(size)};
}

}  // namespace

RangeAnswer rangeAnswer(const http::MessageHead& request, uint64_t size) {
  if (request.method != http::Method::Get) return {};
  const http::HeaderView* range = nullptr;
  for (const http::HeaderView& f : request.headers) {
    if (!equalsIgnoreCase(f.name, "range")) continue;
    if (range) return {};  // two Range fields: several ranges
    range = &f;
  }
  if (!range) return {};
  std::optional<Spec> spec = singleSpec(range->value);
  if (!spec) return {};
  if (!spec->first) {  // "-N": the last N bytes
    uint64_t n = *spec->last;
    if (n == 0) return unsatisfiable(size);
    // RFC 9110 section 14.1.2 counts "-N" satisfiable on an empty body, but
    // no Content-Range can name zero bytes: the (empty) whole answers, as
    // section 14.2 allows for a representation without content.
    if (size == 0) return {};
    return partial(size - std::min(n, size), size - 1, size);
  }
  if (*spec->first >= size) return unsatisfiable(size);
  uint64_t last = spec->last ? std::min(*spec->last, size - 1) : size - 1;
  return partial(*spec->first, last, size);
}

}  // namespace ringlb::l7::cache
