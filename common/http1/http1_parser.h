// Incremental, I/O-free HTTP/1.1 parsing (RFC 9110, RFC 9112), strict by
// design: anything that two implementations could frame differently is an
// error. See docs/http-parser.md for the rules and the status of each error.
//
//   Http1Parser     request or response head, fed in pieces of any size
//   ChunkedDecoder  chunked body: tells payload bytes from framing bytes
//   LengthBody      content-length body: a byte counter
//
// Each object belongs to one worker thread (one connection); none is
// thread-safe. After construction none allocates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "common/http1/http_types.h"

namespace ringlb::http {

struct ParserLimits {
  uint32_t maxRequestLine = 8 * 1024;    // start line without CRLF (414 beyond)
  uint32_t maxHeaderBytes = 32 * 1024;   // field lines incl. CRLFs and the empty line (431)
  uint32_t maxHeaderCount = 100;         // field lines (431)
  uint32_t maxConnectionTokens = 16;     // options named in Connection (400)
  uint32_t maxChunkLine = 4 * 1024;      // chunk-size line incl. extensions (400)
  uint32_t maxTrailerBytes = 16 * 1024;  // trailer section (400)
};

// The parsed start line and fields. Every view points into the parser that
// produced it and is valid until that parser's next reset().
struct MessageHead {
  Version version = Version::Http11;

  // Requests.
  Method method = Method::Other;
  std::string_view methodName;  // the token as received
  std::string_view target;      // request-target as received
  TargetForm targetForm = TargetForm::Origin;
  // Absolute-form: the authority of the target; authority-form: the target;
  // otherwise the Host field value (empty when HTTP/1.0 sent none).
  std::string_view authority;
  // Origin-form: the target; absolute-form: path and query, which may be
  // empty or start with "?" (prefix "/" when forwarding); authority- and
  // asterisk-form: empty.
  std::string_view path;
  std::string_view host;  // Host field value, empty if absent

  // Responses.
  uint16_t status = 0;
  std::string_view reason;

  std::span<const HeaderView> headers;

  BodyFraming framing = BodyFraming::None;
  uint64_t contentLength = 0;  // valid when framing == ContentLength

  bool keepAlive = false;            // connection may carry another message after this one
  bool connectionClose = false;      // Connection: close
  bool connectionKeepAlive = false;  // Connection: keep-alive
  bool connectionUpgrade = false;    // Connection: upgrade
  // Every option named in Connection (including close/keep-alive/upgrade):
  // field names the proxy must strip before forwarding.
  std::span<const std::string_view> connectionTokens;
  std::string_view upgrade;     // first Upgrade field value, empty if absent
  bool expectContinue = false;  // Expect: 100-continue on an HTTP/1.1 request
  bool expectOther = false;     // Expect with any other value (may answer 417)

  bool isInterim() const { return status >= 100 && status < 200; }
  // Upgrade asked for by the client: HTTP/1.1, Upgrade field, Connection: upgrade.
  bool wantsUpgrade() const {
    return version == Version::Http11 && connectionUpgrade && !upgrade.empty();
  }
  // First field with this name (ASCII case-insensitive), or null.
  const HeaderView* find(std::string_view name) const;
  // Number of fields with this name.
  size_t count(std::string_view name) const;
  // A field a proxy must not forward: the fixed hop-by-hop set
  // (Connection, Keep-Alive, Proxy-Connection, TE, Transfer-Encoding, Upgrade,
  // Trailer) or one named in Connection.
  bool isHopByHop(std::string_view name) const;
};

// The method a token names (Method::Other for one we do not know).
Method parseMethod(std::string_view token);

enum class ParseStatus : uint8_t { NeedMore, HeadComplete, Error };

struct ParseResult {
  ParseStatus status = ParseStatus::NeedMore;
  // Bytes of the input taken. On HeadComplete the next message byte (body or
  // pipelined request) is input[consumed]. Meaningless on Error.
  size_t consumed = 0;
  ParseError error = ParseError::None;
};

// Parses one message head at a time. Bytes of the head are copied into an
// owned buffer (reserved once), so the caller may release its buffers after
// each feed(). Worker thread only.
class Http1Parser {
 public:
  explicit Http1Parser(MessageKind kind, const ParserLimits& limits = {});
  Http1Parser(const Http1Parser&) = delete;
  Http1Parser& operator=(const Http1Parser&) = delete;

  // Forgets the current message; the next feed() starts a new head.
  // Invalidates every view of head().
  void reset();

  // Replaces the limits (per-listener configuration) and resets. Allocates
  // only when they differ from the current ones.
  void setLimits(const ParserLimits& limits);
  const ParserLimits& limits() const { return limits_; }

  // Responses only: the method of the request this response answers
  // (HEAD responses have no body, CONNECT 2xx opens a tunnel). Call after
  // reset(), before the first feed(). Defaults to GET.
  void setRequestMethod(Method m) { requestMethod_ = m; }

  // Consumes bytes of the head. After HeadComplete or Error further calls
  // return the same status and consume nothing until reset().
  ParseResult feed(std::string_view input);

  const MessageHead& head() const { return head_; }
  ParseError error() const { return error_; }
  MessageKind kind() const { return kind_; }
  // The head as received (start line to the empty line), without leading empty lines.
  std::string_view rawHead() const { return {buf_.get(), len_}; }

 private:
  enum class Phase : uint8_t { StartLine, Fields, Done, Failed };

  ParseResult fail(ParseError e);
  ParseError takeLine(size_t lineEnd);
  ParseError onStartLine(std::string_view line);
  ParseError onRequestLine(std::string_view line);
  ParseError onStatusLine(std::string_view line);
  ParseError onFieldLine(std::string_view line);
  ParseError onKnownField(const HeaderView& h);
  ParseError onTransferEncoding(std::string_view value);
  ParseError onConnection(std::string_view value);
  ParseError finishHead();
  ParseError finishRequest();
  ParseError finishResponse();
  ParseError decideLength();

  MessageKind kind_;
  ParserLimits limits_;
  std::unique_ptr<char[]> buf_;
  std::vector<HeaderView> headers_;
  std::vector<std::string_view> connTokens_;

  Phase phase_ = Phase::StartLine;
  ParseError error_ = ParseError::None;
  Method requestMethod_ = Method::Get;
  size_t len_ = 0;        // bytes stored in buf_
  size_t lineStart_ = 0;  // offset of the line being received
  size_t fieldsStart_ = 0;
  size_t skipped_ = 0;  // leading empty-line bytes dropped before the request line
  MessageHead head_;
  // Field facts gathered while reading lines.
  uint32_t hostCount_ = 0;
  uint32_t clCount_ = 0;
  bool hasTe_ = false;
  bool teChunkedLast_ = false;
};

// What a run of body bytes is.
enum class BodySegmentKind : uint8_t {
  Data,     // payload
  Framing,  // chunk-size lines, CRLF after data, last chunk, final CRLF
  Trailer,  // trailer field lines (with their CRLF)
  Error,    // length 0: see ChunkedDecoder::error()
  End,      // length 0: the body is complete (or the input is empty)
};

struct BodySegment {
  BodySegmentKind kind = BodySegmentKind::End;
  size_t length = 0;  // the prefix of the input this segment covers
};

// Decodes a chunked body fed in pieces split anywhere. next() reports the
// longest prefix of the input made of one kind of bytes; call it again with
// the rest. Forward everything to relay the framing as is, or Data only to
// re-frame. Worker thread only.
class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(const ParserLimits& limits = {}) : limits_(limits) {}

  void reset() { *this = ChunkedDecoder(limits_); }
  BodySegment next(std::string_view input);

  bool done() const { return state_ == State::Done; }
  bool failed() const { return state_ == State::Failed; }
  ParseError error() const { return error_; }
  uint64_t payloadBytes() const { return payload_; }

  // Chunk sizes at or above this are rejected (ChunkSizeOverflow).
  static constexpr uint64_t kMaxChunkSize = uint64_t{1} << 60;

 private:
  enum class State : uint8_t {
    SizeFirst,
    Size,
    SizeWs,
    ExtNameStart,
    ExtName,
    ExtNameWs,
    ExtValueStart,
    ExtToken,
    ExtQuoted,
    ExtQuotedPair,
    ExtQuoteEnd,
    ExtValueWs,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerLineStart,
    TrailerName,
    TrailerValue,
    TrailerLf,
    FinalLf,
    Done,
    Failed,
  };

  BodySegmentKind kindOf(char c) const;
  bool step(char c);  // false on error (state_ is Failed)
  bool stepChunkLine(char c);
  bool stepTrailer(char c);
  bool fail(ParseError e);
  bool go(State s) {
    state_ = s;
    return true;
  }

  ParserLimits limits_;
  State state_ = State::SizeFirst;
  ParseError error_ = ParseError::None;
  uint64_t size_ = 0;       // chunk-size being read, then bytes left in the chunk
  uint32_t lineBytes_ = 0;  // bytes of the current chunk-size line
  uint32_t trailerBytes_ = 0;
  uint32_t trailerFields_ = 0;
  uint64_t payload_ = 0;
};

// A content-length body: how many of the offered bytes belong to it.
class LengthBody {
 public:
  explicit LengthBody(uint64_t length = 0) : left_(length) {}
  // Takes up to `available` bytes; returns how many belong to the body.
  size_t take(size_t available) {
    size_t n = available < left_ ? available : static_cast<size_t>(left_);
    left_ -= n;
    return n;
  }
  bool done() const { return left_ == 0; }
  uint64_t remaining() const { return left_; }

 private:
  uint64_t left_;
};

}  // namespace ringlb::http
