// HttpSession, accept_proxy_protocol: the PROXY header (v1 or v2) that must
// open every connection, before the TLS ClientHello or the first request.
// It is read with a plain recv into a ProxyHeaderReader, bounded by the
// decoder's maximum header size and by the listener's header_timeout. The
// claimed source address becomes the client's (X-Forwarded-For, Forwarded,
// source_ip hashing, access log); what followed the header in the same read
// goes on to TLS or the request parser unchanged. A bad or missing header
// closes the connection with no HTTP answer, as HAProxy does.
#include <cstring>

#include "common/log.h"
#include "common/worker.h"
#include "l7/http_service.h"
#include "l7/http_session.h"
#include "l7/tls_conn.h"

namespace ringlb::l7 {

void HttpSession::readProxyHeader() {
  state_ = State::ReadingProxyHeader;
  proxyReader_ = std::make_unique<proxy::ProxyHeaderReader>();
  armProxyRecv();  // clientTimer_ already runs: header_timeout bounds the header
}

void HttpSession::armProxyRecv() {
  // At most one header's worth; bytes past the header are kept, not lost.
  std::span<char> space = proxyReader_->space();
  service_.worker().ring().recv(proxyRecvOp_, clientFd_, space.data(), space.size());
}

void HttpSession::onProxyRecv(Op& op) {
  if (state_ != State::ReadingProxyHeader) return;  // closed meanwhile (cancelled)
  if (op.result <= 0) {
    rejectProxyHeader(RejectReason::BadRequest, op.result == 0
                                                    ? "closed before the end of the PROXY header"
                                                    : std::strerror(-op.result));
    return;
  }
  stats_.bytesIn.add(static_cast<uint64_t>(op.result));
  touch();
  proxy::DecodeResult r = proxyReader_->received(static_cast<size_t>(op.result));
  switch (r.status) {
    case proxy::DecodeStatus::NeedMore: armProxyRecv(); break;
    case proxy::DecodeStatus::Error: rejectProxyHeader(RejectReason::BadRequest, r.error); break;
    case proxy::DecodeStatus::Done: acceptProxyHeader(r); break;
  }
}

void HttpSession::acceptProxyHeader(const proxy::DecodeResult& r) {
  std::string peer = clientAddr_;
  if (r.hasAddresses) setClientAddress(r.source);  // else (LOCAL, UNKNOWN) the peer stands
  logDebug("listener {}: PROXY v{} header from {}: client {}", service_.name(), r.version, peer,
           clientAddr_);
  state_ = State::ReadingHead;
  Worker& worker = service_.worker();
  // The first request gets a whole header_timeout of its own, as without PROXY.
  worker.timers().schedule(clientTimer_, worker.now() + listener_->headerTimeout);
  std::string_view rest = proxyReader_->rest();
  if (!rest.empty()) {
    if (tls_ != nullptr) {
      onTlsRecv(rest);  // copied: the start of the ClientHello
    } else {
      early_.assign(rest);
      req_.in.push({0, static_cast<uint32_t>(early_.size()), 0, Origin::Early});
      onClientBytes();
    }
  }
  proxyReader_.reset();
  armClientRecv();  // the caller's progress() parses or decrypts what is queued
}

void HttpSession::rejectProxyHeader(RejectReason reason, const char* why) {
  stats_.rejected[static_cast<size_t>(reason)].add();
  logDebug("listener {}: PROXY protocol header rejected from {}: {}", service_.name(), clientAddr_,
           why);
  close();  // no HTTP answer: the peer does not speak HTTP to us yet
}

}  // namespace ringlb::l7
