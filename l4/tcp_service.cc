#include "l4/tcp_service.h"

#include <netinet/in.h>

#include <cerrno>

#include "l4/tcp_session.h"
#include "l4/transparent_socket.h"

namespace ringlb::l4 {

void TcpService::startSession(int fd) {
  stats().connectionsActive.add();
  // The session owns itself from here and deletes itself when done.
  (new TcpSession(*this, fd))->start();
}

std::unique_ptr<ListenerService> makeTcpService(Worker& worker,
                                                const config::ListenerConfig& listener, int fd) {
  // Transparent mode without CAP_NET_ADMIN: said as the listener starts, not
  // only at its first connection (which fails). One line per listener in all:
  // the workers and the sessions share the report.
  if (listener.transparent) {
    if (int err = probeTransparent(AF_INET); err == EPERM) reportNoPermission(listener.name, err);
  }
  return std::make_unique<TcpService>(worker, listener, fd);
}

}  // namespace ringlb::l4
