#include "l7/gateway/base64url.h"

#include <array>
#include <cstdint>

namespace ringlb::l7 {
namespace {

constexpr uint8_t kInvalid = 0xff;
constexpr std::string_view kUrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr std::string_view kStdAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<uint8_t, 256> reverse(std::string_view alphabet) {
  std::array<uint8_t, 256> table{};
  table.fill(kInvalid);
  for (size_t i = 0; i < alphabet.size(); ++i) {
    table[static_cast<uint8_t>(alphabet[i])] = static_cast<uint8_t>(i);
  }
  return table;
}

constexpr auto kUrlTable = reverse(kUrlAlphabet);
constexpr auto kStdTable = reverse(kStdAlphabet);

// Decodes unpadded base64 in the alphabet of `table`; the strict rules
// (length, trailing bits) apply to the unpadded form of both variants.
std::optional<std::string> decodeUnpadded(std::string_view in,
                                          const std::array<uint8_t, 256>& table) {
  if (in.size() % 4 == 1) return std::nullopt;  // 6 bits cannot end a byte
  std::string out;
  out.reserve(in.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    uint8_t v = table[static_cast<uint8_t>(c)];
    if (v == kInvalid) return std::nullopt;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // Leftover bits (2 or 4) must be zero: otherwise two spellings decode alike.
  if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

}  // namespace

std::optional<std::string> decodeBase64Url(std::string_view in) {
  return decodeUnpadded(in, kUrlTable);
}

std::optional<std::string> decodeBase64(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  while (pad < 2 && pad < in.size() && in[in.size() - 1 - pad] == '=') ++pad;
  // Any '=' left (a third one, or one in the middle) is refused by the table.
  return decodeUnpadded(in.substr(0, in.size() - pad), kStdTable);
}

std::string encodeBase64Url(std::string_view in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    acc = (acc << 8) | static_cast<uint8_t>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kUrlAlphabet[(acc >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kUrlAlphabet[(acc << (6 - bits)) & 0x3f]);
  return out;
}

}  // namespace ringlb::l7
