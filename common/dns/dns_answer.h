// DnsAnswer: what looking up one name gave: its addresses (IPv4 first, then
// IPv6, port 0, `text` the numeric address) or a readable error.
//
// Plain data; shared read-only (a cached answer is handed to every lookup
// that asks for the name while it is fresh).
#pragma once

#include <string>
#include <vector>

#include "config/model.h"

namespace ringlb::dns {

struct DnsAnswer {
  std::vector<config::SocketAddress> addresses;
  // Empty on success: "no such host", "no address", "timed out", "server
  // failure", "connection refused", "query refused", "bad name", ...
  std::string error;

  bool ok() const { return error.empty(); }
};

}  // namespace ringlb::dns
