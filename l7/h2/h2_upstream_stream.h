// H2UpstreamStream: one exchange's request on a multiplexed HTTP/2
// connection to a backend (a pool with `protocol = "h2"`), behind the same
// Upstream face as an HTTP/1.1 connection:
//
//   out(): the exchange's HTTP/1.1 request. Its head becomes HEADERS
//     (:authority from Host, connection-specific fields dropped, `te:
//     trailers` added), its body DATA frames (de-chunked; chunked trailers
//     become trailing HEADERS).
//   in(): the response frames as HTTP/1.1 bytes: the status line and
//     fields, the body as is when it has a Content-Length, chunked
//     otherwise, so that trailing HEADERS (gRPC's grpc-status) become the
//     last chunk's trailers.
//
// The translation costs a second parse of the request head and a copy of
// the response payload; it keeps every rule of the exchange (limits, edits,
// retries, trailers) the same for both protocols.
//
// Flow control: DATA is acknowledged (WINDOW_UPDATE) only as the exchange
// takes it from in(), so a slow client holds at most the stream window
// (H2UpstreamLimits) here; requestRoom() bounds what waits to be sent.
//
// Worker thread only. Owned by its session until the exchange lets go
// (release() or close()); freed with Worker::deferDelete after that. A
// stream whose session ended first is orphaned: it keeps what it received
// and reports the end.
#pragma once

#include <cstdint>
#include <string>

#include "common/deletable.h"
#include "l7/http/body_relay.h"
#include "l7/http/upstream.h"

namespace ringlb {
class Worker;
}

namespace ringlb::l7 {

class H2ClientSession;

struct H2UpstreamLimits {
  static constexpr uint32_t kStreamWindow = 256 * 1024;
  static constexpr uint32_t kConnectionWindow = 4 * 1024 * 1024;
  // Request bytes waiting to become DATA frames (the client is paced by it).
  static constexpr size_t kRequestQueue = 64 * 1024;
};

class H2UpstreamStream final : public Upstream, public Deletable {
 public:
  H2UpstreamStream(H2ClientSession& session, BackendUser& user, Worker& worker);
  ~H2UpstreamStream() override;
  H2UpstreamStream(const H2UpstreamStream&) = delete;
  H2UpstreamStream& operator=(const H2UpstreamStream&) = delete;

  // --- Upstream
  ByteQueue& in() override { return in_; }
  void refresh() override;
  ByteQueue& out() override { return out_; }
  void flush() override;
  size_t requestRoom() const override;
  bool sendIdle() const override { return out_.empty() && payload_.empty(); }
  bool eof() const override { return eof_; }
  int error() const override { return error_; }
  uint64_t bytesReceived() const override { return received_; }
  // 0: a failed stream is the backend's doing, never a stale connection's
  // (passive health checks count it).
  uint32_t reuses() const override { return 0; }
  bool usesTls() override;
  std::string failureReason() override;
  Stream* pacedStream() override { return nullptr; }
  BackendConnection* connection() override { return nullptr; }
  void release() override { detach(); }
  void close() override { detach(); }

  // The session is connected: the request may be written now (otherwise
  // Connected or Error comes later).
  bool ready() const;

  // --- for the session
  int32_t id() const { return id_; }
  BackendUser* user() const { return user_; }
  // The request head is in out(): parse it (with the session's parser).
  bool headPending() const { return id_ == 0 && !out_.empty(); }
  void submitted(int32_t id, const http::MessageHead& head, const http::ParserLimits& limits);
  ByteQueue& payload() { return payload_; }
  // nghttp2's data source: what may go now, with EOF and trailers at the end.
  ssize_t readRequest(size_t length, uint32_t* flags);
  void onResponseField(std::string_view name, std::string_view value);
  void onHeadersEnd(bool endStream);
  void onData(const uint8_t* data, size_t length);
  void onEndStream();
  // nghttp2 closed the stream (`code`: RST_STREAM's, or NO_ERROR).
  void onClosed(uint32_t code);
  // The connection failed or ended: `err` for a stream still waiting for
  // its response (0: a clean end, eof()).
  void onSessionEnd(int err);
  // The session is gone: nothing more reaches it.
  void orphan() { session_ = nullptr; }
  // Moved to another session before its request went (H2UpstreamPool::rehome).
  void rebind(H2ClientSession& session) { session_ = &session; }
  // The stream failed on its own (a reset, a request nghttp2 refused).
  void fail(int err);
  bool closed() const { return closed_; }
  // Response payload received and not yet given back to the windows.
  uint64_t unacknowledged() const { return unacknowledged_; }
  const std::string& requestTrailers() const { return requestTrailers_; }
  // Events the session delivers after nghttp2 returned.
  bool takeEvent(StreamEvent& event);
  // The user starts at once (the session was ready): no Connected is owed.
  void markStarted() { started_ = true; }
  // Connected is owed (once): false when it was noted before.
  bool noteConnected() {
    if (started_) return false;
    started_ = connectedEvent_ = true;
    return true;
  }
  void noteDrained() { drained_ = true; }

 private:
  void detach();
  void pumpBody();
  void appendHead(bool endStream);
  void appendChunk(std::string_view bytes);

  H2ClientSession* session_;
  BackendUser* user_;
  Worker& worker_;
  ByteQueue out_;
  ByteQueue in_;
  ByteQueue payload_;  // request payload waiting for DATA frames
  BodyRelay requestBody_;
  std::string requestTrailers_;  // raw field lines of a chunked request's trailers
  // The response head being received (fields as HTTP/1.1 lines).
  std::string head_;
  std::string trailers_;
  std::string length_;  // the response's content-length
  uint16_t status_ = 0;
  http::Method method_ = http::Method::Get;
  uint64_t received_ = 0;
  uint64_t unacknowledged_ = 0;  // DATA payload not yet given back to the window
  size_t inSize_ = 0;            // in_.size() after our last append
  int32_t id_ = 0;
  int error_ = 0;
  bool eof_ = false;
  bool headDone_ = false;           // the final response head is in in_
  bool hasLength_ = false;          // the head being received has a content-length
  bool announcesTrailers_ = false;  // ... and a Trailer field
  bool chunked_ = false;            // the response body goes out chunked
  bool ended_ = false;              // END_STREAM came (the response is complete in in_)
  bool closed_ = false;             // nghttp2 closed the stream
  bool deferred_ = false;           // the data source waits for payload
  bool detached_ = false;           // the exchange let go
  // Events owed to the exchange (delivered outside nghttp2's callbacks).
  bool started_ = false;  // Connected was noted
  bool connectedEvent_ = false;
  bool receivedEvent_ = false;
  bool drained_ = false;
  bool errorEvent_ = false;
};

}  // namespace ringlb::l7
