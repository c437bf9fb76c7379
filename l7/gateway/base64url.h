// Strict base64 decoding for credentials (RFC 4648): base64url without
// padding for JWS parts (RFC 7515 section 2) and the standard alphabet with
// padding for Basic credentials (RFC 7617). Strict means one spelling per
// byte string: no whitespace, no stray '=', no impossible length and no
// non-zero bits after the last byte, so a token cannot be altered without
// changing its decoded bytes.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringlb::l7 {

// base64url without padding: refuses '=', characters outside [A-Za-z0-9-_],
// lengths with size % 4 == 1 and non-zero trailing bits. "" decodes to "".
std::optional<std::string> decodeBase64Url(std::string_view in);

// Standard alphabet ([A-Za-z0-9+/]) with mandatory padding: size % 4 == 0,
// at most two '=' and only at the end, zero trailing bits. "" decodes to "".
std::optional<std::string> decodeBase64(std::string_view in);

// base64url without padding (for signing test tokens and tools).
std::string encodeBase64Url(std::string_view in);

}  // namespace ringlb::l7
