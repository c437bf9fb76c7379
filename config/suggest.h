// "Did you mean ...?" for misspelt keys and names. Pure; any thread.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace ringlb::config {

// Edit distance (insertions, deletions, substitutions, adjacent swaps).
size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a likely typo
// (distance <= 2, or <= a third of the word's length for long words).
std::optional<std::string_view> closestMatch(std::string_view word,
                                             const std::vector<std::string_view>& candidates);

}  // namespace ringlb::config
