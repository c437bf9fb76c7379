// Parsing of an Authorization field value (RFC 9110 section 11.6.2):
//   credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
// Basic (RFC 7617) is decoded into user and password; Bearer (RFC 6750)
// yields its token68. Other schemes are reported as such, unparsed.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringlb::l7 {

enum class AuthScheme : uint8_t { Basic, Bearer, Other };

// Why a value was refused.
enum class AuthHeaderError : uint8_t {
  None,
  BadScheme,      // empty or not a token
  NoCredentials,  // "Basic" or "Bearer" with nothing after it
  BadToken68,     // Basic/Bearer credentials that are not token68
  BadBase64,      // Basic: not strict padded base64
  NoColon,        // Basic: decoded text without the ':' between user and password
  ControlChar,    // Basic: a control character (CTL) in user or password
};

struct Authorization {
  AuthScheme scheme = AuthScheme::Other;
  AuthHeaderError error = AuthHeaderError::None;
  std::string_view schemeName;   // as received
  std::string_view credentials;  // after the scheme: the token68 (Bearer), base64 (Basic)
  std::string user;              // Basic: up to the first ':'
  std::string password;          // Basic: after it (may contain ':')
};

// `value` as the HTTP parser hands it (surrounding whitespace removed). The
// scheme name is matched case-insensitively. Views point into `value`.
Authorization parseAuthorization(std::string_view value);

}  // namespace ringlb::l7
