#include "common/http1/http1_parser.h"

#include <array>
#include <cstring>

#include "common/ascii.h"

namespace ringlb::http {
namespace {

// Character classes of RFC 9110 section 5.6.2 (tchar), 5.5 (field-value) and
// RFC 3986 (request-target, host), as bit flags in one table.
enum : uint8_t {
  kTchar = 1,
  kFieldValue = 2,  // HTAB, SP, VCHAR, obs-text
  kTargetChar = 4,  // VCHAR
  kRegName = 8,     // unreserved / sub-delims / "%"
  kHex = 16,
  kDigit = 32,
};

constexpr std::array<uint8_t, 256> makeClasses() {
  std::array<uint8_t, 256> t{};
  auto in = [](int c, const char* set) {
    for (const char* p = set; *p; ++p) {
      if (*p == c) return true;
    }
    return false;
  };
  for (int c = 0; c < 256; ++c) {
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    bool digit = c >= '0' && c <= '9';
    uint8_t f = 0;
    if (alpha || digit || in(c, "!#$%&'*+-.^_`|~")) f |= kTchar;
    if (c == '\t' || (c >= 0x20 && c != 0x7f)) f |= kFieldValue;
    if (c > 0x20 && c < 0x7f) f |= kTargetChar;
    if (alpha || digit || in(c, "-._~!$&'()*+,;=%")) f |= kRegName;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) f |= kHex;
    if (digit) f |= kDigit;
    t[static_cast<size_t>(c)] = f;
  }
  return t;
}

constexpr std::array<uint8_t, 256> kClasses = makeClasses();

inline bool is(char c, uint8_t cls) { return (kClasses[static_cast<uint8_t>(c)] & cls) != 0; }

bool allOf(std::string_view s, uint8_t cls) {
  for (char c : s) {
    if (!is(c, cls)) return false;
  }
  return true;
}

// `b` must be lower case.
bool equalsLower(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (asciiLower(a[i]) != b[i]) return false;
  }
  return true;
}

// Calls fn(element) for each non-empty element of a comma-separated list
// (RFC 9110 section 5.6.1: empty elements are ignored). Stops at the first
// error fn returns.
template <typename Fn>
ParseError forEachListElement(std::string_view list, Fn fn) {
  while (true) {
    size_t comma = list.find(',');
    std::string_view element = trimOws(list.substr(0, comma));
    if (!element.empty()) {
      if (ParseError e = fn(element); e != ParseError::None) return e;
    }
    if (comma == std::string_view::npos) return ParseError::None;
    list.remove_prefix(comma + 1);
  }
}

// HTTP-version = "HTTP/" DIGIT "." DIGIT. A higher 1.x minor is read as 1.1
// (RFC 9110 section 6.2); any other major is 505.
ParseError parseVersion(std::string_view v, Version& out) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || !is(v[5], kDigit) || v[6] != '.' ||
      !is(v[7], kDigit)) {
    return ParseError::BadVersion;
  }
  if (v[5] != '1') return ParseError::UnsupportedVersion;
  out = v[7] == '0' ? Version::Http10 : Version::Http11;
  return ParseError::None;
}

bool validPort(std::string_view p) {
  if (p.empty() || p.size() > 5 || !allOf(p, kDigit)) return false;
  uint32_t v = 0;
  for (char c : p) v = v * 10 + static_cast<uint32_t>(c - '0');
  return v <= 65535;
}

bool validPctEncoding(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') continue;
    if (i + 2 >= s.size() || !is(s[i + 1], kHex) || !is(s[i + 2], kHex)) return false;
  }
  return true;
}

// uri-host [ ":" port ] (RFC 3986): reg-name, IPv4 or an IP-literal in
// brackets. An empty host or an empty port is rejected.
bool validHostPort(std::string_view s, bool requirePort) {
  std::string_view host = s;
  std::string_view port;
  bool hasPort = false;
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    std::string_view ip = s.substr(1, close - 1);
    for (char c : ip) {
      if (!is(c, kHex) && c != ':' && c != '.') return false;
    }
    if (ip.find(':') == std::string_view::npos) return false;
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      hasPort = true;
      port = rest.substr(1);
    }
    host = ip;
  } else {
    size_t colon = s.find(':');
    if (colon != std::string_view::npos) {
      hasPort = true;
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
    }
    if (host.empty() || !allOf(host, kRegName) || !validPctEncoding(host)) return false;
  }
  if (hasPort) return validPort(port);
  return !requirePort;
}

// absolute-form: scheme "://" authority [ path-abempty [ "?" query ] ].
// Userinfo is refused (RFC 9110 section 4.2.4).
bool splitAbsoluteForm(std::string_view t, std::string_view& authority, std::string_view& path) {
  size_t colon = t.find(':');
  if (colon == 0 || colon == std::string_view::npos) return false;
  if (!((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z'))) return false;
  for (char c : t.substr(0, colon)) {
    if (!is(c, kDigit) && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) && c != '+' &&
        c != '-' && c != '.') {
      return false;
    }
  }
  std::string_view rest = t.substr(colon + 1);
  if (rest.substr(0, 2) != "//") return false;
  rest.remove_prefix(2);
  size_t end = rest.find_first_of("/?#");
  authority = rest.substr(0, end);
  path = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  if (authority.find('@') != std::string_view::npos) return false;
  return validHostPort(authority, false);
}

bool isKnownCoding(std::string_view c) {
  return equalsLower(c, "gzip") || equalsLower(c, "deflate") || equalsLower(c, "compress") ||
         equalsLower(c, "x-gzip") || equalsLower(c, "x-compress");
}

// Content-Length = 1*DIGIT. A list ("5, 5") counts as a duplicate: we reject
// even identical repeats rather than guess.
ParseError parseContentLength(std::string_view v, uint64_t& out) {
  if (v.find(',') != std::string_view::npos) return ParseError::DuplicateContentLength;
  if (v.empty() || v.size() > 18 || !allOf(v, kDigit)) return ParseError::BadContentLength;
  uint64_t n = 0;
  for (char c : v) n = n * 10 + static_cast<uint64_t>(c - '0');
  out = n;
  return ParseError::None;
}

}  // namespace

Method parseMethod(std::string_view m) {
  switch (m.size()) {
    case 3:
      if (m == "GET") return Method::Get;
      if (m == "PUT") return Method::Put;
      break;
    case 4:
      if (m == "POST") return Method::Post;
      if (m == "HEAD") return Method::Head;
      break;
    case 5:
      if (m == "PATCH") return Method::Patch;
      if (m == "TRACE") return Method::Trace;
      break;
    case 6:
      if (m == "DELETE") return Method::Delete;
      break;
    case 7:
      if (m == "OPTIONS") return Method::Options;
      if (m == "CONNECT") return Method::Connect;
      break;
  }
  return Method::Other;
}

// ---------------------------------------------------------------- MessageHead

const HeaderView* MessageHead::find(std::string_view name) const {
  for (const HeaderView& h : headers) {
    if (equalsIgnoreCase(h.name, name)) return &h;
  }
  return nullptr;
}

size_t MessageHead::count(std::string_view name) const {
  size_t n = 0;
  for (const HeaderView& h : headers) n += equalsIgnoreCase(h.name, name) ? 1 : 0;
  return n;
}

bool MessageHead::isHopByHop(std::string_view name) const {
  static constexpr std::string_view kFixed[] = {
      "connection",        "keep-alive", "proxy-connection", "te",
      "transfer-encoding", "upgrade",    "trailer"};
  for (std::string_view f : kFixed) {
    if (equalsLower(name, f)) return true;
  }
  // A Connection option may not make framing or routing fields hop-by-hop:
  // stripping Content-Length while its body is relayed would let the body
  // be read as a second request by the next hop (request smuggling).
  if (equalsLower(name, "content-length") || equalsLower(name, "host")) return false;
  for (std::string_view t : connectionTokens) {
    if (equalsIgnoreCase(name, t)) return true;
  }
  return false;
}

// ---------------------------------------------------------------- Http1Parser

Http1Parser::Http1Parser(MessageKind kind, const ParserLimits& limits)
    : kind_(kind),
      limits_(limits),
      buf_(new char[size_t{limits.maxRequestLine} + 2 + limits.maxHeaderBytes]) {
  headers_.reserve(limits.maxHeaderCount);
  connTokens_.reserve(limits.maxConnectionTokens);
}

void Http1Parser::reset() {
  phase_ = Phase::StartLine;
  error_ = ParseError::None;
  requestMethod_ = Method::Get;
  len_ = lineStart_ = fieldsStart_ = skipped_ = 0;
  head_ = MessageHead{};
  headers_.clear();
  connTokens_.clear();
  hostCount_ = clCount_ = 0;
  hasTe_ = teChunkedLast_ = false;
}

void Http1Parser::setLimits(const ParserLimits& limits) {
  bool sameBuffer = limits.maxRequestLine == limits_.maxRequestLine &&
                    limits.maxHeaderBytes == limits_.maxHeaderBytes;
  limits_ = limits;
  if (!sameBuffer) buf_.reset(new char[size_t{limits.maxRequestLine} + 2 + limits.maxHeaderBytes]);
  headers_.reserve(limits.maxHeaderCount);
  connTokens_.reserve(limits.maxConnectionTokens);
  reset();
}

ParseResult Http1Parser::fail(ParseError e) {
  phase_ = Phase::Failed;
  error_ = e;
  return {ParseStatus::Error, 0, e};
}

ParseResult Http1Parser::feed(std::string_view in) {
  if (phase_ == Phase::Done) return {ParseStatus::HeadComplete, 0, ParseError::None};
  if (phase_ == Phase::Failed) return {ParseStatus::Error, 0, error_};
  size_t pos = 0;
  while (pos < in.size()) {
    const void* lf = std::memchr(in.data() + pos, '\n', in.size() - pos);
    size_t end = lf ? static_cast<size_t>(static_cast<const char*>(lf) - in.data()) + 1 : in.size();
    size_t n = end - pos;
    // Limits are checked before copying, so buf_ never overflows.
    if (phase_ == Phase::StartLine) {
      if (skipped_ + (len_ - lineStart_) + n > size_t{limits_.maxRequestLine} + 2) {
        return fail(kind_ == MessageKind::Request ? ParseError::RequestLineTooLong
                                                  : ParseError::BadStatusLine);
      }
    } else if (len_ - fieldsStart_ + n > limits_.maxHeaderBytes) {
      return fail(ParseError::HeadersTooLarge);
    }
    std::memcpy(buf_.get() + len_, in.data() + pos, n);
    len_ += n;
    pos = end;
    if (!lf) break;
    if (ParseError e = takeLine(len_); e != ParseError::None) return fail(e);
    if (phase_ == Phase::Done) return {ParseStatus::HeadComplete, pos, ParseError::None};
  }
  return {ParseStatus::NeedMore, in.size(), ParseError::None};
}

// A complete line (ending in LF) is buf_[lineStart_, lineEnd).
ParseError Http1Parser::takeLine(size_t lineEnd) {
  std::string_view line(buf_.get() + lineStart_, lineEnd - lineStart_);
  if (line.size() < 2 || line[line.size() - 2] != '\r') return ParseError::BareLf;
  line.remove_suffix(2);
  if (std::memchr(line.data(), '\r', line.size()) != nullptr) return ParseError::BareCr;
  if (phase_ == Phase::StartLine) {
    if (line.empty()) {
      // RFC 9112 section 2.2: a server ignores empty lines before the request line.
      if (kind_ == MessageKind::Response) return ParseError::LeadingWhitespace;
      skipped_ += 2;
      len_ = lineStart_ = 0;
      return ParseError::None;
    }
    ParseError e = onStartLine(line);
    lineStart_ = fieldsStart_ = lineEnd;
    phase_ = Phase::Fields;
    return e;
  }
  lineStart_ = lineEnd;
  return onFieldLine(line);
}

ParseError Http1Parser::onStartLine(std::string_view line) {
  return kind_ == MessageKind::Request ? onRequestLine(line) : onStatusLine(line);
}

// request-line = method SP request-target SP HTTP-version
ParseError Http1Parser::onRequestLine(std::string_view line) {
  size_t sp1 = line.find(' ');
  if (sp1 == 0 || sp1 == std::string_view::npos || !allOf(line.substr(0, sp1), kTchar)) {
    return ParseError::BadMethod;
  }
  size_t sp2 = line.rfind(' ');
  if (sp2 == sp1) return ParseError::BadVersion;
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  // A fragment is never part of a request-target (RFC 9112 section 3.2).
  if (target.empty() || !allOf(target, kTargetChar) || target.find('#') != target.npos) {
    return ParseError::BadTarget;
  }
  if (ParseError e = parseVersion(line.substr(sp2 + 1), head_.version); e != ParseError::None) {
    return e;
  }
  head_.methodName = line.substr(0, sp1);
  head_.method = parseMethod(head_.methodName);
  head_.target = target;

  if (head_.method == Method::Connect) {
    // CONNECT takes authority-form only (RFC 9112 section 3.2.3).
    if (!validHostPort(target, true)) return ParseError::BadTarget;
    head_.targetForm = TargetForm::Authority;
    head_.authority = target;
  } else if (target.front() == '/') {
    head_.targetForm = TargetForm::Origin;
    head_.path = target;
  } else if (target == "*") {
    if (head_.method != Method::Options) return ParseError::BadTarget;
    head_.targetForm = TargetForm::Asterisk;
  } else {
    if (!splitAbsoluteForm(target, head_.authority, head_.path)) return ParseError::BadTarget;
    head_.targetForm = TargetForm::Absolute;
  }
  return ParseError::None;
}

// status-line = HTTP-version SP status-code SP [ reason-phrase ]
// A missing SP after the code with no reason is accepted (common in practice,
// not ambiguous).
ParseError Http1Parser::onStatusLine(std::string_view line) {
  if (line.size() < 12 || line[8] != ' ') return ParseError::BadStatusLine;
  if (ParseError e = parseVersion(line.substr(0, 8), head_.version); e != ParseError::None) {
    return e;
  }
  std::string_view code = line.substr(9, 3);
  if (!allOf(code, kDigit)) return ParseError::BadStatusCode;
  head_.status =
      static_cast<uint16_t>((code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0'));
  if (head_.status < 100 || head_.status > 599) return ParseError::BadStatusCode;
  if (line.size() == 12) return ParseError::None;
  if (line[12] != ' ') return ParseError::BadStatusCode;
  head_.reason = line.substr(13);
  if (!allOf(head_.reason, kFieldValue)) return ParseError::BadStatusLine;
  return ParseError::None;
}

// field-line = field-name ":" OWS field-value OWS
ParseError Http1Parser::onFieldLine(std::string_view line) {
  if (line.empty()) return finishHead();
  if (isOws(line.front())) return ParseError::ObsFold;
  size_t i = 0;
  while (i < line.size() && is(line[i], kTchar)) ++i;
  if (i == line.size()) return ParseError::BadFieldName;
  if (line[i] != ':')
    return isOws(line[i]) ? ParseError::SpaceBeforeColon : ParseError::BadFieldName;
  if (i == 0) return ParseError::BadFieldName;
  std::string_view value = trimOws(line.substr(i + 1));
  if (!allOf(value, kFieldValue)) return ParseError::BadFieldValue;
  if (headers_.size() >= limits_.maxHeaderCount) return ParseError::TooManyHeaders;
  headers_.push_back({line.substr(0, i), value});
  return onKnownField(headers_.back());
}

// Fields that decide framing, routing or the connection.
ParseError Http1Parser::onKnownField(const HeaderView& h) {
  switch (h.name.size()) {
    case 4:
      if (kind_ == MessageKind::Request && equalsLower(h.name, "host")) {
        if (++hostCount_ > 1) return ParseError::DuplicateHost;
        if (!validHostPort(h.value, false)) return ParseError::BadHost;
        head_.host = h.value;
      }
      break;
    case 6:
      if (equalsLower(h.name, "expect")) {
        (equalsLower(h.value, "100-continue") ? head_.expectContinue : head_.expectOther) = true;
      }
      break;
    case 7:
      if (head_.upgrade.empty() && equalsLower(h.name, "upgrade")) head_.upgrade = h.value;
      break;
    case 10:
      if (equalsLower(h.name, "connection")) return onConnection(h.value);
      break;
    case 14:
      if (equalsLower(h.name, "content-length")) {
        if (++clCount_ > 1) return ParseError::DuplicateContentLength;
        return parseContentLength(h.value, head_.contentLength);
      }
      break;
    case 17:
      if (equalsLower(h.name, "transfer-encoding")) return onTransferEncoding(h.value);
      break;
  }
  return ParseError::None;
}

// Accepts a list of known codings ending with exactly one "chunked"; that the
// list does end with it is checked once the whole head is read.
ParseError Http1Parser::onTransferEncoding(std::string_view value) {
  hasTe_ = true;
  if (head_.version == Version::Http10) return ParseError::TransferEncodingInHttp10;
  return forEachListElement(value, [this](std::string_view coding) {
    if (teChunkedLast_) return ParseError::BadTransferEncoding;          // chunked must be final
    if (!allOf(coding, kTchar)) return ParseError::BadTransferEncoding;  // parameters too
    if (equalsLower(coding, "chunked")) {
      teChunkedLast_ = true;
      return ParseError::None;
    }
    return isKnownCoding(coding) ? ParseError::None : ParseError::UnknownTransferCoding;
  });
}

ParseError Http1Parser::onConnection(std::string_view value) {
  return forEachListElement(value, [this](std::string_view token) {
    if (!allOf(token, kTchar) || connTokens_.size() >= limits_.maxConnectionTokens) {
      return ParseError::BadConnectionHeader;
    }
    connTokens_.push_back(token);
    if (equalsLower(token, "close")) head_.connectionClose = true;
    if (equalsLower(token, "keep-alive")) head_.connectionKeepAlive = true;
    if (equalsLower(token, "upgrade")) head_.connectionUpgrade = true;
    return ParseError::None;
  });
}

ParseError Http1Parser::finishHead() {
  phase_ = Phase::Done;
  head_.headers = std::span<const HeaderView>(headers_.data(), headers_.size());
  head_.connectionTokens =
      std::span<const std::string_view>(connTokens_.data(), connTokens_.size());
  bool http11 = head_.version == Version::Http11;
  head_.keepAlive = !head_.connectionClose && (http11 || head_.connectionKeepAlive);
  return kind_ == MessageKind::Request ? finishRequest() : finishResponse();
}

ParseError Http1Parser::finishRequest() {
  if (head_.version == Version::Http11 && hostCount_ == 0) return ParseError::MissingHost;
  if (head_.targetForm == TargetForm::Origin || head_.targetForm == TargetForm::Asterisk) {
    head_.authority = head_.host;
  }
  if (head_.version == Version::Http10) {
    // RFC 9110 section 10.1.1: a 100-continue expectation in HTTP/1.0 is ignored.
    head_.expectContinue = head_.expectOther = false;
  }
  if (ParseError e = decideLength(); e != ParseError::None) return e;
  if (head_.framing == BodyFraming::UntilClose) head_.framing = BodyFraming::None;
  return ParseError::None;
}

// RFC 9112 section 6.3, in its order of precedence. Framing fields are
// validated even where the status says there is no body.
ParseError Http1Parser::finishResponse() {
  if (ParseError e = decideLength(); e != ParseError::None) return e;
  uint16_t s = head_.status;
  bool connect2xx = requestMethod_ == Method::Connect && s >= 200 && s < 300;
  if (s == 101 || connect2xx) {
    head_.framing = BodyFraming::Tunnel;
  } else if (head_.isInterim() || s == 204 || s == 304 || requestMethod_ == Method::Head) {
    head_.framing = BodyFraming::None;
  }
  if (head_.framing == BodyFraming::UntilClose || head_.framing == BodyFraming::Tunnel) {
    head_.keepAlive = false;
  }
  return ParseError::None;
}

// Framing from Transfer-Encoding and Content-Length alone; UntilClose when
// neither is present.
ParseError Http1Parser::decideLength() {
  if (hasTe_) {
    if (clCount_ > 0) return ParseError::ContentLengthWithTransferEncoding;
    if (!teChunkedLast_) return ParseError::BadTransferEncoding;
    head_.framing = BodyFraming::Chunked;
  } else if (clCount_ > 0) {
    head_.framing = BodyFraming::ContentLength;
  } else {
    head_.framing = BodyFraming::UntilClose;
  }
  return ParseError::None;
}

// ------------------------------------------------------------- ChunkedDecoder

BodySegment ChunkedDecoder::next(std::string_view in) {
  if (state_ == State::Failed) return {BodySegmentKind::Error, 0};
  if (state_ == State::Done || in.empty()) return {BodySegmentKind::End, 0};
  if (state_ == State::Data) {
    size_t n = in.size() < size_ ? in.size() : static_cast<size_t>(size_);
    size_ -= n;
    payload_ += n;
    if (size_ == 0) state_ = State::DataCr;
    return {BodySegmentKind::Data, n};
  }
  BodySegmentKind kind = kindOf(in[0]);
  size_t i = 0;
  while (i < in.size() && state_ != State::Data && state_ != State::Done && kindOf(in[i]) == kind) {
    if (!step(in[i])) return {BodySegmentKind::Error, 0};
    ++i;
  }
  return {kind, i};
}

BodySegmentKind ChunkedDecoder::kindOf(char c) const {
  switch (state_) {
    case State::TrailerLineStart:
      return c == '\r' ? BodySegmentKind::Framing : BodySegmentKind::Trailer;
    case State::TrailerName:
    case State::TrailerValue:
    case State::TrailerLf: return BodySegmentKind::Trailer;
    default: return BodySegmentKind::Framing;
  }
}

bool ChunkedDecoder::fail(ParseError e) {
  state_ = State::Failed;
  error_ = e;
  return false;
}

bool ChunkedDecoder::step(char c) {
  switch (state_) {
    case State::DataCr:
      if (c == '\r') return go(State::DataLf);
      return fail(c == '\n' ? ParseError::BareLf : ParseError::BadChunkFraming);
    case State::DataLf:
      if (c != '\n') return fail(ParseError::BareCr);
      state_ = State::SizeFirst;
      lineBytes_ = 0;
      return true;
    case State::TrailerLineStart:
    case State::TrailerName:
    case State::TrailerValue:
    case State::TrailerLf:
    case State::FinalLf: return stepTrailer(c);
    default: return stepChunkLine(c);
  }
}

// chunk-size [ chunk-ext ] CRLF, where
// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ).
bool ChunkedDecoder::stepChunkLine(char c) {
  if (++lineBytes_ > limits_.maxChunkLine) return fail(ParseError::ChunkLineTooLong);
  if (c == '\n' && state_ != State::SizeLf) return fail(ParseError::BareLf);
  const bool ws = isOws(c);
  const bool tchar = is(c, kTchar);
  switch (state_) {
    case State::SizeFirst:
    case State::Size: {
      if (is(c, kHex)) {
        uint64_t digit = static_cast<uint64_t>(c <= '9' ? c - '0' : asciiLower(c) - 'a' + 10);
        size_ = size_ * 16 + digit;  // size_ < 2^60 here, so no wrap
        if (size_ >= kMaxChunkSize) return fail(ParseError::ChunkSizeOverflow);
        state_ = State::Size;
        return true;
      }
      if (state_ == State::SizeFirst) return fail(ParseError::BadChunkSize);
      if (c == '\r') return go(State::SizeLf);
      if (c == ';') return go(State::ExtNameStart);
      if (ws) return go(State::SizeWs);
      return fail(ParseError::BadChunkSize);
    }
    case State::SizeWs:
      if (ws) return true;
      if (c == ';') return go(State::ExtNameStart);
      return fail(ParseError::BadChunkExtension);
    case State::ExtNameStart:
      if (ws) return true;
      if (tchar) return go(State::ExtName);
      return fail(ParseError::BadChunkExtension);
    case State::ExtName:
      if (tchar) return true;
      if (c == '\r') return go(State::SizeLf);
      if (c == ';') return go(State::ExtNameStart);
      if (c == '=') return go(State::ExtValueStart);
      if (ws) return go(State::ExtNameWs);
      return fail(ParseError::BadChunkExtension);
    case State::ExtNameWs:
      if (ws) return true;
      if (c == ';') return go(State::ExtNameStart);
      if (c == '=') return go(State::ExtValueStart);
      return fail(ParseError::BadChunkExtension);
    case State::ExtValueStart:
      if (ws) return true;
      if (c == '"') return go(State::ExtQuoted);
      if (tchar) return go(State::ExtToken);
      return fail(ParseError::BadChunkExtension);
    case State::ExtToken:
      if (tchar) return true;
      if (c == '\r') return go(State::SizeLf);
      if (c == ';') return go(State::ExtNameStart);
      if (ws) return go(State::ExtValueWs);
      return fail(ParseError::BadChunkExtension);
    case State::ExtQuoted:  // qdtext = HTAB / SP / VCHAR except DQUOTE and "\" / obs-text
      if (c == '"') return go(State::ExtQuoteEnd);
      if (c == '\\') return go(State::ExtQuotedPair);
      if (is(c, kFieldValue)) return true;
      return fail(c == '\r' ? ParseError::BareCr : ParseError::BadChunkExtension);
    case State::ExtQuotedPair:
      if (is(c, kFieldValue)) return go(State::ExtQuoted);
      return fail(ParseError::BadChunkExtension);
    case State::ExtQuoteEnd:
      if (c == '\r') return go(State::SizeLf);
      [[fallthrough]];
    case State::ExtValueWs:
      if (ws) return go(State::ExtValueWs);
      if (c == ';') return go(State::ExtNameStart);
      return fail(ParseError::BadChunkExtension);
    case State::SizeLf:
      if (c != '\n') return fail(ParseError::BareCr);
      state_ = size_ == 0 ? State::TrailerLineStart : State::Data;
      return true;
    default: return fail(ParseError::BadChunkFraming);  // unreachable
  }
}

// trailer-section = *( field-line CRLF ), then the final CRLF.
bool ChunkedDecoder::stepTrailer(char c) {
  if (++trailerBytes_ > limits_.maxTrailerBytes) return fail(ParseError::TrailersTooLarge);
  switch (state_) {
    case State::TrailerLineStart:
      if (c == '\r') return go(State::FinalLf);
      if (c == '\n') return fail(ParseError::BareLf);
      if (isOws(c)) return fail(ParseError::ObsFold);
      if (!is(c, kTchar)) return fail(ParseError::BadFieldName);
      if (++trailerFields_ > limits_.maxHeaderCount) return fail(ParseError::TrailersTooLarge);
      return go(State::TrailerName);
    case State::TrailerName:
      if (is(c, kTchar)) return true;
      if (c == ':') return go(State::TrailerValue);
      return fail(isOws(c) ? ParseError::SpaceBeforeColon : ParseError::BadFieldName);
    case State::TrailerValue:
      if (is(c, kFieldValue)) return true;
      if (c == '\r') return go(State::TrailerLf);
      return fail(c == '\n' ? ParseError::BareLf : ParseError::BadFieldValue);
    case State::TrailerLf:
      if (c != '\n') return fail(ParseError::BareCr);
      return go(State::TrailerLineStart);
    case State::FinalLf:
      if (c != '\n') return fail(ParseError::BareCr);
      return go(State::Done);
    default: return fail(ParseError::BadChunkFraming);  // unreachable
  }
}

}  // namespace ringlb::http
