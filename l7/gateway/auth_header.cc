#include "l7/gateway/auth_header.h"

#include <algorithm>

#include "common/ascii.h"
#include "l7/gateway/base64url.h"

namespace ringlb::l7 {
namespace {

// token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
bool isToken68(std::string_view s) {
  size_t end = s.find_last_not_of('=');
  if (end == std::string_view::npos) return false;  // empty or only '='
  return std::all_of(s.begin(), s.begin() + end + 1, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("-._~+/").find(c) != std::string_view::npos;
  });
}

bool hasControlChar(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

AuthHeaderError decodeBasic(Authorization& out) {
  auto decoded = decodeBase64(out.credentials);
  if (!decoded) return AuthHeaderError::BadBase64;
  // RFC 7617: the user-id cannot contain ':'; neither part may hold a CTL
  // (a NUL would also cut the password short inside crypt()).
  size_t colon = decoded->find(':');
  if (colon == std::string::npos) return AuthHeaderError::NoColon;
  if (hasControlChar(*decoded)) return AuthHeaderError::ControlChar;
  out.user = decoded->substr(0, colon);
  out.password = decoded->substr(colon + 1);
  return AuthHeaderError::None;
}

}  // namespace

Authorization parseAuthorization(std::string_view value) {
  Authorization out;
  size_t sp = value.find(' ');
  out.schemeName = value.substr(0, sp);
  if (out.schemeName.empty() ||
      !std::all_of(out.schemeName.begin(), out.schemeName.end(), isTchar)) {
    out.error = AuthHeaderError::BadScheme;
    return out;
  }
  if (sp != std::string_view::npos) {
    size_t start = value.find_first_not_of(' ', sp);
    out.credentials = start == std::string_view::npos ? "" : value.substr(start);
  }
  if (equalsIgnoreCase(out.schemeName, "basic")) {
    out.scheme = AuthScheme::Basic;
  } else if (equalsIgnoreCase(out.schemeName, "bearer")) {
    out.scheme = AuthScheme::Bearer;
  } else {
    return out;  // another scheme: its credentials are not ours to judge
  }
  if (out.credentials.empty()) {
    out.error = AuthHeaderError::NoCredentials;
  } else if (!isToken68(out.credentials)) {
    out.error = AuthHeaderError::BadToken68;
  } else if (out.scheme == AuthScheme::Basic) {
    out.error = decodeBasic(out);
  }
  return out;
}

}  // namespace ringlb::l7
