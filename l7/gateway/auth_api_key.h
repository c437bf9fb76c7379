// Verification of an API key: its SHA-256 compared with every configured
// digest (CRYPTO_memcmp, no early exit), so the time taken does not depend
// on which digest, if any, matched, nor on how many bytes of one did.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <optional>
#include <string_view>

#include "config/model.h"

namespace ringlb::l7 {

// The name of the key that matches `key` ("" for a key listed without a
// name), or nullopt when none does. An empty `key` never matches.
std::optional<std::string_view> verifyApiKey(const config::AuthCredentials& credentials,
                                             std::string_view key);

}  // namespace ringlb::l7
