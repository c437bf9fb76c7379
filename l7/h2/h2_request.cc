#include "l7/h2/h2_request.h"

#include <charconv>

#include "common/ascii.h"

namespace ringlb::l7 {

bool isForbiddenTrailer(std::string_view name) {
  static constexpr std::string_view kForbidden[] = {
      "content-length", "transfer-encoding", "host", "connection",
      "keep-alive",     "proxy-connection",  "te",   "upgrade",
      "trailer",        "content-type"};
  for (std::string_view f : kForbidden) {
    if (equalsIgnoreCase(name, f)) return true;
  }
  return name.starts_with(':');
}

std::string h2TrailerLines(std::string_view raw) {
  std::string out;
  while (!raw.empty()) {
    size_t end = raw.find('\n');
    std::string_view line = raw.substr(0, end);
    raw = end == std::string_view::npos ? std::string_view() : raw.substr(end + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    std::string_view name = line.substr(0, colon);
    if (isForbiddenTrailer(name)) continue;
    for (char c : name) out.push_back(asciiLower(c));
    out.append(": ").append(trimOws(line.substr(colon + 1))).append("\r\n");
  }
  return out;
}

void H2RequestHead::add(std::string_view name, std::string_view value) {
  if (tooLarge_) return;
  // HPACK's accounting (RFC 7541 section 4.1): 32 bytes of overhead a field.
  size_ += name.size() + value.size() + 32;
  bool pseudo = name.starts_with(':');
  if (size_ > maxHeaderSize_ || (!pseudo && fields_.size() >= maxFields_ + 4)) {
    tooLarge_ = true;
    return;
  }
  Field f{static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(name.size()), 0,
          static_cast<uint32_t>(value.size())};
  arena_.append(name);
  f.value = static_cast<uint32_t>(arena_.size());
  arena_.append(value);
  fields_.push_back(f);
}

bool H2RequestHead::finish(bool endStream) {
  if (tooLarge_) return false;
  // Cookie crumbs become one field (section 8.2.3), appended to the arena
  // before any view into it is taken.
  uint32_t cookieAt = static_cast<uint32_t>(arena_.size());
  size_t regular = 0;
  for (const Field& f : fields_) {
    std::string_view name = at(f.name, f.nameLength);
    if (!name.starts_with(':')) ++regular;
    if (name != "cookie") continue;
    if (arena_.size() != cookieAt) arena_.append("; ");
    arena_.append(at(f.value, f.valueLength));
  }
  uint32_t cookieLength = static_cast<uint32_t>(arena_.size()) - cookieAt;
  if (regular > maxFields_) {
    tooLarge_ = true;
    return false;
  }
  std::string_view method, path, authority, host, contentLength;
  for (const Field& f : fields_) {
    std::string_view name = at(f.name, f.nameLength);
    std::string_view value = at(f.value, f.valueLength);
    if (name == ":method") method = value;
    if (name == ":path") path = value;
    if (name == ":authority") authority = value;
    if (name == "host" && host.empty()) host = value;
    if (name == "content-length") contentLength = value;
  }
  head_.version = http::Version::Http11;
  head_.methodName = method;
  head_.method = http::parseMethod(method);
  head_.target = path;
  head_.path = path;
  head_.targetForm = path == "*" ? http::TargetForm::Asterisk : http::TargetForm::Origin;
  // :authority wins over Host (section 8.3.1); Host is written from it.
  head_.authority = authority.empty() ? host : authority;
  head_.host = head_.authority;
  head_.keepAlive = true;
  views_.clear();
  views_.reserve(fields_.size() + 2);
  bool cookieDone = false;
  for (const Field& f : fields_) {
    std::string_view name = at(f.name, f.nameLength);
    if (name.starts_with(':') || name == "host") continue;
    if (name == "cookie") {
      if (!cookieDone) views_.push_back({"cookie", at(cookieAt, cookieLength)});
      cookieDone = true;
      continue;
    }
    std::string_view value = at(f.value, f.valueLength);
    if (name == "expect" && value == "100-continue") head_.expectContinue = true;
    views_.push_back({name, value});
  }
  if (!contentLength.empty()) {
    head_.framing = http::BodyFraming::ContentLength;
    auto [end, ec] = std::from_chars(
        contentLength.data(), contentLength.data() + contentLength.size(), head_.contentLength);
    if (ec != std::errc() || end != contentLength.data() + contentLength.size()) return false;
    if (endStream && head_.contentLength != 0) return false;  // a body announced, none sent
  } else if (!endStream) {
    head_.framing = http::BodyFraming::Chunked;  // the length is unknown: chunked upstream
    views_.push_back({"transfer-encoding", "chunked"});
  } else {
    head_.framing = http::BodyFraming::None;
  }
  head_.headers = views_;
  // A request must name its authority. CONNECT is refused by the exchange
  // (405, as over HTTP/1.1).
  return !head_.authority.empty() && (!path.empty() || head_.method == http::Method::Connect);
}

}  // namespace ringlb::l7
