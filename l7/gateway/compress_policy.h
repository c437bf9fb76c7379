// The compression decision (docs/gateway.md, phase 8): whether a response
// is compressed, with which coding, and the header edits that go with it.
//
// Never compressed: HEAD, a status other than 200..599 or one of 204, 206,
// 304, a response without a body, a range (Content-Range), an already
// encoded body (Content-Encoding other than identity, a transfer coding
// other than chunked), Cache-Control: no-transform on either side, a
// missing or unlisted Content-Type, a declared length under min_size (or 0).
//
// A response that passes every rule about itself varies by Accept-Encoding
// even when this client gets it uncompressed (HEAD, no acceptable coding),
// so it always gets `Vary: Accept-Encoding`, as NGINX's gzip_vary does.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/http1/http1_parser.h"
#include "config/model.h"

namespace ringlb::l7 {

// What the decision reads: the request's method and fields, the response's
// status, fields and declared length. Views: keep them alive during the call.
struct CompressInput {
  http::Method method = http::Method::Get;
  std::span<const http::HeaderView> requestFields;
  uint16_t status = 200;
  std::span<const http::HeaderView> responseFields;
  bool hasBody = true;  // false: no body at all (tunnel, framing None); ignored for HEAD
  std::optional<uint64_t> contentLength;  // nullopt: unknown (chunked, until close)
};

// Why a response goes out uncompressed (None: it is compressed).
enum class CompressSkip : uint8_t {
  None,
  Status,         // not 200..599, or 204, 206, 304
  NoBody,         // a response that has no body
  Range,          // Content-Range
  Encoded,        // Content-Encoding other than identity
  TransferCoded,  // Transfer-Encoding other than chunked
  NoTransform,    // Cache-Control: no-transform (request or response)
  NoContentType,  // no (valid) Content-Type
  Type,           // the media type is not in `types`
  TooSmall,       // Content-Length under min_size, or 0
  Head,           // HEAD: eligible, but there is no body to compress
  NotAccepted,    // eligible, but the client accepts none of the route's codings
};

// A short snake_case name for logs and metrics ("not_accepted").
std::string_view skipName(CompressSkip skip);

struct CompressDecision {
  std::optional<config::ContentCoding> coding;  // set: compress with it
  CompressSkip skip = CompressSkip::None;

  // Header edits; unset or false leaves the field as received.
  // Content-Length goes: the compressed length is not known up front. The
  // body's framing is the caller's: chunked to an HTTP/1.1 client, close
  // after the body for HTTP/1.0, DATA frames until END_STREAM on HTTP/2.
  bool removeContentLength = false;
  std::string_view contentEncoding;  // non-empty: replaces every Content-Encoding
  std::optional<std::string> vary;   // replaces every Vary field with this one
  // Replaces the ETag: a strong one is weakened ("W/" prefix, as NGINX does:
  // the compressed bytes differ, the representation is the same); empty
  // means remove it (a malformed ETag cannot be weakened).
  std::optional<std::string> etag;

  bool compress() const { return coding.has_value(); }
  // An HTTP/1.1 client gets the body chunked (the caller does the framing).
  bool chunked() const { return compress(); }
};

// Decides for one response on a route with `compress`.
CompressDecision decideCompression(const config::CompressConfig& config, const CompressInput& in);

// The same from parsed HTTP/1.x heads (`response` parsed with the request's
// method set, so a HEAD response has framing None).
CompressDecision decideCompression(const config::CompressConfig& config,
                                   const http::MessageHead& request,
                                   const http::MessageHead& response);

// `fields` with the decision's edits applied, into `out` (cleared first): the
// edited fields replace the first of their name, later ones are dropped, a
// missing Vary or Content-Encoding is appended. Views into `fields` and
// `decision`: keep both alive while `out` is used.
void applyCompressEdits(std::span<const http::HeaderView> fields, const CompressDecision& decision,
                        std::vector<http::HeaderView>& out);

}  // namespace ringlb::l7
