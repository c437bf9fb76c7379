// Exchange: one request and its response, all of its state in one object
// that a client connection creates per request and destroys when it ended
// (so every field starts fresh: nothing is reset by hand).
//
//   Routing ──route + backend──▶ Waiting (connect or keep-alive connection)
//     ──head and body sent──▶ Responding ──body relayed──▶ done()
//   any failure ──▶ failed(): the Error decides the status (or a reset)
//   101 Switching Protocols ──▶ upgraded(): the connection becomes a tunnel
//
// Phases in order: route, body limit, pick a backend (retries: another
// primary, then a backup; a dead keep-alive connection once more), write
// the upstream head, relay the request body, parse the response head (1xx
// relayed or dropped), write the client head (response edits), relay the
// response body, log. The connection drives it: step() after every event
// does whatever can be done now; events come in through onBackendEvent()
// and onResponseTimeout().
//
// Worker thread only. The connection (ExchangeContext) outlives the
// exchange; the exchange releases or closes its backend connection and
// lease when it ends or is destroyed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/access_log.h"
#include "common/error.h"
#include "common/http1/http1_parser.h"
#include "common/stream.h"
#include "common/tls/peer_identity.h"
#include "common/upstream/backend_selector.h"
#include "common/upstream/hash_key.h"
#include "config/model.h"
#include "l7/forward/forward_acl.h"
#include "l7/gateway/compress_encoder.h"
#include "l7/gateway/compress_policy.h"
#include "l7/http/backend_connection.h"
#include "l7/http/body_relay.h"
#include "l7/http/downstream.h"
#include "l7/http/exchange_cache.h"
#include "l7/http/headers.h"
#include "l7/http/upstream.h"

namespace ringlb {
struct BackendStats;
}  // namespace ringlb

namespace ringlb::l7 {

class ConnectionPool;
struct ForwardSettings;
struct ForwardTarget;

class HttpService;

// The `route` label of a forward listener's proxy-login failures
// (ringlb_auth_failures_total).
inline constexpr std::string_view kProxyAuthLabel = "proxy";

// The client connection, as its exchange sees it. It is the BackendUser of
// the exchange's backend connections and passes their events on.
class ExchangeOwner : public BackendUser {
 public:
  // Arms the response timeout for `at`, or disarms it (time_point{}).
  virtual void setResponseDeadline(std::chrono::steady_clock::time_point at) = 0;
  // Something happened outside a stream event (a name resolved): step again.
  virtual void wakeExchange() = 0;
  // The parser of the backend's response head, asked for when the first
  // response byte comes (an HTTP/1.1 connection's own; an HTTP/2 stream
  // borrows one then, so streams waiting for their backend hold none).
  virtual http::Http1Parser& responseParser() = 0;
};

// What an exchange needs from its client connection; outlives the exchange.
struct ExchangeContext {
  HttpService& service;
  ExchangeOwner& owner;
  const config::Config& config;  // the connection's snapshot
  const config::ListenerConfig& listener;
  Downstream& client;
  std::string_view clientIp;    // "192.0.2.1" (X-Forwarded-For, hashing)
  std::string_view clientAddr;  // "192.0.2.1:5000" (the access log)
  bool tls = false;             // X-Forwarded-Proto
  // Mutual TLS listeners: the client certificate's identity, from the end of
  // the handshake (X-Client-* headers; the connection owns it); null elsewhere.
  const tls::PeerIdentity* clientIdentity = nullptr;
  // The protocol the client spoke, for the access log ("HTTP/2"); empty:
  // the request head's HTTP/1.x version.
  std::string_view protocol{};
  bool draining = false;   // the listener is stopping: the last exchange
  uint64_t headBytes = 0;  // the request head's size on the wire
  // Forward listeners: the routing policy is the forward proxy's (absolute
  // URIs and CONNECT to any allowed destination), not routes and pools.
  const ForwardSettings* forward = nullptr;
  // A background refresh of a cached response (background_fetch.h): no
  // client waits for it, and it is counted as a refresh, not as a request.
  CacheRefresh* refresh = nullptr;
};

class Exchange {
 public:
  // `head` is the request head just parsed (the request parser's: valid for
  // the whole exchange).
  Exchange(ExchangeContext& context, const http::MessageHead& head);
  // A request refused before routing (a bad or slow head): failed() at once.
  Exchange(ExchangeContext& context, const http::MessageHead& head, Error rejected);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Does whatever can be done now; call after every event.
  void step();
  void onBackendEvent(Upstream& upstream, StreamEvent event);
  void onResponseTimeout();

  // Forward proxy: the name resolved (ForwardTarget's job).
  void onResolved();

  bool done() const { return phase_ == Phase::Done; }
  const std::optional<Error>& failed() const { return failure_; }
  // What the error page says beyond the status (the forward proxy's 403 rule).
  const std::string& failureDetail() const { return failureDetail_; }
  bool forwardMode() const { return context_.forward != nullptr; }
  bool upgraded() const { return phase_ == Phase::Tunnel; }
  // A final response head went to the client (an error page can no longer).
  bool responseStarted() const { return phase_ >= Phase::Responding; }
  // The client connection may carry another request afterwards.
  bool keepAlive() const { return keepAlive_; }
  // The request body was read to its end (nothing of it is left unread).
  bool requestComplete() const { return requestBody_.done(); }
  // Everything the client sent so far reached the backend (or there is no
  // backend to send it to).
  bool requestFlushed() const;

  // For a tunnel after 101: the backend connection, handed over.
  BackendConnection* takeConnection();
  // Gives the lease back and records the exchange in the stats and the
  // access log: `bytesSent` to the client. A forward tunnel passes what it
  // relayed from the client and how it ended.
  void finish(uint16_t statusSent, uint64_t bytesSent, std::optional<uint64_t> bytesIn = {},
              AccessEnd end = AccessEnd::None);
  uint16_t status() const { return status_; }

 private:
  // Reverse proxy: the route, the pool and the backend picked in it.
  struct BackendChoice {
    const config::RouteConfig* route = nullptr;
    const std::string* poolName = nullptr;  // the route's, or the listener's
    const config::PoolConfig* pool = nullptr;
    upstream::BackendSelector* selector = nullptr;
    upstream::Lease lease;
    upstream::BackendSelector* leaseSelector = nullptr;
    BackendStats* stats = nullptr;
    upstream::TriedSet tried;
    std::optional<uint64_t> keyHash;
    uint32_t connectAttempts = 0;
  };

  // --- routing (exchange_route.cc: reverse; exchange_forward.cc: forward)
  void route();
  // After the gateway and the cache: the pool, the upstream head, a backend.
  void routeUpstream();
  std::optional<uint64_t> hashKey();
  void pick();
  void routeForward();
  // The forward ACL refused the destination: 403, counted by its rule.
  void denyForward(AclVerdict verdict);
  // A connect to a name's address failed: the next one (true), if any.
  bool connectNextAddress();
  // The addresses of one name tried at most (each gets the connect timeout).
  static constexpr size_t kMaxForwardAddresses = 4;
  void resolved(const sockaddr* address, socklen_t length);
  void connectTo(const config::SocketAddress& address, config::Duration timeout);
  void connectH2(const std::string& key, const config::SocketAddress& address,
                 config::Duration timeout);
  void releaseLease();
  void noteBackendFault(const Error& error);
  // A route's redirect: answered here, nothing goes upstream.
  void answerRedirect();
  // --- the gateway's phases (exchange_gateway.cc)
  // CORS preflight, authentication, rate limit: false when the request was
  // answered here (nothing goes upstream).
  bool admitRequest();
  bool authenticate(const config::AuthConfig& auth);
  std::string routeLabel() const;
  // Compression of this response: decided, and the encoder made; false: none.
  bool prepareCompression(const http::MessageHead& response);
  // The response head with the route's CORS and compression edits.
  void sendEditedResponseHead(const http::MessageHead& response, ResponseHeadOptions options);
  void corsFields(std::vector<http::HeaderView>& fields);
  // Moves the response body as payload (through the encoder, into the cache's
  // capture), at most `room` bytes of it, re-framed for the client.
  void pumpPayload(size_t room);
  // --- the edge cache (exchange_cache.cc)
  // True when the request was answered from the cache or waits for another
  // request's fetch of its key; false: go upstream.
  bool lookupCache();
  // A background refresh (context_.refresh): validate the handed copy.
  void refreshLookup();
  // Within stale-while-revalidate, this request claimed the fill: a
  // background exchange takes it over; false if none could start.
  bool refreshInBackground();
  void answerFromCache(const cache::StoredResponse& stored, CacheResult result);
  void cacheWaitOver();
  // The response head came: true when the cache answered instead (a 304
  // refreshed the copy, or an error made the stale copy serve).
  bool cacheResponseHead(const http::MessageHead& response);
  // Whether to capture this response for the store (decided at the head).
  bool startCapture(const http::MessageHead& response);
  // The client head's fields are known (after the gateway's edits).
  void captureFields(std::span<const http::HeaderView> fields);
  void captureBody(std::string_view bytes);
  void endCapture();
  // A failure before the response started: the stale copy serves instead.
  bool serveStaleOnError(const Error& error);
  // ringlb_cache_requests_total, or for a background refresh
  // ringlb_cache_refreshes_total.
  void countCache(uint16_t statusSent);
  // --- the exchange (exchange.cc)
  // A response the proxy makes itself (not an error): head and body to the
  // client side, then Done once sent.
  // `cors`: add the route's CORS fields (a preflight's answer has its own).
  void answerLocally(uint16_t status, std::span<const http::HeaderView> fields,
                     std::string_view body, bool cors = true);
  void signalComplete();
  void startAttempt(Upstream* upstream);
  void connectFailed(int err);
  void backendFailed(Error error);
  void fail(Error error, std::string detail = {});
  void sendRequest();
  void parseResponseHead();
  void onResponseHead();
  void writeResponseHead(const http::MessageHead& h, const ResponseHeadOptions& options);
  void startTunnel();
  void checkBackendEnd();
  // The owner's response parser, reset for this request on first use.
  http::Http1Parser& responseParser();
  void dropBackend(bool reusable);
  // --- the access log (exchange_log.cc)
  void logAccess(uint16_t status, uint64_t bytesSent);
  void logForward(uint16_t status, uint64_t bytesSent, std::optional<uint64_t> bytesIn,
                  AccessEnd end);

  // Where the exchange stands; each later phase implies the earlier ones.
  enum class Phase : uint8_t {
    Routing,     // route and limits checked, nothing asked of a backend yet
    Waiting,     // a backend is being resolved, connected or taken from the pool
    Requesting,  // the head (and body) go out; no response head yet
    Responding,  // the final response head went to the client
    Done,        // the response is relayed and sent
    Tunnel,      // 101 or CONNECT: the connection relays bytes from here
  };
  struct Timing {
    std::chrono::steady_clock::time_point start;    // the head arrived
    std::chrono::steady_clock::time_point attempt;  // the current backend attempt began
    std::optional<std::chrono::microseconds> connect;
    std::optional<std::chrono::microseconds> response;
  };

  ExchangeContext& context_;
  const http::MessageHead& head_;
  BackendChoice choice_;
  std::unique_ptr<ForwardTarget> forward_;  // forward listeners only
  bool forwardAllowed_ = false;             // the forward ACL let the destination through
  // A name's addresses that passed the ACL, tried in order while connects fail.
  std::vector<config::SocketAddress> forwardAddresses_;
  size_t forwardNext_ = 0;
  std::string backendKey_;  // backend address, or the forward "host:port"
  bool retried_ = false;    // the once-more after a failed reused connection
  // The backend.
  Upstream* conn_ = nullptr;
  std::string upstreamHead_;  // kept for a retry
  BodyRelay requestBody_;
  BodyRelay responseBody_;
  std::optional<Error> failure_;
  std::string failureDetail_;
  std::optional<Error> lastError_;  // the failure a retry may still make up for
  uint16_t status_ = 0;
  http::Http1Parser* responseParser_ = nullptr;  // null until the response head starts
  uint64_t backendBytesAtStart_ = 0;             // what the stream had received before this attempt
  Phase phase_ = Phase::Routing;
  bool backendKeepAlive_ = false;   // the backend's connection may carry the next exchange
  bool keepAlive_ = true;           // the client's may
  bool finished_ = false;           // counted and logged
  bool completeSignalled_ = false;  // the client side was told the body ended
  bool local_ = false;              // answered by the proxy itself (a redirect)
  // The gateway: who authenticated (access log), the claims for the backend,
  // the CORS fields of the response, and the response's encoder.
  std::string authSubject_;
  std::string_view authFailure_;
  std::string_view limitVerdict_;
  std::vector<config::HeaderEdit> claimHeaders_;
  std::vector<config::HeaderEdit> corsEdits_;
  std::optional<CompressDecision> compressDecision_;
  std::unique_ptr<Encoder> encoder_;
  std::optional<ByteQueue> plain_;        // de-chunked payload on its way into the encoder
  bool chunkedOut_ = false;               // pumpPayload frames the body in chunks (HTTP/1.1)
  bool payloadEnded_ = false;             // pumpPayload wrote the body's end
  std::unique_ptr<ExchangeCache> cache_;  // routes with `cache` only
  // The access log.
  std::string requestId_;
  Timing timing_;
};

}  // namespace ringlb::l7
