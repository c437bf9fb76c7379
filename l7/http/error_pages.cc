#include "l7/http/error_pages.h"

#include <fmt/format.h>

#include "common/http1/http_types.h"

namespace ringlb::l7 {

std::string_view errorBody(uint16_t status) {
  switch (status) {
    case 400: return "400 Bad Request: the request is malformed\n";
    case 404: return "404 Not Found: no route matches this request\n";
    case 405: return "405 Method Not Allowed: this listener does not tunnel CONNECT\n";
    case 408: return "408 Request Timeout: the request head did not arrive in time\n";
    case 413: return "413 Content Too Large: the request body is too large\n";
    case 414: return "414 URI Too Long: the request line is too long\n";
    case 431: return "431 Request Header Fields Too Large: the request head is too large\n";
    case 501: return "501 Not Implemented: unsupported transfer coding\n";
    case 502: return "502 Bad Gateway: the backend failed or sent an invalid response\n";
    case 503: return "503 Service Unavailable: no backend is available\n";
    case 504: return "504 Gateway Timeout: the backend did not answer in time\n";
    case 505: return "505 HTTP Version Not Supported\n";
    default: return "error\n";
  }
}

std::string errorResponse(uint16_t status) {
  std::string_view body = errorBody(status);
  std::string_view reason = http::reasonPhrase(status);
  if (reason.empty())
    reason = status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed" : "Error";
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n"
      "Connection: close\r\n\r\n{}",
      status, reason, body.size(), body);
}

ErrorCode requestErrorCode(http::ParseError e) {
  switch (e) {
    case http::ParseError::RequestLineTooLong: return ErrorCode::UriTooLong;
    case http::ParseError::HeadersTooLarge:
    case http::ParseError::TooManyHeaders: return ErrorCode::HeadTooLarge;
    case http::ParseError::UnknownTransferCoding: return ErrorCode::NotImplemented;
    case http::ParseError::UnsupportedVersion: return ErrorCode::VersionNotSupported;
    default: return ErrorCode::BadRequest;
  }
}

}  // namespace ringlb::l7
