// HttpSession, TLS termination: the handshake, decryption of what the client
// sent into the request queue, encryption of everything sent to the client,
// close_notify, and TLS failures (closed and counted, never answered in
// plaintext). The ring does the socket I/O; TlsStream only moves bytes.
#include <sys/socket.h>

#include <utility>

#include "common/log.h"
#include "common/worker.h"
#include "l7/http_service.h"
#include "l7/http_session.h"
#include "l7/tls_conn.h"

namespace ringlb::l7 {

bool HttpSession::startTls() {
  auto context = service_.tlsContext(config_, *listener_);
  std::unique_ptr<TlsStream> stream;
  if (context) stream = TlsStream::server(context->defaultContext());
  if (!stream) {
    // Certificates that never loaded (logged by the service): refuse, never plaintext.
    stats_.rejected[static_cast<size_t>(RejectReason::TlsHandshake)].add();
    return false;
  }
  tls_ = std::make_unique<TlsConn>();
  tls_->context = std::move(context);
  tls_->stream = std::move(stream);
  return true;
}

void HttpSession::onTlsRecv(std::string_view ciphertext) {
  tls_->stream->feedCiphertext(ciphertext);
}

namespace {
constexpr size_t kMaxTlsBacklog = 64 * 1024;
}  // namespace

bool HttpSession::tlsBacklogged() const {
  return tls_ != nullptr && tls_->stream->pendingCiphertext() >= kMaxTlsBacklog;
}

void HttpSession::pullTls() {
  if (state_ == State::Closing || state_ == State::Lingering || clientEof_ ||
      state_ == State::ReadingProxyHeader) {
    return;
  }
  TlsStream& stream = *tls_->stream;
  if (!stream.handshakeDone()) {
    TlsStatus status = stream.handshake();
    if (status == TlsStatus::Error) {
      tlsFailed();
      return;
    }
    flushTls();
    if (status != TlsStatus::Ok) {
      if (tls_->sawEof) close();  // gone in the middle of the handshake
      return;
    }
    logDebug("listener {}: TLS from {}: {} {}, server name \"{}\"", service_.name(), clientIp_,
             SSL_get_version(stream.ssl()), SSL_get_cipher_name(stream.ssl()), stream.serverName());
  }
  // Decrypt only while the queue has room: the rest waits in the read BIO,
  // and the paused receive applies backpressure as for plaintext.
  while (req_.in.size() < kMaxQueuedBuffers && !tlsBacklogged()) {
    uint16_t id = tls_->plain.acquire();
    TlsStream::Read r = stream.readPlaintext({tls_->plain.data(id), TlsPlainBuffers::kSize});
    if (r.status == TlsStatus::Ok) {
      req_.in.push({id, static_cast<uint32_t>(r.bytes), 0, Origin::Tls});
      onClientBytes();
      continue;
    }
    tls_->plain.release(id);
    if (r.status == TlsStatus::Error) {
      tlsFailed();
      return;
    }
    if (r.status == TlsStatus::Closed || tls_->sawEof) onClientEof();
    break;
  }
  flushTls();  // e.g. session tickets after the handshake
}

void HttpSession::sendToClient(Pipe& p, int fd, const char* data, size_t len) {
  if (tls_ == nullptr || &p != &resp_) {
    service_.worker().ring().send(p.sendOp, fd, data, len);
    return;
  }
  // The send op is idle, so every earlier ciphertext byte went out already.
  if (tls_->stream->writePlaintext({data, len}) != TlsStatus::Ok) {
    tlsFailed();
    return;
  }
  tls_->plainPending = len;
  sendTlsNow();
}

void HttpSession::sendTlsNow() {
  tls_->out.clear();
  tls_->outSent = 0;
  tls_->stream->takeCiphertext(tls_->out);
  service_.worker().ring().send(resp_.sendOp, clientFd_, tls_->out.data(), tls_->out.size());
}

void HttpSession::onTlsSent(int result) {
  if (state_ == State::Closing) return;
  if (result < 0) {
    tls_->failed = true;
    onPipeSent(resp_, result);  // closes, as for plaintext
    return;
  }
  tls_->outSent += static_cast<size_t>(result);
  if (tls_->outSent < tls_->out.size()) {
    service_.worker().ring().send(resp_.sendOp, clientFd_, tls_->out.data() + tls_->outSent,
                                  tls_->out.size() - tls_->outSent);
    return;
  }
  // The whole record batch went out: the pipe sees its plaintext as sent.
  size_t plain = std::exchange(tls_->plainPending, 0);
  if (plain > 0) onPipeSent(resp_, static_cast<int>(plain));
  flushTls();
}

void HttpSession::flushTls() {
  if (state_ == State::Closing || resp_.sendOp.inFlight()) return;
  if (tls_->stream->pendingCiphertext() == 0) return;
  tls_->plainPending = 0;  // handshake records, tickets: nothing for the pipe
  sendTlsNow();
}

void HttpSession::closeNotify() {
  // Best effort and synchronous: it is tiny, and the close that follows
  // cancels whatever is still in flight on the socket.
  if (tls_->failed || resp_.sendOp.inFlight() || !tls_->stream->handshakeDone()) return;
  tls_->stream->shutdown();
  std::string bytes;
  tls_->stream->takeCiphertext(bytes);
  if (!bytes.empty()) ::send(clientFd_, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
}

void HttpSession::tlsFailed() {
  TlsStream& stream = *tls_->stream;
  bool inHandshake = !stream.handshakeDone();
  logDebug("listener {}: TLS {} from {}: {}", service_.name(),
           inHandshake ? "handshake failed" : "error", clientIp_, stream.error());
  stats_.rejected[static_cast<size_t>(RejectReason::TlsHandshake)].add();
  // Let the client read OpenSSL's alert (e.g. protocol_version) if the socket is free.
  if (!resp_.sendOp.inFlight()) {
    std::string alert;
    stream.takeCiphertext(alert);
    if (!alert.empty()) ::send(clientFd_, alert.data(), alert.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  }
  tls_->failed = true;
  close();
}

}  // namespace ringlb::l7
