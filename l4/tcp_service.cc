#include "l4/tcp_service.h"

#include "l4/tcp_session.h"

namespace ringlb::l4 {

void TcpService::startSession(int fd) {
  stats().connectionsActive.add();
  // The session owns itself from here and deletes itself when done.
  (new TcpSession(*this, fd))->start();
}

std::unique_ptr<ListenerService> makeTcpService(Worker& worker,
                                                const config::ListenerConfig& listener, int fd) {
  return std::make_unique<TcpService>(worker, listener, fd);
}

}  // namespace ringlb::l4
