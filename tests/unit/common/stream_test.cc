// Stream: receiving, sending, backpressure, half-close, reset, close, and
// its filters (PROXY header, TLS), each through real sockets on one ring.
#include "common/stream.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <vector>

#include "common/socket.h"
#include "common/tls/tls_context.h"
#include "common/tls/tls_stream.h"
#include "tests/fakes/test_loop.h"
#include "tests/unit/common/tls_test_pki.h"

namespace ringlb {
namespace {

using testing::readSome;
using testing::TestLoop;

struct StreamRecorder : StreamHandler {
  void onStreamEvent(Stream&, StreamEvent e) override { events.push_back(e); }
  bool saw(StreamEvent e) const {
    for (auto x : events) {
      if (x == e) return true;
    }
    return false;
  }
  std::vector<StreamEvent> events;
};

// The owner's rule (stream.h): a stream is destroyed only once closed()
// and idle(); a recv still armed at close() comes back first.
void closeAndSettle(TestLoop& loop, Stream& s) {
  s.close();
  EXPECT_TRUE(loop.runUntil([&] { return s.closed() && s.idle(); }));
}

std::string contents(ByteQueue& q) {
  std::string out;
  while (!q.empty()) {
    out.append(q.front());
    q.consume(q.front().size());
  }
  return out;
}

TEST(Stream, ReceivedBytesWaitInInInOrder) {
  TestLoop loop;
  auto [ours, peer] = testing::unixPair();
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  s.startReceiving();
  ASSERT_EQ(::send(peer, "hello ", 6, 0), 6);
  ASSERT_EQ(::send(peer, "world", 5, 0), 5);
  ASSERT_TRUE(loop.runUntil([&] { return s.in().size() == 11; }));
  EXPECT_TRUE(r.saw(StreamEvent::Received));
  EXPECT_EQ(contents(s.in()), "hello world");
  closeAndSettle(loop, s);
  ::close(peer);
}

TEST(Stream, WrittenBytesReachThePeerAndDrainedFollows) {
  TestLoop loop;
  auto [ours, peer] = testing::unixPair();
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  std::string big(200 * 1024, 'q');
  s.write("head|");
  s.write(big);
  std::string got;
  ASSERT_TRUE(loop.runUntil([&] {
    readSome(peer, got);
    return got.size() == big.size() + 5 && r.saw(StreamEvent::Drained);
  }));
  EXPECT_EQ(got, "head|" + big);
  EXPECT_TRUE(s.sendIdle());
  closeAndSettle(loop, s);
  ::close(peer);
}

TEST(Stream, EofComesAfterEveryByteBeforeIt) {
  TestLoop loop;
  auto [ours, peer] = testing::unixPair();
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  s.startReceiving();
  ::send(peer, "last words", 10, 0);
  ::shutdown(peer, SHUT_WR);
  ASSERT_TRUE(loop.runUntil([&] { return s.eof(); }));
  EXPECT_EQ(contents(s.in()), "last words");
  ASSERT_GE(r.events.size(), 2u);
  EXPECT_EQ(r.events.back(), StreamEvent::Eof);
  closeAndSettle(loop, s);
  ::close(peer);
}

TEST(Stream, ReceivingPausesWhileInIsFullAndResumesOnceRead) {
  TestLoop loop;
  auto [ours, peer] = testing::unixPair();
  fcntl(peer, F_SETFL, O_NONBLOCK);
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  s.startReceiving();
  // Nobody reads in(): the peer writes until the socket buffers are full.
  std::string sent;
  std::string chunk(16 * 1024, 'b');
  for (int i = 0; i < 400; ++i) {
    ssize_t n = ::send(peer, chunk.data(), chunk.size(), 0);
    if (n > 0) sent.append(chunk.data(), static_cast<size_t>(n));
    loop.turn();
    if (n < 0 && i > 50) break;
  }
  EXPECT_LE(s.in().buffers(), Stream::kMaxQueuedBuffers + 1u)
      << "a stream nobody reads holds a bounded number of buffers";
  std::string got;
  ASSERT_TRUE(loop.runUntil([&] {
    got.append(contents(s.in()));
    s.refresh();
    return got.size() == sent.size();
  }));
  EXPECT_EQ(got, sent);
  EXPECT_GE(loop.ring().recvRearms(), 1u) << "resuming armed the recv again";
  closeAndSettle(loop, s);
  ::close(peer);
}

// Moves what in() holds to `out`; true if a piece was larger than a small
// buffer (it came from the bulk ring).
bool drainIn(TestLoop& loop, Stream& s, std::string* out = nullptr) {
  bool bulk = false;
  while (!s.in().empty()) {
    std::string_view piece = s.in().front();
    bulk |= piece.size() > loop.small().bufferSize();
    if (out != nullptr) out->append(piece);
    s.in().consume(piece.size());
  }
  s.refresh();
  return bulk;
}

TEST(Stream, AStreamThatKeepsReceivingStaysArmed) {
  TestLoop loop;
  auto [ours, peer] = testing::unixPair();
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  s.startReceiving();
  std::string got;
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(::send(peer, "request\n", 8, 0), 8);
    ASSERT_TRUE(loop.runUntil([&] { return !s.in().empty(); }));
    drainIn(loop, s, &got);
  }
  EXPECT_EQ(got.size(), 50u * 8);
  EXPECT_EQ(loop.ring().recvRearms(), 0u) << "one multishot recv carries every message";
  closeAndSettle(loop, s);
  ::close(peer);
}

// A fast sender fills small buffers until the stream moves to the bulk ring
// (a cancel and a second arm: one re-arm).
void receiveUntilBulk(TestLoop& loop, Stream& s, int peer) {
  std::string chunk(256 * 1024, 'b');
  bool bulk = false;
  for (int i = 0; i < 400 && !bulk; ++i) {
    ::send(peer, chunk.data(), chunk.size(), 0);
    loop.turn();
    bulk = drainIn(loop, s);
  }
  ASSERT_TRUE(bulk) << "the stream moved to bulk buffers";
  EXPECT_GE(loop.ring().recvRearms(), 1u);
}

TEST(Stream, ShutdownWriteHalfClosesOnceTheQueueIsSent) {
  TestLoop loop;
  auto [ours, peer] = testing::unixPair();
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  std::string big(300 * 1024, 'z');
  s.write(big);
  s.shutdownWrite();
  std::string got;
  bool open = true;
  ASSERT_TRUE(loop.runUntil([&] {
    open = readSome(peer, got);
    return !open;
  }));
  EXPECT_EQ(got.size(), big.size()) << "every byte, then the FIN";
  EXPECT_TRUE(s.shutDown());
  closeAndSettle(loop, s);
  ::close(peer);
}

TEST(Stream, AResetFromThePeerIsAnError) {
  TestLoop loop;
  auto [ours, peer] = testing::tcpPair();
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  s.startReceiving();
  resetOnClose(peer);
  ::close(peer);
  ASSERT_TRUE(loop.runUntil([&] { return s.error() != 0; }));
  EXPECT_EQ(s.error(), ECONNRESET);
  EXPECT_TRUE(r.saw(StreamEvent::Error));
  closeAndSettle(loop, s);
}

TEST(Stream, ResetOnCloseResetsThePeer) {
  TestLoop loop;
  auto [ours, peer] = testing::tcpPair();
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  s.resetOnClose();
  s.close();
  ASSERT_TRUE(s.closed());
  loop.turn();  // submits the close
  char c;
  pollfd p{peer, POLLIN, 0};
  poll(&p, 1, 2000);
  EXPECT_EQ(::recv(peer, &c, 1, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, ECONNRESET);
  ::close(peer);
}

TEST(Stream, ARefusedConnectIsAnErrorWithItsErrno) {
  TestLoop loop;
  StreamRecorder r;
  Stream s(loop.io(), r);
  sockaddr_in addr = testing::closedPort();
  s.connect(openTcpSocket(AF_INET), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ASSERT_TRUE(loop.runUntil([&] { return s.error() != 0; }));
  EXPECT_EQ(s.error(), ECONNREFUSED);
  s.close();
  ASSERT_TRUE(loop.runUntil([&] { return s.closed() && s.idle(); }));
  s.reset();
  EXPECT_EQ(s.error(), 0) << "ready for the next backend";
}

TEST(Stream, CloseWithOpsInFlightEndsWithClosed) {
  TestLoop loop;
  auto [ours, peer] = testing::unixPair();
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  s.startReceiving();
  loop.turn();
  s.close();
  EXPECT_FALSE(s.closed()) << "the multishot recv must come back first";
  ASSERT_TRUE(loop.runUntil([&] { return s.closed(); }));
  EXPECT_TRUE(r.saw(StreamEvent::Closed));
  EXPECT_TRUE(s.idle());
  loop.turn();  // submits the close
  pollfd p{peer, POLLIN, 0};
  poll(&p, 1, 2000);
  char c;
  EXPECT_EQ(::recv(peer, &c, 1, MSG_DONTWAIT), 0) << "the socket is closed";
  ::close(peer);
}

// The owner's linger timer is only a bound: the peer's EOF ends a lingering
// close at once, and the owner hears of it (it would otherwise hold the
// session, and a drain, until the timer).
TEST(Stream, ALingeringCloseEndsAtThePeersEofWithClosed) {
  TestLoop loop;
  auto [ours, peer] = testing::unixPair();
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  s.startReceiving();
  loop.turn();
  s.lingerClose();
  ASSERT_EQ(::send(peer, "late bytes", 10, 0), 10);
  char c;
  pollfd p{peer, POLLIN, 0};
  ASSERT_TRUE(loop.runUntil([&] { return poll(&p, 1, 0) == 1; }));
  EXPECT_EQ(::recv(peer, &c, 1, MSG_DONTWAIT), 0) << "our FIN came first";
  loop.turn();
  EXPECT_FALSE(s.closed()) << "still reading (and dropping) what the peer sends";
  ::shutdown(peer, SHUT_WR);
  ASSERT_TRUE(loop.runUntil([&] { return r.saw(StreamEvent::Closed); }));
  EXPECT_TRUE(s.closed());
  EXPECT_TRUE(s.idle());
  EXPECT_FALSE(r.saw(StreamEvent::Received)) << "lingering drops what arrives";
  ::close(peer);
}

// A stream reused for another socket (a backend retry) after it lingered
// receives on the new one like a fresh stream.
TEST(Stream, AStreamResetAfterLingeringReceivesOnItsNextSocket) {
  TestLoop loop;
  auto [ours, peer] = testing::unixPair();
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  s.startReceiving();
  loop.turn();
  s.lingerClose();
  ::shutdown(peer, SHUT_WR);
  ASSERT_TRUE(loop.runUntil([&] { return s.closed() && s.idle(); }));
  ::close(peer);
  s.reset();
  r.events.clear();
  auto [next, nextPeer] = testing::unixPair();
  s.adopt(next);
  s.startReceiving();
  ASSERT_EQ(::send(nextPeer, "fresh", 5, 0), 5);
  ASSERT_TRUE(loop.runUntil([&] { return s.in().size() == 5; }));
  EXPECT_TRUE(r.saw(StreamEvent::Received));
  EXPECT_EQ(contents(s.in()), "fresh");
  closeAndSettle(loop, s);
  ::close(nextPeer);
}

// Lingering begins while backpressure is cancelling the recv: once the
// cancel lands the lingering recv must arm, or the peer's EOF is never read.
TEST(Stream, ALingeringCloseWhileReceivingIsPausedStillEndsAtThePeersEof) {
  TestLoop loop;
  auto [ours, peer] = testing::unixPair();
  fcntl(peer, F_SETFL, O_NONBLOCK);
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  s.startReceiving();
  std::string chunk(16 * 1024, 'p');
  while (::send(peer, chunk.data(), chunk.size(), 0) > 0) {
  }
  // Nobody reads in(): the first completions fill it and pause the recv.
  ASSERT_TRUE(loop.runUntil([&] { return s.in().buffers() >= Stream::kMaxQueuedBuffers; }));
  s.lingerClose();
  ::shutdown(peer, SHUT_WR);
  ASSERT_TRUE(loop.runUntil([&] { return r.saw(StreamEvent::Closed); }));
  EXPECT_TRUE(s.idle());
  ::close(peer);
}

// The recv armed on the bulk ring when lingering begins stays armed: what it
// receives must go back to the bulk ring, not to the small one under the
// same buffer id (that would hand a buffer in use to another receive).
TEST(Stream, ALingeringCloseOnABulkStreamReturnsEveryBufferToItsRing) {
  TestLoop loop;
  auto [ours, peer] = testing::unixPair();
  fcntl(peer, F_SETFL, O_NONBLOCK);
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  s.startReceiving();
  receiveUntilBulk(loop, s, peer);
  s.lingerClose();
  std::string chunk(256 * 1024, 'c');
  size_t sent = 0;
  for (int i = 0; i < 200; ++i) {  // many more receives than the bulk ring has buffers
    ssize_t n = ::send(peer, chunk.data(), chunk.size(), 0);
    if (n > 0) sent += static_cast<size_t>(n);
    loop.turn();
  }
  EXPECT_GT(sent, 16u * 512 * 1024);
  EXPECT_EQ(loop.ring().buffersExhausted(), 0u) << "every bulk buffer came back";
  EXPECT_EQ(loop.small().outstanding(), 0u);
  ::shutdown(peer, SHUT_WR);
  ASSERT_TRUE(loop.runUntil([&] { return r.saw(StreamEvent::Closed); }));
  EXPECT_TRUE(s.idle());
  ::close(peer);
}

TEST(Stream, AProxyHeaderIsDecodedAndWhatFollowsIsData) {
  TestLoop loop;
  auto [ours, peer] = testing::unixPair();
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  s.expectProxyHeader();
  s.startReceiving();
  std::string bytes = "PROXY TCP4 192.0.2.1 192.0.2.2 5000 80\r\nGET / HTTP/1.1\r\n";
  ::send(peer, bytes.data(), bytes.size(), 0);
  ASSERT_TRUE(loop.runUntil([&] { return s.proxyHeader() != nullptr; }));
  EXPECT_TRUE(s.proxyHeader()->hasAddresses);
  ASSERT_TRUE(loop.runUntil([&] { return s.in().size() == 16; }));
  EXPECT_EQ(contents(s.in()), "GET / HTTP/1.1\r\n");
  closeAndSettle(loop, s);
  ::close(peer);
}

TEST(Stream, AMalformedProxyHeaderIsAnError) {
  TestLoop loop;
  auto [ours, peer] = testing::unixPair();
  StreamRecorder r;
  Stream s(loop.io(), r);
  s.adopt(ours);
  s.expectProxyHeader();
  s.startReceiving();
  ::send(peer, "GET / HTTP/1.1\r\n\r\n", 18, 0);
  ASSERT_TRUE(loop.runUntil([&] { return s.error() != 0; }));
  EXPECT_TRUE(s.in().empty());
  closeAndSettle(loop, s);
  ::close(peer);
}

TEST(Stream, TlsCarriesPlaintextBothWaysAndEndsWithCloseNotify) {
  tls::testing::TempPki pki;
  config::TlsConfig cfg;
  cfg.certificates.push_back(pki.leaf("srv", "localhost", {"localhost"}));
  std::string error;
  auto context = tls::TlsContext::build(cfg, {}, &error);
  ASSERT_TRUE(context) << error;
  SSL_CTX* clientCtx = SSL_CTX_new(TLS_client_method());

  TestLoop loop;
  auto [a, b] = testing::unixPair();
  StreamRecorder rs, rc;
  Stream server(loop.io(), rs);
  Stream client(loop.io(), rc);
  server.adopt(a);
  client.adopt(b);
  server.setTls(tls::TlsStream::server(context->defaultContext()));
  client.setTls(tls::TlsStream::client(clientCtx, "localhost"));
  server.startReceiving();
  client.startReceiving();
  client.write("ping");
  client.flush();
  // The client must speak first: the ClientHello goes out on the first flush.
  ASSERT_TRUE(loop.runUntil([&] { return server.in().size() == 4; }));
  EXPECT_TRUE(rs.saw(StreamEvent::Secured));
  EXPECT_EQ(contents(server.in()), "ping");
  std::string big(100 * 1024, 'p');
  server.write(big);
  server.shutdownWrite();
  std::string got;
  ASSERT_TRUE(loop.runUntil([&] {
    got.append(contents(client.in()));
    client.refresh();
    return client.eof();
  }));
  EXPECT_EQ(got, big);
  closeAndSettle(loop, server);
  // The socket's EOF follows the close_notify: the stream ended once.
  ASSERT_TRUE(loop.runUntil([&] { return client.idle(); }));
  EXPECT_EQ(std::count(rc.events.begin(), rc.events.end(), StreamEvent::Eof), 1);
  closeAndSettle(loop, client);
  SSL_CTX_free(clientCtx);
}

}  // namespace
}  // namespace ringlb
