// Plain HTTP/1.x vocabulary shared by the parser, the session and the router:
// methods, versions, status codes, header views and parse error codes.
//
// Value types only; any thread may use them.
#pragma once

#include <cstdint>
#include <string_view>

namespace ringlb::http {

enum class Method : uint8_t {
  Other,  // a valid token we do not know; see MessageHead::methodName
  Get,
  Head,
  Post,
  Put,
  Delete,
  Connect,
  Options,
  Trace,
  Patch,
};

enum class Version : uint8_t { Http10, Http11 };

// Status codes the proxy itself produces or the parser treats specially.
enum class Status : uint16_t {
  Continue = 100,
  SwitchingProtocols = 101,
  EarlyHints = 103,
  Ok = 200,
  Created = 201,
  Accepted = 202,
  NoContent = 204,
  PartialContent = 206,
  MovedPermanently = 301,
  Found = 302,
  SeeOther = 303,
  NotModified = 304,
  TemporaryRedirect = 307,
  PermanentRedirect = 308,
  BadRequest = 400,
  Unauthorized = 401,
  Forbidden = 403,
  NotFound = 404,
  MethodNotAllowed = 405,
  ProxyAuthenticationRequired = 407,
  RequestTimeout = 408,
  ContentTooLarge = 413,
  UriTooLong = 414,
  ExpectationFailed = 417,
  TooManyRequests = 429,
  HeaderFieldsTooLarge = 431,
  InternalServerError = 500,
  NotImplemented = 501,
  BadGateway = 502,
  ServiceUnavailable = 503,
  GatewayTimeout = 504,
  VersionNotSupported = 505,
};

// One field line of a parsed head. Both views point into the parser's head
// buffer: valid until the parser is reset or fed the next message.
struct HeaderView {
  std::string_view name;   // as received (case preserved)
  std::string_view value;  // leading and trailing OWS removed
};

// How the body of a message is delimited (RFC 9112 section 6.3).
enum class BodyFraming : uint8_t {
  None,           // no body at all
  ContentLength,  // MessageHead::contentLength bytes
  Chunked,        // chunked transfer coding: use ChunkedDecoder
  UntilClose,     // responses only: body ends when the server closes
  Tunnel,         // CONNECT 2xx or 101: raw bytes both ways from here on
};

enum class TargetForm : uint8_t { Origin, Absolute, Authority, Asterisk };

// Why a head or a chunked body was rejected. httpStatusFor() maps each to the
// status the proxy answers with.
enum class ParseError : uint8_t {
  None,
  // start line
  BadMethod,
  BadTarget,
  BadVersion,          // malformed HTTP-version
  UnsupportedVersion,  // well-formed but not HTTP/1.x (505)
  RequestLineTooLong,  // 414
  BadStatusLine,       // responses
  BadStatusCode,       // responses: not 3 digits in 100..599
  LeadingWhitespace,   // responses: empty line before the status line
  // line syntax
  BareCr,
  BareLf,
  ObsFold,
  SpaceBeforeColon,
  BadFieldName,
  BadFieldValue,
  HeadersTooLarge,  // 431
  TooManyHeaders,   // 431
  // framing and semantic fields
  BadContentLength,
  DuplicateContentLength,
  ContentLengthWithTransferEncoding,
  BadTransferEncoding,
  UnknownTransferCoding,  // 501
  TransferEncodingInHttp10,
  MissingHost,
  DuplicateHost,
  BadHost,
  BadConnectionHeader,
  // chunked body
  BadChunkSize,
  ChunkSizeOverflow,
  BadChunkExtension,
  ChunkLineTooLong,
  BadChunkFraming,
  TrailersTooLarge,
};

// Which side produced the message: a request comes from the client (errors
// become 4xx/5xx answers to it), a response from the upstream (always 502).
enum class MessageKind : uint8_t { Request, Response };

// The status the proxy answers with when a message of `kind` fails with `e`:
// an upstream that sends a broken response gets the client a 502.
constexpr uint16_t httpStatusFor(ParseError e, MessageKind kind) {
  if (e == ParseError::None) return 200;
  if (kind == MessageKind::Response) return 502;
  switch (e) {
    case ParseError::RequestLineTooLong: return 414;
    case ParseError::HeadersTooLarge:
    case ParseError::TooManyHeaders: return 431;
    case ParseError::UnknownTransferCoding: return 501;
    case ParseError::UnsupportedVersion: return 505;
    default: return 400;
  }
}

// Stable snake_case name for logs and counters ("bare_cr").
constexpr std::string_view errorName(ParseError e) {
  switch (e) {
    case ParseError::None: return "none";
    case ParseError::BadMethod: return "bad_method";
    case ParseError::BadTarget: return "bad_target";
    case ParseError::BadVersion: return "bad_version";
    case ParseError::UnsupportedVersion: return "unsupported_version";
    case ParseError::RequestLineTooLong: return "request_line_too_long";
    case ParseError::BadStatusLine: return "bad_status_line";
    case ParseError::BadStatusCode: return "bad_status_code";
    case ParseError::LeadingWhitespace: return "leading_whitespace";
    case ParseError::BareCr: return "bare_cr";
    case ParseError::BareLf: return "bare_lf";
    case ParseError::ObsFold: return "obs_fold";
    case ParseError::SpaceBeforeColon: return "space_before_colon";
    case ParseError::BadFieldName: return "bad_field_name";
    case ParseError::BadFieldValue: return "bad_field_value";
    case ParseError::HeadersTooLarge: return "headers_too_large";
    case ParseError::TooManyHeaders: return "too_many_headers";
    case ParseError::BadContentLength: return "bad_content_length";
    case ParseError::DuplicateContentLength: return "duplicate_content_length";
    case ParseError::ContentLengthWithTransferEncoding:
      return "content_length_with_transfer_encoding";
    case ParseError::BadTransferEncoding: return "bad_transfer_encoding";
    case ParseError::UnknownTransferCoding: return "unknown_transfer_coding";
    case ParseError::TransferEncodingInHttp10: return "transfer_encoding_in_http10";
    case ParseError::MissingHost: return "missing_host";
    case ParseError::DuplicateHost: return "duplicate_host";
    case ParseError::BadHost: return "bad_host";
    case ParseError::BadConnectionHeader: return "bad_connection_header";
    case ParseError::BadChunkSize: return "bad_chunk_size";
    case ParseError::ChunkSizeOverflow: return "chunk_size_overflow";
    case ParseError::BadChunkExtension: return "bad_chunk_extension";
    case ParseError::ChunkLineTooLong: return "chunk_line_too_long";
    case ParseError::BadChunkFraming: return "bad_chunk_framing";
    case ParseError::TrailersTooLarge: return "trailers_too_large";
  }
  return "unknown";
}

// Standard reason phrase ("Bad Request"), empty for codes not listed in Status.
constexpr std::string_view reasonPhrase(uint16_t status) {
  switch (static_cast<Status>(status)) {
    case Status::Continue: return "Continue";
    case Status::SwitchingProtocols: return "Switching Protocols";
    case Status::EarlyHints: return "Early Hints";
    case Status::Ok: return "OK";
    case Status::Created: return "Created";
    case Status::Accepted: return "Accepted";
    case Status::NoContent: return "No Content";
    case Status::PartialContent: return "Partial Content";
    case Status::MovedPermanently: return "Moved Permanently";
    case Status::Found: return "Found";
    case Status::SeeOther: return "See Other";
    case Status::NotModified: return "Not Modified";
    case Status::TemporaryRedirect: return "Temporary Redirect";
    case Status::PermanentRedirect: return "Permanent Redirect";
    case Status::BadRequest: return "Bad Request";
    case Status::Unauthorized: return "Unauthorized";
    case Status::Forbidden: return "Forbidden";
    case Status::NotFound: return "Not Found";
    case Status::MethodNotAllowed: return "Method Not Allowed";
    case Status::ProxyAuthenticationRequired: return "Proxy Authentication Required";
    case Status::RequestTimeout: return "Request Timeout";
    case Status::ContentTooLarge: return "Content Too Large";
    case Status::UriTooLong: return "URI Too Long";
    case Status::ExpectationFailed: return "Expectation Failed";
    case Status::TooManyRequests: return "Too Many Requests";
    case Status::HeaderFieldsTooLarge: return "Request Header Fields Too Large";
    case Status::InternalServerError: return "Internal Server Error";
    case Status::NotImplemented: return "Not Implemented";
    case Status::BadGateway: return "Bad Gateway";
    case Status::ServiceUnavailable: return "Service Unavailable";
    case Status::GatewayTimeout: return "Gateway Timeout";
    case Status::VersionNotSupported: return "HTTP Version Not Supported";
  }
  return {};
}

constexpr std::string_view methodName(Method m) {
  switch (m) {
    case Method::Other: return {};
    case Method::Get: return "GET";
    case Method::Head: return "HEAD";
    case Method::Post: return "POST";
    case Method::Put: return "PUT";
    case Method::Delete: return "DELETE";
    case Method::Connect: return "CONNECT";
    case Method::Options: return "OPTIONS";
    case Method::Trace: return "TRACE";
    case Method::Patch: return "PATCH";
  }
  return {};
}

}  // namespace ringlb::http
