// Transparent mode (`transparent = true` on a tcp listener): the connection
// to a backend leaves from the client's own address and port, so the backend
// sees the client as its peer. The socket is made IP_TRANSPARENT (needs
// CAP_NET_ADMIN) and bound to that foreign address before connect; the
// backend's replies reach ringlb only through the host's policy routing
// (docs/deploy.md, "Transparent mode").
//
// Set-up helpers for TcpSession; any thread. Only transparent listeners call
// them: the plain path makes no extra system call.
#pragma once

#include <sys/socket.h>

#include <string_view>

namespace ringlb::l4 {

// The address a transparent connection to a backend of `backendFamily` binds
// to: the client's IP and port, in `out` (`len` its length). A client of an
// IPv4-mapped IPv6 address (a dual-stack listener) counts as IPv4. Returns 0,
// EAFNOSUPPORT when the client's family is not the backend's (an IPv4 client
// cannot reach an IPv6 backend from its own address), or ENOTCONN when the
// client's address is not known.
int transparentSource(const sockaddr_storage& client, int backendFamily, sockaddr_storage& out,
                      socklen_t& len);

// Makes `fd` (of `source`'s family) transparent (IP_TRANSPARENT or
// IPV6_TRANSPARENT) and binds it to `source`. When that IP and port are in use
// already (EADDRINUSE: another connection from the same client address and
// port, a TIME_WAIT one of an earlier connection), binds the IP with the port
// left to connect() instead and sets `*portChanged`. Returns 0 or an errno:
// EPERM without CAP_NET_ADMIN.
int bindTransparent(int fd, const sockaddr_storage& source, socklen_t len, bool* portChanged);

// 0 when this process can make an IP_TRANSPARENT socket of `family`, else
// the errno (EPERM: no CAP_NET_ADMIN). For the check at listener start.
int probeTransparent(int family);

// The problems a transparent listener reports once (then at debug level).
enum class TransparentProblem : uint8_t { NoPermission, FamilyMismatch };
// True the first time `problem` is reported for `listener` in this process
// (every worker shares it; a mutex, taken only on a failure).
bool firstTransparentReport(std::string_view listener, TransparentProblem problem);
// Logs, once per listener in this process, the error "transparent = true
// needs CAP_NET_ADMIN" (setting IP_TRANSPARENT failed with `err`, EPERM).
void reportNoPermission(std::string_view listener, int err);

}  // namespace ringlb::l4
