// H2RequestHead: an HTTP/2 request's header list turned into the
// MessageHead the exchange forwards as HTTP/1.1 (RFC 9113 section 8.3 and
// RFC 9110's mapping): :method and :path become the request line,
// :authority the Host, cookie crumbs are joined with "; " (section 8.2.3),
// and a body without content-length is sent chunked (a synthesised
// Transfer-Encoding field). nghttp2 has already checked what RFC 9113 asks
// of the fields (pseudo-headers, lower-case names, connection-specific
// fields, te, content-length against the DATA); this adds the proxy's own
// limit: the decoded list is bounded like an HTTP/1.1 head (max_header_size
// bytes, max_header_fields fields).
//
// Thread rules: a plain value owned by one H2Stream.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/http1/http1_parser.h"

namespace ringlb::l7 {

// A field that must not travel in trailers (RFC 9110 section 6.5.1 and
// RFC 9113 section 8.2.2): framing, routing, connection-specific fields.
bool isForbiddenTrailer(std::string_view name);

// Raw trailer field lines (CRLF- or LF-terminated, as the chunked decoder
// keeps them) as HTTP/2 may carry them: "name: value\r\n" lines with
// lower-cased names and trimmed values, forbidden fields dropped.
std::string h2TrailerLines(std::string_view raw);

class H2RequestHead {
 public:
  H2RequestHead(uint32_t maxHeaderSize, uint32_t maxFields)
      : maxHeaderSize_(maxHeaderSize), maxFields_(maxFields) {
    arena_.reserve(512);
    fields_.reserve(16);
  }
  H2RequestHead(const H2RequestHead&) = delete;
  H2RequestHead& operator=(const H2RequestHead&) = delete;

  // One decoded field; ignored once the list is too large.
  void add(std::string_view name, std::string_view value);
  // The decoded list went past max_header_size or max_header_fields (431).
  bool tooLarge() const { return tooLarge_; }
  // Builds head() once the block ended; `endStream`: no body follows.
  // False for a request the proxy cannot forward (no authority, CONNECT).
  bool finish(bool endStream);
  const http::MessageHead& head() const { return head_; }
  // The upstream body is chunked by the proxy (no content-length was given).
  bool chunked() const { return head_.framing == http::BodyFraming::Chunked; }
  // Bytes of the decoded list (names and values, 32 each as HPACK counts).
  uint64_t size() const { return size_; }
  // max_header_size: the bound of the list (and of the trailers).
  uint32_t maxSize() const { return maxHeaderSize_; }

 private:
  struct Field {
    uint32_t name;  // offsets into arena_
    uint32_t nameLength;
    uint32_t value;
    uint32_t valueLength;
  };
  std::string_view at(uint32_t offset, uint32_t length) const {
    return std::string_view(arena_).substr(offset, length);
  }

  uint32_t maxHeaderSize_;
  uint32_t maxFields_;
  std::string arena_;  // every name and value, one after the other
  std::vector<Field> fields_;
  std::vector<http::HeaderView> views_;
  http::MessageHead head_;
  uint64_t size_ = 0;
  bool tooLarge_ = false;
};

}  // namespace ringlb::l7
