#include "l7/h2/h2_upstream_stream.h"

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include <cerrno>

#include "common/worker.h"
#include "l7/h2/h2_client_session.h"

namespace ringlb::l7 {

H2UpstreamStream::H2UpstreamStream(H2ClientSession& session, BackendUser& user, Worker& worker)
    : session_(&session),
      user_(&user),
      worker_(worker),
      out_(session.buffers()),
      in_(session.buffers()),
      payload_(session.buffers()) {}

H2UpstreamStream::~H2UpstreamStream() = default;

bool H2UpstreamStream::ready() const { return session_ != nullptr && session_->connected(); }

bool H2UpstreamStream::usesTls() { return session_ != nullptr && session_->usesTls(); }

std::string H2UpstreamStream::failureReason() {
  return session_ != nullptr ? session_->failureReason() : std::string("connection closed");
}

void H2UpstreamStream::detach() {
  if (detached_) return;
  detached_ = true;
  user_ = nullptr;
  if (session_ != nullptr) {
    session_->detach(*this);  // resets the stream if open, frees this later
  } else {
    worker_.deferDelete(this);  // the session went first
  }
}

// ------------------------------------------------------------ the request

size_t H2UpstreamStream::requestRoom() const {
  size_t held = out_.size() + payload_.size();
  return held < H2UpstreamLimits::kRequestQueue ? H2UpstreamLimits::kRequestQueue - held : 0;
}

void H2UpstreamStream::flush() {
  if (session_ == nullptr || detached_ || error_ != 0) return;
  if (headPending()) session_->submit(*this);  // calls submitted() or fails the stream
  if (id_ > 0 && !requestBody_.done()) pumpBody();
  session_->send();
}

void H2UpstreamStream::submitted(int32_t id, const http::MessageHead& head,
                                 const http::ParserLimits& limits) {
  id_ = id;
  method_ = head.method;
  requestBody_ = BodyRelay(head, /*dechunk=*/true, 0, limits);
  requestBody_.copyOut();
}

void H2UpstreamStream::pumpBody() {
  if (!out_.empty()) requestBody_.pump(out_, payload_);
  if (requestBody_.failed()) {
    fail(EPROTO);  // never: the exchange framed it
    return;
  }
  if (requestBody_.done()) requestTrailers_ = requestBody_.trailers();
  if (deferred_ && (!payload_.empty() || requestBody_.done())) {
    deferred_ = false;
    session_->resumeData(id_);
  }
}

ssize_t H2UpstreamStream::readRequest(size_t length, uint32_t* flags) {
  if (payload_.empty() && !requestBody_.done()) {
    deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  size_t n = std::min(length, payload_.size());
  if (n > 0) *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  if (requestBody_.done() && n == payload_.size()) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!requestTrailers_.empty()) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
  }
  return static_cast<ssize_t>(n);
}

// ----------------------------------------------------------- the response

void H2UpstreamStream::onResponseField(std::string_view name, std::string_view value) {
  if (headDone_) {
    trailers_.append(name).append(": ").append(value).append("\r\n");
    return;
  }
  if (name == ":status") {
    status_ = 0;
    for (char c : value) status_ = static_cast<uint16_t>(status_ * 10 + (c - '0'));
    return;  // nghttp2 checked it: three digits
  }
  if (name.starts_with(':')) return;
  if (name == "content-length") {  // nghttp2 lower-cased and checked it
    hasLength_ = true;
    length_.assign(value);
    return;  // written by appendHead (or not: a body with trailers goes chunked)
  }
  if (name == "trailer") announcesTrailers_ = true;
  head_.append(name).append(": ").append(value).append("\r\n");
}

void H2UpstreamStream::onHeadersEnd(bool endStream) {
  if (headDone_) {
    if (endStream) onEndStream();  // trailers
    return;
  }
  appendHead(endStream);
  if (endStream) onEndStream();
}

// The head as HTTP/1.1: a body with a length goes as is, one without
// chunked (its trailers become the last chunk's), none gets a zero length.
void H2UpstreamStream::appendHead(bool endStream) {
  std::string line = fmt::format("HTTP/1.1 {:03} {}\r\n", status_, http::reasonPhrase(status_));
  bool interim = status_ >= 100 && status_ < 200;
  bool noBody = method_ == http::Method::Head || status_ == 204 || status_ == 304;
  // HTTP/1.1 carries trailers only in chunks: a response that announces
  // them (Trailer) gives up its length for them.
  if (!interim && !noBody) {
    if (hasLength_ && !announcesTrailers_) {
      head_.append("content-length: ").append(length_).append("\r\n");
    } else if (endStream) {
      head_.append("content-length: 0\r\n");
    } else {
      head_.append("transfer-encoding: chunked\r\n");
      chunked_ = true;
    }
  } else if (hasLength_) {
    head_.append("content-length: ").append(length_).append("\r\n");  // HEAD, 304
  }
  head_.append("\r\n");
  in_.append(line);
  in_.append(head_);
  received_ += line.size() + head_.size();
  head_.clear();
  hasLength_ = false;
  announcesTrailers_ = false;
  if (!interim) headDone_ = true;
  inSize_ = in_.size();
  receivedEvent_ = true;
}

void H2UpstreamStream::appendChunk(std::string_view bytes) {
  if (chunked_) {
    std::string size = fmt::format("{:x}\r\n", bytes.size());
    in_.append(size);
    in_.append(bytes);
    in_.append("\r\n");
    received_ += size.size() + bytes.size() + 2;
  } else {
    in_.append(bytes);
    received_ += bytes.size();
  }
}

void H2UpstreamStream::onData(const uint8_t* data, size_t length) {
  unacknowledged_ += length;
  if (length == 0 || !headDone_) return;
  appendChunk({reinterpret_cast<const char*>(data), length});
  inSize_ = in_.size();
  receivedEvent_ = true;
}

void H2UpstreamStream::onEndStream() {
  if (ended_) return;
  ended_ = true;
  if (chunked_) {
    std::string last = "0\r\n" + trailers_ + "\r\n";
    in_.append(last);
    received_ += last.size();
  }
  inSize_ = in_.size();
  receivedEvent_ = true;
}

void H2UpstreamStream::refresh() {
  size_t taken = inSize_ > in_.size() ? inSize_ - in_.size() : 0;
  inSize_ = in_.size();
  // Framing bytes count as taken payload: the window reopens a few bytes
  // early at worst, and fully once in() is empty.
  // A closed stream's bytes still count against the connection's window.
  size_t give = in_.empty() ? unacknowledged_ : std::min<uint64_t>(taken, unacknowledged_);
  if (give == 0 || session_ == nullptr) return;
  unacknowledged_ -= give;
  session_->consume(id_, give);
}

// ---------------------------------------------------------------- the end

void H2UpstreamStream::onClosed(uint32_t code) {
  closed_ = true;
  if (ended_ && code == NGHTTP2_NO_ERROR) return;
  if (ended_ && headDone_) return;  // the response is whole: a reset of our side only
  // REFUSED_STREAM (or a GOAWAY past it): never processed, safe to retry.
  fail(code == NGHTTP2_REFUSED_STREAM ? ECONNREFUSED : ECONNRESET);
}

void H2UpstreamStream::onSessionEnd(int err) {
  if (ended_) return;
  if (err == 0) {
    eof_ = true;
    errorEvent_ = true;
    return;
  }
  fail(err);
}

void H2UpstreamStream::fail(int err) {
  if (error_ != 0) return;
  error_ = err;
  errorEvent_ = true;
}

bool H2UpstreamStream::takeEvent(StreamEvent& event) {
  if (connectedEvent_) {
    connectedEvent_ = false;
    event = StreamEvent::Connected;
    return true;
  }
  if (errorEvent_) {
    errorEvent_ = false;
    receivedEvent_ = false;
    event = StreamEvent::Error;
    return true;
  }
  if (receivedEvent_) {
    receivedEvent_ = false;
    event = StreamEvent::Received;
    return true;
  }
  if (drained_) {
    drained_ = false;
    event = StreamEvent::Drained;
    return true;
  }
  return false;
}

}  // namespace ringlb::l7
