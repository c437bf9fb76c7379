// BackgroundFetch through whole client connections on the test's thread: a
// route with `cache`, a backend the test answers by hand. A stale copy
// within stale-while-revalidate is served at once, and its refresh runs on
// without any client (it outlives the connection that started it).
#include "l7/http/background_fetch.h"

#include <gtest/gtest.h>

#include <string>

#include "l7/http/http_connection.h"
#include "l7/http/http_service.h"
#include "tests/fakes/http_listener.h"

namespace ringlb::l7 {
namespace {

using testing::BackendPeer;
using testing::Peer;
using Listener = testing::HttpListener;

std::string cachedConfig(const std::string& backend) {
  return testing::httpListenerConfig(backend,
                                     "[[listeners.front.routes]]\npath_prefix = \"/\"\n"
                                     "pool = \"p\"\ncache = { max_size = \"16MiB\" }\n");
}

std::string readUntil(Listener& l, Peer& peer, std::string_view until) {
  std::string got;
  l.fx.runUntil([&] { return !peer.read(got) || got.find(until) != std::string::npos; });
  return got;
}

// One request on its own connection, its whole answer (a body ending in `end`).
std::string fetch(Listener& l, std::string_view end) {
  Peer client = l.connect();
  client.send("GET /doc HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n");
  return readUntil(l, client, end);
}

// A copy that is stale from the start (max-age=0) and may serve stale for 30 s.
constexpr std::string_view kStaleCopy =
    "HTTP/1.1 200 OK\r\nCache-Control: max-age=0, stale-while-revalidate=30\r\n"
    "ETag: \"v1\"\r\nContent-Length: 4\r\n\r\nold!";

// A first request (a miss) that stores kStaleCopy; returns the backend's end
// of the kept-alive connection it came on.
Peer storeStaleCopy(Listener& l, BackendPeer& backend) {
  Peer client = l.connect();
  client.send("GET /doc HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n");
  Peer b;
  l.fx.runUntil([&] { return (b = backend.accept()).valid(); });
  if (!b.valid()) return b;
  readUntil(l, b, "\r\n\r\n");
  b.send(kStaleCopy);
  EXPECT_NE(readUntil(l, client, "old!").find("fwd=uri-miss"), std::string::npos);
  return b;
}

TEST(BackgroundFetch, TheStaleCopyAnswersAtOnceAndA304RefreshesItWithoutAClient) {
  BackendPeer backend;
  Listener l(cachedConfig(backend.address()));
  Peer b = storeStaleCopy(l, backend);
  ASSERT_TRUE(b.valid());

  // Stale within the window: answered from the copy before the backend says anything.
  std::string stale = fetch(l, "old!");
  EXPECT_EQ(stale.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << stale;
  EXPECT_NE(stale.find("detail=stale"), std::string::npos) << stale;
  // The refresh comes on the kept-alive backend connection, with the copy's
  // validator and the request's own fields, after the client connection ended.
  std::string refresh = readUntil(l, b, "\r\n\r\n");
  EXPECT_EQ(refresh.rfind("GET /doc HTTP/1.1\r\n", 0), 0u) << refresh;
  EXPECT_NE(refresh.find("If-None-Match: \"v1\"\r\n"), std::string::npos) << refresh;
  EXPECT_NE(refresh.find("User-Agent: t\r\n"), std::string::npos) << refresh;
  // A second stale request while the refresh runs: stale too, no second refresh.
  EXPECT_NE(fetch(l, "old!").find("detail=stale"), std::string::npos);
  b.send("HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nCache-Control: max-age=60\r\n\r\n");
  l.fx.runUntil([&] { return l.service.stats().cacheRefreshes[0].get() == 1; });
  EXPECT_EQ(l.service.stats().cacheRefreshes[0].get(), 1u) << "counted as revalidated";
  std::string hit = fetch(l, "old!");
  EXPECT_NE(hit.find("Cache-Status: ringlb; hit; ttl="), std::string::npos) << hit;
  EXPECT_EQ(hit.find("detail=stale"), std::string::npos) << hit;
  EXPECT_FALSE(backend.accept().valid()) << "one refresh, on the kept-alive connection";
  // Client requests are counted; the refresh is not one of them.
  EXPECT_EQ(l.service.stats().requestsByCode[200 - 100].get(), 4u);
}

TEST(BackgroundFetch, AFailedRefreshLeavesTheCopyServingAndTheKeyRests) {
  BackendPeer backend;
  Listener l(cachedConfig(backend.address()));
  Peer b = storeStaleCopy(l, backend);
  ASSERT_TRUE(b.valid());
  EXPECT_NE(fetch(l, "old!").find("detail=stale"), std::string::npos);
  readUntil(l, b, "\r\n\r\n");
  // The backend breaks off its answer (a cut before any byte would be retried).
  b.send("HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 100\r\n\r\ncut");
  b = Peer();
  l.fx.runUntil([&] { return l.service.stats().cacheRefreshes[2].get() == 1; });
  EXPECT_EQ(l.service.stats().cacheRefreshes[2].get(), 1u) << "counted as failed";
  // The copy still serves, and for a while no stale request asks the
  // failing backend again (10 s: the store's pass marker).
  for (int i = 0; i < 2; ++i) {
    EXPECT_NE(fetch(l, "old!").find("detail=stale"), std::string::npos);
  }
  EXPECT_FALSE(backend.accept().valid()) << "a refresh right after the failed one";
  EXPECT_EQ(l.service.stats().cacheRefreshes[2].get(), 1u);
}

}  // namespace
}  // namespace ringlb::l7
