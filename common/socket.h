// Socket set-up helpers. Set-up paths (main thread) report errors as text;
// data-path callers get -errno values.
#pragma once

#include <sys/socket.h>

#include <array>
#include <string>
#include <string_view>

#include "config/address.h"
#include "config/model.h"

namespace ringlb {

// A listening TCP socket with SO_REUSEPORT (one per worker shares the port).
// Returns the fd, or -1 with `error` set to one line that names the address.
int openTcpListener(const config::SocketAddress& addr, std::string* error, int backlog = 4096);
// True when nothing else holds `addr` (probed with a bind without
// SO_REUSEPORT, which fails even against another process's SO_REUSEPORT
// sockets); false with `error` set otherwise. At start-up only: on reload our
// own sockets hold the port.
bool addressFree(const config::SocketAddress& addr, int type, std::string* error);
// A bound UDP socket with SO_REUSEPORT.
int openUdpSocket(const config::SocketAddress& addr, std::string* error);
// An unconnected TCP socket for an upstream connection, or -errno.
int openTcpSocket(int family);
// TCP_NODELAY: proxies forward what they get at once.
void setNoDelay(int fd);
// An error that means the peer reset the connection (or it died): relays
// pass it on as a reset rather than a clean close.
bool isResetError(int err);
// Out of descriptors or kernel memory on this host (EMFILE, ENFILE,
// ENOBUFS, ENOMEM): a socket() or connect that fails so says nothing about
// the peer, which must not be blamed (passive ejection) or retried elsewhere.
bool isLocalResourceError(int err);
// Whether to log such a shortage now: at most once per 10 s per thread, so a
// shortage that fails every connect logs a line, not a flood.
bool reportSocketShortageNow();
// Makes the next close(fd) send RST instead of FIN (SO_LINGER 0); fd < 0 is
// a no-op.
void resetOnClose(int fd);
// The raw address bytes of a connected socket's peer (4 or 16 bytes, no
// port), written into `out`: the `source_ip` hash key. Empty on error.
std::string_view peerAddressBytes(int fd, std::array<char, 16>& out);
// Socket addresses as text: config's, which SocketAddress::numeric() uses too.
using config::formatAddress;
using config::kAddressTextSize;
// The local port a socket is bound to (for tests that bind port 0).
int boundPort(int fd);

}  // namespace ringlb
