// TlsConn: what an HttpSession on a TLS listener keeps beside its socket:
// the TlsStream, the memory its decrypted bytes live in (a small pool of
// session-owned buffers, named by id like the provided receive buffers), and
// the ciphertext being sent.
//
// Worker thread only; owned by one HttpSession. Holds the listener's
// TlsContext alive while the handshake may still call back into it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "l7/tls_context.h"
#include "l7/tls_stream.h"

namespace ringlb::l7 {

// Fixed-size buffers for decrypted bytes; at most a few per connection (the
// session pauses its receive when its queue is full), kept for reuse.
class TlsPlainBuffers {
 public:
  static constexpr size_t kSize = 16 * 1024;  // one full TLS record
  static constexpr size_t kKeep = 2;          // spare buffers kept after release

  uint16_t acquire();
  char* data(uint16_t id) { return buffers_[id].get(); }
  void release(uint16_t id);

 private:
  std::vector<std::unique_ptr<char[]>> buffers_;
  std::vector<uint16_t> free_;
};

struct TlsConn {
  std::shared_ptr<TlsContext> context;
  std::unique_ptr<TlsStream> stream;
  TlsPlainBuffers plain;
  std::string out;          // ciphertext being sent
  size_t outSent = 0;       // bytes of `out` the socket took
  size_t plainPending = 0;  // plaintext bytes `out` carries for the response pipe
  bool sawEof = false;      // the socket reached end of file (maybe before all was decrypted)
  bool failed = false;      // a fatal TLS error: no close_notify
};

}  // namespace ringlb::l7
