// The rewrite phase (docs/gateway.md): a route's `rewrite_prefix` replaces
// the `path_prefix` it matched in the target sent upstream.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <string>
#include <string_view>

namespace ringlb::l7 {

// `target` (starting with `prefix`) with `prefix` replaced by
// `replacement`; one "/" where they join ("/" + "/users" is "/users"), and
// "/" for what would be empty or start with "?".
std::string rewriteTarget(std::string_view target, std::string_view prefix,
                          std::string_view replacement);

}  // namespace ringlb::l7
