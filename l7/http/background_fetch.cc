#include "l7/http/background_fetch.h"

#include <fmt/format.h>

#include "common/ascii.h"
#include "common/log.h"
#include "common/stream.h"
#include "common/worker.h"
#include "l7/http/headers.h"
#include "l7/http/http_service.h"

namespace ringlb::l7 {
namespace {

// Fields of the client's request the refresh does not repeat: the
// connection's, the body's framing, and what would make the answer partial
// or conditional on the client's copy (the stored copy's validators are
// written instead).
bool notRepeated(const http::MessageHead& request, std::string_view name) {
  if (request.isHopByHop(name) || isConditionalOrRange(name)) return true;
  for (std::string_view n : {"host", "content-length", "transfer-encoding", "expect"}) {
    if (equalsIgnoreCase(name, n)) return true;
  }
  return false;
}

}  // namespace

bool BackgroundFetch::start(HttpService& service, const http::MessageHead& request,
                            const ExchangeContext& origin, std::unique_ptr<CacheRefresh>& refresh) {
  // The worker's current snapshot: a connection opened before a reload may
  // still hold an older one, and this fetch may outlive the connection.
  std::shared_ptr<const config::Config> config = service.worker().config();
  const config::ListenerConfig* listener = nullptr;
  for (const auto& l : config->listeners) {
    if (l.name == service.name()) listener = &l;
  }
  if (listener == nullptr) return false;
  std::string text;
  text.reserve(512);
  text.append("GET ").append(request.target).append(" HTTP/1.1\r\nHost: ");
  text.append(request.authority).append("\r\n");
  for (const auto& f : request.headers) {
    if (notRepeated(request, f.name)) continue;
    text.append(f.name).append(": ").append(f.value).append("\r\n");
  }
  text.append("\r\n");
  auto* fetch = new BackgroundFetch(service, std::move(config), *listener);
  http::ParseResult parsed = fetch->requestParser_.feed(text);
  if (parsed.status != http::ParseStatus::HeadComplete) {
    logDebug("listener {}: the refresh of {} did not parse ({}): revalidated in the foreground",
             listener->name, request.target, http::errorName(parsed.error));
    delete fetch;
    return false;
  }
  fetch->run(origin, std::move(refresh));
  return true;
}

BackgroundFetch::BackgroundFetch(HttpService& service, std::shared_ptr<const config::Config> config,
                                 const config::ListenerConfig& listener)
    : service_(service),
      config_(std::move(config)),
      listener_(listener),
      requestParser_(http::MessageKind::Request, parserLimits(listener)),
      responseParser_(http::MessageKind::Response, parserLimits(listener)),
      requestBody_(service.worker().bufferStore()),
      responseBody_(service.worker().bufferStore()) {}

BackgroundFetch::~BackgroundFetch() = default;

void BackgroundFetch::run(const ExchangeContext& origin, std::unique_ptr<CacheRefresh> refresh) {
  Worker& worker = service_.worker();
  worker.addSession(*this);
  service_.backgroundFetchStarted();
  clientIp_ = origin.clientIp;
  clientAddr_ = origin.clientAddr;
  if (origin.clientIdentity != nullptr) clientIdentity_ = *origin.clientIdentity;
  refresh_ = std::move(refresh);
  const http::MessageHead& head = requestParser_.head();
  context_.emplace(ExchangeContext{service_, *this, *config_, listener_, *this, clientIp_,
                                   clientAddr_, origin.tls});
  context_->clientIdentity = clientIdentity_ ? &*clientIdentity_ : nullptr;
  context_->protocol = "HTTP/1.1";
  context_->headBytes = requestParser_.rawHead().size();
  context_->refresh = refresh_.get();
  exchange_.emplace(*context_, head);
  step();
}

void BackgroundFetch::step() {
  if (!exchange_ || stepping_) return;
  stepping_ = true;
  exchange_->step();
  stepping_ = false;
  if (exchange_->done() || exchange_->failed()) end();
}

void BackgroundFetch::end() {
  if (ended_) return;
  ended_ = true;
  Worker& worker = service_.worker();
  if (exchange_) {
    const auto& failure = exchange_->failed();
    exchange_->finish(failure ? failure->status() : exchange_->status(), 0);
    exchange_.reset();  // abandons a fill it did not end: the next request fetches
  }
  worker.timers().cancel(timer_);
  worker.removeSession(*this);
  service_.backgroundFetchEnded();
  worker.deferDelete(this);
}

void BackgroundFetch::abort() { end(); }

void BackgroundFetch::onBackendEvent(Upstream& upstream, StreamEvent event) {
  if (!exchange_) return;
  exchange_->onBackendEvent(upstream, event);
  step();
}

void BackgroundFetch::setResponseDeadline(std::chrono::steady_clock::time_point at) {
  if (at == std::chrono::steady_clock::time_point{}) {
    service_.worker().timers().cancel(timer_);
  } else {
    service_.worker().timers().schedule(timer_, at);
  }
}

void BackgroundFetch::onTimer(Timer&) {
  if (!exchange_) return;
  exchange_->onResponseTimeout();
  step();
}

void BackgroundFetch::pair(Stream* backend) {
  // No client to pace the backend by: the answer is read as fast as it comes.
  if (backend_ != nullptr && backend_ != backend) backend_->limitBy(nullptr);
  backend_ = backend;
  if (backend_ != nullptr) backend_->limitBy(nullptr);
}

}  // namespace ringlb::l7
