// Responses the proxy writes itself (400, 404, 408, 413, 414, 431, 502, 503,
// 504, ...): a short text body that names the error, and Connection: close
// because the session closes the client connection after an error.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"
#include "common/http1/http_types.h"

namespace ringlb::l7 {

// One line that says what went wrong, ending in "\n".
std::string_view errorBody(uint16_t status);

// A complete HTTP/1.1 response for `status` (head and body), ready to send.
std::string errorResponse(uint16_t status);

// What a request head the parser refused means (the status comes from the
// error table: 400, 414, 431, 501, 505).
ErrorCode requestErrorCode(http::ParseError e);

}  // namespace ringlb::l7
