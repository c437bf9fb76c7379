// A client and a server TlsStream wired back to back in memory: the test
// moves the ciphertext between them, so no socket or ring is involved.
#pragma once

#include <string>

#include "common/tls/tls_stream.h"

namespace ringlb::tls::testing {

// Moves every pending ciphertext byte from one stream to the other; true
// when there was any.
inline bool transfer(TlsStream& from, TlsStream& to) {
  std::string bytes;
  from.takeCiphertext(bytes);
  to.feedCiphertext(bytes);
  return !bytes.empty();
}

// Drives both handshakes until neither has anything more to send or the
// server fails; true when both finished.
inline bool handshake(TlsStream& client, TlsStream& server) {
  for (int i = 0; i < 20; ++i) {
    client.handshake();
    bool moved = transfer(client, server);
    if (server.handshake() == TlsStatus::Error) return false;
    moved = transfer(server, client) || moved;
    if (!moved) break;
  }
  return client.handshakeDone() && server.handshakeDone();
}

}  // namespace ringlb::tls::testing
