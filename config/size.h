// Sizes as written in the config: an integer number of bytes, or a string
// with a unit: "512KiB", "100MiB", "1GiB" (powers of 1024), "10KB", "10MB",
// "1GB" (powers of 1000), "4096B". Pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringlb::config {

// The largest size the config accepts (1 TiB): sums of sizes cannot overflow.
inline constexpr uint64_t kMaxSize = uint64_t{1} << 40;

// "<digits><unit>", no fraction, no spaces. Returns nullopt with `error` set.
std::optional<uint64_t> parseSize(std::string_view text, std::string* error);

// The shortest exact spelling: 1048576 -> "1MiB", 1000 -> "1KB", 1023 -> "1023".
std::string formatSize(uint64_t bytes);

}  // namespace ringlb::config
