#include "common/relay.h"

#include "common/socket.h"

namespace ringlb {

Relay::Relay(Stream& client, Stream& backend, RelayHandler& handler)
    : client_(client), backend_(backend), handler_(handler) {}

void Relay::start() {
  lastActivity_ = client_.io().now;
  // Each side's receiving waits for the other side's send queue.
  client_.setHandler(*this);
  backend_.setHandler(*this);
  client_.limitBy(&backend_);
  backend_.limitBy(&client_);
  for (Stream* s : {&client_, &backend_}) {
    s->startReceiving();
    pump(*s);
  }
  checkDone();
}

void Relay::pump(Stream& from) {
  Stream& to = other(from);
  if (!from.in().empty()) {
    from.in().moveTo(to.out(), from.in().size());
    to.flush();
    from.refresh();  // its receiving now waits on `to`'s queue
    lastActivity_ = from.io().now;
  }
  // Half-close: the peer learns that no more data comes; the other
  // direction keeps flowing.
  if (from.eof() && from.in().empty()) to.shutdownWrite();
}

void Relay::onStreamEvent(Stream& stream, StreamEvent event) {
  if (ended_ || event == StreamEvent::Closed) {
    handler_.onStreamEvent(stream, event);
    return;
  }
  switch (event) {
    case StreamEvent::Received:
    case StreamEvent::Eof: pump(stream); break;
    case StreamEvent::Drained: lastActivity_ = stream.io().now; break;
    case StreamEvent::Error: {
      bool clientSide = &stream == &client_;
      // A reset is passed on as a reset, so the other peer sees the same.
      if (isResetError(stream.error())) other(stream).resetOnClose();
      end(accessEndForError(stream.error(), clientSide));
      return;
    }
    case StreamEvent::Connected:
    case StreamEvent::Secured:
    case StreamEvent::Closed: break;
  }
  checkDone();
}

void Relay::checkDone() {
  if (ended_) return;
  bool clientDone = client_.eof() && backend_.shutDown();
  bool backendDone = backend_.eof() && client_.shutDown();
  if (clientDone && backendDone) end(AccessEnd::Closed);
}

void Relay::end(AccessEnd how) {
  ended_ = true;
  handler_.onRelayEnd(*this, how);
}

}  // namespace ringlb
