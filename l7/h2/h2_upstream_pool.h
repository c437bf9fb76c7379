// H2UpstreamPool: the HTTP/2 connections of one listener on one worker to
// the backends of its `protocol = "h2"` pools, per backend (key: as in the
// ConnectionPool, with an "h2/" prefix). An exchange gets a stream on the
// newest session with room, or a new session when none has any.
//
// Worker thread only. Sessions are freed through Worker::deferDelete once
// over; their connections belong to the ConnectionPool (so that the
// listener's drain waits for them).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/tls/tls_stream.h"
#include "config/model.h"
#include "l7/h2/h2_upstream_stream.h"

namespace ringlb {
class Worker;
}

namespace ringlb::l7 {

class ConnectionPool;
class H2ClientSession;

// How to open another connection to a backend.
struct H2ConnectSpec {
  config::SocketAddress address;
  config::Duration timeout{};
  bool tlsWanted = false;
  // A TLS stream for a new connection (null: the pool's TLS never loaded).
  std::function<std::unique_ptr<tls::TlsStream>()> makeTls;
};

class H2UpstreamPool {
 public:
  H2UpstreamPool(Worker& worker, ConnectionPool& connections);
  ~H2UpstreamPool();
  H2UpstreamPool(const H2UpstreamPool&) = delete;
  H2UpstreamPool& operator=(const H2UpstreamPool&) = delete;

  // A stream to `key` on a session with room (connected or connecting), or
  // null. The stream is ready() once its session is connected; until then
  // the user hears Connected (or Error) later.
  H2UpstreamStream* take(const std::string& key, BackendUser& user);
  // A stream on a new session connecting to `address`.
  // A stream on a new session (`spec` is kept for the key's next ones).
  H2UpstreamStream* connect(const std::string& key, H2ConnectSpec spec, BackendUser& user);
  // Listener draining: sessions close as their streams end.
  void stop();

  // --- for sessions
  Worker& worker() { return worker_; }
  config::Duration idleTimeout() const;
  bool stopped() const { return stopped_; }
  // The session is over: removed now, freed after the current batch.
  void retire(H2ClientSession& session);
  // `stream` did not fit in `from` (the backend allows fewer streams): onto
  // another session of its key, or a new one: the session it belongs to
  // now, or null (the pool stopped: it waits in `from`).
  H2ClientSession* rehome(H2UpstreamStream& stream, H2ClientSession& from);

 private:
  Worker& worker_;
  ConnectionPool& connections_;
  H2ClientSession* open(const std::string& key, const H2ConnectSpec& spec);

  std::unordered_map<std::string, std::vector<H2ClientSession*>> sessions_;
  std::unordered_map<std::string, H2ConnectSpec> specs_;
  bool stopped_ = false;
};

}  // namespace ringlb::l7
