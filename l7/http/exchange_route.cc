// Exchange, routing for the reverse proxy: the route, the body limit, the
// pool, and a backend picked in it (retries: another primary, then a
// backup); the keep-alive connection to it or a new one.
#include <fmt/format.h>

#include <array>
#include <cerrno>

#include "common/log.h"
#include "common/passive_reports.h"
#include "common/stats.h"
#include "common/worker.h"
#include "l7/forward/forward_target.h"
#include "l7/gateway/redirect.h"
#include "l7/gateway/rewrite.h"
#include "l7/http/connection_pool.h"
#include "l7/http/exchange.h"
#include "l7/http/http_service.h"
#include "l7/http/router.h"

namespace ringlb::l7 {

void Exchange::route() {
  const uint64_t limit = context_.listener.maxBodySize;
  if (limit != 0 && head_.framing == http::BodyFraming::ContentLength &&
      head_.contentLength > limit) {
    fail(makeError(ErrorCode::BodyTooLarge));  // before any byte reaches a backend
    return;
  }
  requestBody_ = BodyRelay(head_, false, limit, parserLimits(context_.listener));
  if (forwardMode()) {
    routeForward();
    return;
  }
  if (head_.method == http::Method::Connect) {
    fail(makeError(ErrorCode::MethodNotAllowed));  // a reverse proxy has no CONNECT
    return;
  }
  RouteMatch match = Router(context_.listener)
                         .match({head_.authority, head_.path, head_.methodName, head_.headers});
  if (!match.found()) {
    fail(makeError(ErrorCode::NoRoute));
    return;
  }
  choice_.route = match.route;
  choice_.poolName = match.pool;
  if (choice_.route != nullptr && !choice_.route->redirect.empty()) {
    answerRedirect();
    return;
  }
  if (context_.refresh != nullptr) {
    // A background refresh: its request was admitted when it came.
    if (choice_.route == nullptr || !choice_.route->cache) {
      fail(makeError(ErrorCode::NoRoute));  // a reload took the route's cache away
      return;
    }
    claimHeaders_ = std::move(context_.refresh->claimHeaders);
    authSubject_ = std::move(context_.refresh->authSubject);
  } else if (choice_.route != nullptr && !admitRequest()) {
    return;  // CORS preflight, auth, rate limit
  }
  if (choice_.route != nullptr && choice_.route->cache && lookupCache()) return;
  routeUpstream();
}

void Exchange::routeUpstream() {
  choice_.pool = context_.config.findPool(*choice_.poolName);
  choice_.selector = context_.service.worker().pool(*choice_.poolName);
  if (choice_.pool == nullptr || choice_.selector == nullptr) {
    fail(makeError(ErrorCode::NoBackendUp));
    return;
  }
  choice_.keyHash = hashKey();
  // The upstream head: the client's X-Request-Id, or a new one.
  std::string_view generated;
  if (const http::HeaderView* given = head_.find("x-request-id")) {
    requestId_.assign(given->value);
  } else {
    HttpService& s = context_.service;
    requestId_ = formatRequestId(s.nextRandom(), s.nextRandom());
    generated = requestId_;
  }
  // The head is the request's plus the forwarding fields: one allocation.
  upstreamHead_.reserve(context_.headBytes + 384);
  ForwardInfo info{context_.clientIp, context_.tls ? "https" : "http", generated,
                   context_.listener.bind.text, context_.clientIdentity};
  if (choice_.route != nullptr && choice_.route->auth) {
    info.auth = &*choice_.route->auth;  // the claims' headers come from the proxy only
    info.addFields = claimHeaders_;
  }
  std::string rewritten;
  if (choice_.route != nullptr && !choice_.route->rewritePrefix.empty()) {
    std::string_view target =
        head_.targetForm == http::TargetForm::Absolute ? head_.path : head_.target;
    rewritten = rewriteTarget(target, choice_.route->pathPrefix, choice_.route->rewritePrefix);
    info.target = rewritten;
  }
  if (cache_ && cache_->validating) {
    info.revalidating = true;
    info.validators = cache_->validators;
  }
  writeUpstreamRequestHead(head_, choice_.route, info, upstreamHead_);
  pick();
}

void Exchange::answerRedirect() {
  std::string location =
      redirectLocation(*choice_.route, head_, hostWithoutPort(context_.listener.bind.text));
  uint16_t status = choice_.route->redirectCode;
  std::string body = fmt::format("{} {}: {}\n", status, http::reasonPhrase(status), location);
  std::array<http::HeaderView, 1> fields{{{"Location", location}}};
  answerLocally(status, fields, body);
}

std::optional<uint64_t> Exchange::hashKey() {
  if (choice_.pool->balance != config::BalanceAlgorithm::Hash) return std::nullopt;
  std::vector<upstream::HeaderField> fields;
  fields.reserve(head_.headers.size());
  for (const auto& f : head_.headers) fields.push_back({f.name, f.value});
  upstream::RequestKeyView view{context_.clientIp, head_.target, fields};
  auto key = upstream::extractHashKey(choice_.pool->hashKey, view);
  if (!key) return std::nullopt;
  return upstream::hashBytes(*key);
}

void Exchange::pick() {
  auto picked =
      choice_.selector->acquire(context_.service.worker().now(), choice_.keyHash, &choice_.tried);
  if (!picked.ok()) {
    // AllTried: every backend failed this request; its last failure answers.
    bool noneUp = picked.failure == upstream::PickFailure::NoBackendUp;
    fail(noneUp ? makeError(ErrorCode::NoBackendUp)
                : lastError_.value_or(makeError(ErrorCode::ConnectFailed)));
    return;
  }
  choice_.lease = std::move(picked.lease);
  choice_.leaseSelector = choice_.selector;
  backendKey_.assign(choice_.lease.backend().address);
  choice_.stats = &context_.service.backendStats(choice_.pool->name, backendKey_);
  choice_.stats->requests.add();
  choice_.stats->active.add();
  connectTo(choice_.lease.backend().resolved, choice_.pool->connectTimeout);
}

// A keep-alive connection to backendKey_, or a new one to `address`.
void Exchange::connectTo(const config::SocketAddress& address, config::Duration timeout) {
  timing_.attempt = context_.service.worker().now();
  phase_ = Phase::Waiting;
  ConnectionPool& connections = context_.service.connections();
  // After a dead keep-alive connection, the once-more goes on a fresh one;
  // a CONNECT tunnel always gets its own (and never parks it).
  bool fresh = retried_ || (forward_ && forward_->tunnel);
  // TLS connections are kept apart from plaintext ones to the same address.
  const config::PoolConfig* pool = forward_ ? nullptr : choice_.pool;
  bool tls = pool != nullptr && pool->tls.has_value();
  std::string key = tls ? "tls/" + pool->name + "/" + backendKey_ : backendKey_;
  if (pool != nullptr && pool->protocol == config::UpstreamProtocol::H2) {
    connectH2(key, address, timeout);
    return;
  }
  BackendConnection* idle = fresh ? nullptr : connections.take(key, context_.owner);
  if (idle != nullptr) {
    startAttempt(idle);
    return;
  }
  BackendConnection* conn = connections.open(key);
  conn_ = conn;
  std::unique_ptr<tls::TlsStream> stream;
  if (tls) {
    stream = context_.service.backendTls(*pool, backendKey_, /*http=*/true);
    if (!stream) {
      conn->failToConnect(context_.owner, EPROTO);  // the pool's TLS never loaded (logged)
      return;
    }
  }
  // A forward listener's `source`: connections to origins leave from it.
  const config::SocketAddress* source =
      forward_ && context_.listener.source ? &*context_.listener.source : nullptr;
  conn->connect(address, timeout, context_.owner, std::move(stream), source);
}

// A stream on an HTTP/2 connection to backendKey_ (with room), or on a new
// one: it is ready at once when its connection is up.
void Exchange::connectH2(const std::string& key, const config::SocketAddress& address,
                         config::Duration timeout) {
  H2UpstreamPool& sessions = context_.service.h2Upstreams();
  H2UpstreamStream* stream = sessions.take(key, context_.owner);
  if (stream == nullptr) {
    H2ConnectSpec spec{address, timeout, choice_.pool->tls.has_value(), nullptr};
    if (spec.tlsWanted) {
      // Later connections (more streams than one allows) are made from the
      // worker's current config, like any new connection.
      spec.makeTls = [&service = context_.service, pool = choice_.pool->name,
                      backend = backendKey_]() -> std::unique_ptr<tls::TlsStream> {
        const config::PoolConfig* p = service.worker().config()->findPool(pool);
        if (p == nullptr || !p->tls) return nullptr;
        return service.backendTls(*p, backend, /*http=*/true);
      };
    }
    stream = sessions.connect(key, std::move(spec), context_.owner);
  }
  conn_ = stream;
  if (stream->ready()) startAttempt(stream);
}

void Exchange::noteBackendFault(const Error& error) {
  if (choice_.pool == nullptr) return;  // the forward proxy's origins are not a pool
  if (choice_.stats != nullptr) choice_.stats->connectFailures.add();
  context_.service.worker().shared().passiveReports.failure(choice_.pool->name, backendKey_,
                                                            error.name());
}

void Exchange::releaseLease() {
  if (!choice_.lease) return;
  if (choice_.stats != nullptr) choice_.stats->active.sub();
  choice_.leaseSelector->release(choice_.lease);
}

}  // namespace ringlb::l7
