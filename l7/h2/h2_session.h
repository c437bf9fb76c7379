// H2Session: the HTTP/2 side of one client connection (ALPN "h2" after a
// TLS handshake, or "h2c" prior knowledge on a plain listener). nghttp2 does
// the frame layer and HPACK over the connection's Stream (received bytes in
// with nghttp2_session_mem_recv, frames out by its send callbacks into the
// stream's out()); each request stream is an H2Stream with its own exchange,
// routed and balanced alone.
//
// Limits (docs/http2.md): SETTINGS as in H2Limits; the raw bytes of a
// header block (HEADERS and its CONTINUATIONs) at most max_header_size plus
// one frame; budgets for client resets and no-progress frames (h2_limits.h);
// at most kMaxOutboundAcks unread ACKs; a connection with no stream closes
// after idle_timeout (GOAWAY NO_ERROR), and one whose preface does not come
// within header_timeout closes without a word.
//
// Reading stops while the socket's send queue is full, so a client that
// does not read cannot make the proxy queue without bound.
//
// Worker thread only. Owned by the HttpConnection, which it tells through
// H2Owner once the connection should close. Every entry point runs inside
// Entry (depth counted): streams that closed are freed and the owner told
// only at the outermost level.
#pragma once

#include <nghttp2/nghttp2.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/access_log.h"
#include "common/http1/http1_parser.h"
#include "common/stream.h"
#include "common/timer_wheel.h"
#include "config/model.h"
#include "l7/h2/h2_limits.h"
#include "l7/http/exchange.h"

namespace ringlb {
struct ListenerStats;
}

namespace ringlb::l7 {

class H2Stream;
class HttpService;

// A field for nghttp2's submit calls, which copy it: the views need to live
// only until then.
inline nghttp2_nv h2Field(std::string_view name, std::string_view value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          NGHTTP2_NV_FLAG_NONE};
}

// nghttp2 fields viewing `lines` (as h2TrailerLines() writes them).
std::vector<nghttp2_nv> h2TrailerFields(std::string_view lines);

class H2Owner {
 public:
  virtual ~H2Owner() = default;
  // The session is over (GOAWAY exchanged and streams done, a protocol
  // error, the client gone): close the connection. `graceful`: cleanly.
  virtual void onH2Finished(bool graceful, AccessEnd why) = 0;
};

// What every stream's exchange shares with the connection.
struct H2ConnectionInfo {
  const config::Config& config;
  const config::ListenerConfig& listener;
  std::string_view clientIp;
  std::string_view clientAddr;
  bool tls = false;
  const tls::PeerIdentity* clientIdentity = nullptr;
};

class H2Session final : public TimerHandler {
 public:
  H2Session(HttpService& service, Stream& client, H2Owner& owner, H2ConnectionInfo info);
  ~H2Session() override;
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  // Sends the server SETTINGS and reads what the client already sent (the
  // preface, at least its start, is in client.in()). False: nghttp2 failed.
  bool start();
  // The client stream's Received / Drained / Eof.
  void onClientEvent(StreamEvent event);
  void onTimer(Timer& timer) override;
  // Graceful stop: GOAWAY, streams in progress finish, then the owner hears.
  void drain();
  // The connection closes now: every exchange is finished and logged.
  void abandon(AccessEnd why);

  // --- for streams
  HttpService& service() { return service_; }
  const H2ConnectionInfo& info() const { return info_; }
  ListenerStats& stats();
  bool draining() const { return draining_; }
  nghttp2_session* nghttp2() { return session_; }
  // Something changed for a stream (its exchange moved): step it and send.
  void wake();
  // The stream closed (nghttp2's on_stream_close): freed later.
  void retire(H2Stream& stream);
  void resumeData(int32_t id);
  // Response parsers lent to streams: a few are kept for the next ones.
  std::unique_ptr<http::Http1Parser> lendParser();

  // Scratch space for one response head's fields (nghttp2 copies them when
  // they are submitted): reused, so a response allocates nothing here.
  struct ResponseFields {
    std::string names;  // lower-cased names, one after the other
    std::vector<http::HeaderView> fields;
    std::vector<nghttp2_nv> nv;
    void clear() {
      names.clear();
      fields.clear();
      nv.clear();
    }
    // nv: ":status" first, then the fields with their lower-cased names.
    void build(std::string_view status);
  };
  ResponseFields& responseFields() { return responseFields_; }
  void resetStream(int32_t id, uint32_t code);

  // Marks an entry point (see the header comment).
  class Entry {
   public:
    explicit Entry(H2Session& s) : s_(s) { ++s_.depth_; }
    ~Entry() { s_.leave(); }
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;

   private:
    H2Session& s_;
  };

 private:
  friend struct H2Callbacks;

  void progress();
  void receive();
  void send();
  void leave();
  bool over() const;
  // GOAWAY with `code` and close; `limit`: the attack limit that struck.
  void terminate(uint32_t code, std::optional<Http2Limit> limit);
  void armTimer();
  H2Stream* stream(int32_t id);

  HttpService& service_;
  Stream& client_;
  H2Owner& owner_;
  H2ConnectionInfo info_;
  nghttp2_session* session_ = nullptr;
  std::unordered_map<int32_t, H2Stream*> streams_;  // open streams, owned
  std::vector<H2Stream*> stepping_;                 // progress()'s list, kept for its capacity
  std::vector<std::unique_ptr<http::Http1Parser>> parsers_;  // idle response parsers
  ResponseFields responseFields_;
  // The preface's header_timeout; then idle_timeout with no stream open, and
  // idle_timeout for a send queue the client does not read from.
  Timer timer_{*this};
  std::chrono::steady_clock::time_point lastActivity_{};  // start, or the last stream's end
  std::chrono::steady_clock::time_point lastSend_{};      // the send queue was empty or moved
  uint64_t sentBefore_ = 0;                               // client bytes sent at lastSend_
  TokenBucket resets_{H2Limits::kResetBurst, H2Limits::kResetsPerSecond};
  TokenBucket control_{H2Limits::kControlBurst, H2Limits::kControlPerSecond};
  uint64_t headerBlockBytes_ = 0;  // raw bytes of the header block being received
  int32_t lastStreamId_ = -1;      // the highest stream the client opened (or tried to)
  int32_t goawayLastId_ = 0;       // draining: streams past it are refused
  // Stream ids the client skipped (closed without ever being opened, RFC
  // 9113 section 5.1.1): the last few ranges, to refuse HEADERS on them.
  std::vector<std::pair<int32_t, int32_t>> skipped_;
  int depth_ = 0;
  bool prefaceSeen_ = false;  // the client's SETTINGS arrived
  bool draining_ = false;
  bool failed_ = false;       // nghttp2 gave up on the connection (a fatal error)
  bool terminating_ = false;  // our GOAWAY with an error is queued: read nothing more
  bool reported_ = false;     // the owner was told
  bool idleClose_ = false;    // closed for idle_timeout: the owner's graceful close
};

}  // namespace ringlb::l7
