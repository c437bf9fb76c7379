// BodyRelay: moves one HTTP/1.1 message body from the queue it arrives in
// to the queue it leaves from, by its framing (RFC 9112 §6): a length,
// chunked (relayed with its framing, or with `dechunk` as bare payload for an
// HTTP/1.0 peer), until close, or none. Nothing past the body's end moves: a
// pipelined next message stays in the source queue.
//
// Received buffers move without a copy (ByteQueue::moveTo). A chunked body
// can be capped (max_body_size): the chunk that crosses the cap does not
// move and overLimit() turns true.
//
// Thread rules: a plain value owned by one exchange (worker thread).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/byte_queue.h"
#include "common/http1/http1_parser.h"

namespace ringlb::l7 {

class BodyRelay {
 public:
  BodyRelay() = default;
  // The body of `head` (a response's parser must know the request method:
  // HEAD and 304 have none). `payloadLimit` caps a chunked body (0 = none).
  BodyRelay(const http::MessageHead& head, bool dechunk = false, uint64_t payloadLimit = 0,
            const http::ParserLimits& limits = {});
  // Every byte either way is body (a tunnel after 101, a CONNECT).
  static BodyRelay tunnel();

  // Moves what `from` holds of the body to `to`, at most `max` bytes of it;
  // returns the bytes taken from `from` (framing dropped by dechunk counts
  // too).
  size_t pump(ByteQueue& from, ByteQueue& to, size_t max = SIZE_MAX);
  // Copy into `to`'s own blocks rather than hand it the received buffers:
  // for a queue that may wait long (an HTTP/2 stream's window), so that it
  // holds none of the worker's receive rings.
  void copyOut() { copy_ = true; }

  // The body ended (length reached, last chunk and trailers seen, or none).
  // A body delimited by the close ends with closeSeen().
  bool done() const;
  void closeSeen() { closeSeen_ = true; }
  // A byte of the body was taken.
  bool started() const { return taken_ > 0; }
  bool failed() const { return chunked_.failed(); }
  bool overLimit() const { return overLimit_; }
  bool untilClose() const { return framing_ == http::BodyFraming::UntilClose; }
  http::BodyFraming framing() const { return framing_; }
  // Bytes taken from the source so far (framing included).
  uint64_t taken() const { return taken_; }
  // De-chunked bodies: the trailer field lines that ended the body (raw,
  // CRLF-terminated; the parser's limits bound them), for a client side
  // that sends them apart (HTTP/2 HEADERS).
  const std::string& trailers() const { return trailers_; }

 private:
  size_t classifyChunked(std::string_view avail);
  void transfer(ByteQueue& from, ByteQueue& to, size_t n);

  http::BodyFraming framing_ = http::BodyFraming::None;
  http::LengthBody length_;
  http::ChunkedDecoder chunked_;
  uint64_t payloadLimit_ = 0;
  uint64_t taken_ = 0;
  std::string trailers_;
  bool dechunk_ = false;
  bool overLimit_ = false;
  bool closeSeen_ = false;
  bool copy_ = false;
};

}  // namespace ringlb::l7
