#include "config/size.h"

#include <array>
#include <charconv>

namespace ringlb::config {
namespace {

struct SizeUnit {
  std::string_view suffix;
  uint64_t bytes;
};

// Largest first, binary before decimal: formatSize() takes the first exact one.
constexpr std::array<SizeUnit, 7> kSizeUnits = {{{"GiB", uint64_t{1} << 30},
                                                 {"GB", 1'000'000'000},
                                                 {"MiB", uint64_t{1} << 20},
                                                 {"MB", 1'000'000},
                                                 {"KiB", 1024},
                                                 {"KB", 1000},
                                                 {"B", 1}}};

constexpr std::string_view kUnitsHelp = "B, KB, MB, GB, KiB, MiB or GiB";

}  // namespace

std::optional<uint64_t> parseSize(std::string_view text, std::string* error) {
  if (!text.empty() && text.front() == '-') {
    *error = "a size cannot be negative";
    return std::nullopt;
  }
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (end == text.data()) {
    *error = "expected a number of bytes or a number with a unit, like \"512KiB\" or \"100MiB\"";
    return std::nullopt;
  }
  std::string_view suffix(end, static_cast<size_t>(text.data() + text.size() - end));
  uint64_t scale = 1;
  if (!suffix.empty()) {
    const SizeUnit* unit = nullptr;
    for (const SizeUnit& u : kSizeUnits) {
      if (u.suffix == suffix) unit = &u;
    }
    if (unit == nullptr) {
      *error = "unknown size unit; use " + std::string(kUnitsHelp);
      return std::nullopt;
    }
    scale = unit->bytes;
  }
  if (ec == std::errc::result_out_of_range || number > kMaxSize / scale) {
    *error = "size is larger than the maximum of 1TiB";
    return std::nullopt;
  }
  return number * scale;
}

std::string formatSize(uint64_t bytes) {
  for (const SizeUnit& u : kSizeUnits) {
    if (u.bytes > 1 && bytes != 0 && bytes % u.bytes == 0) {
      return std::to_string(bytes / u.bytes) + std::string(u.suffix);
    }
  }
  return std::to_string(bytes);
}

}  // namespace ringlb::config
