// HttpListener: one http listener's service on a WorkerFixture, for tests
// of whole client connections (HTTP/1.1 or HTTP/2): connect() hands one end
// of a socketpair to a new HttpConnection and returns the other end.
// httpListenerConfig() writes the config of such a listener ("front") with
// one backend in pool "p".
#pragma once

#include <string>

#include "l7/http/http_connection.h"
#include "l7/http/http_service.h"
#include "tests/fakes/test_loop.h"
#include "tests/fakes/worker_fixture.h"

namespace ringlb::testing {

// `extra`: more keys of [listeners.front] (or further sections).
inline std::string httpListenerConfig(const std::string& backend, const std::string& extra = "") {
  return "[pools.p]\nbackends = [\"" + backend +
         "\"]\nretries = 0\nconnect_timeout = \"500ms\"\n"
         "[listeners.front]\nbind = \"127.0.0.1:1\"\nmode = \"http\"\npool = \"p\"\n" +
         extra;
}

struct HttpListener {
  explicit HttpListener(const std::string& toml)
      : fx(toml), service(fx.worker(), fx.listener("front"), fx.serviceFd()) {}
  ~HttpListener() {
    fx.endSessions();
    service.stopAccepting();  // closes the pool's idle connections
    fx.runUntil([&] { return service.connections().live() == 0; });
  }
  Peer connect() {
    auto [ours, theirs] = unixPair();
    (new l7::HttpConnection(service, ours))->start();
    return Peer(theirs);
  }
  WorkerFixture fx;
  l7::HttpService service;
};

}  // namespace ringlb::testing
