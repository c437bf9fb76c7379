// DnsOptions: the knobs of a DnsResolver (timeouts, cache bounds, TTL
// clamps). The defaults are what the forward proxy uses; tests shorten them.
#pragma once

#include <chrono>
#include <cstddef>

namespace ringlb::dns {

// The longest one lookup takes before it fails with "timed out", however
// many servers and tries are left: a request waiting for a name must not
// wait on the resolver's retry schedule (c-ares doubles the per-try timeout
// each round, so 2 tries of 2 s on one server would take 6 s).
inline constexpr std::chrono::milliseconds kLookupTimeout{5000};

struct DnsOptions {
  // c-ares: the first try waits this long for an answer; each later round
  // over the servers waits twice as long as the one before.
  std::chrono::milliseconds tryTimeout{2000};
  int tries = 2;  // per server
  std::chrono::milliseconds lookupTimeout = kLookupTimeout;
  size_t cacheSize = 4096;  // names; the one stored longest ago goes first
  // A positive answer is kept for its smallest TTL, within these bounds: a
  // TTL of 0 would send one query per request, a day-long one would pin a
  // moved origin.
  std::chrono::seconds minTtl{1};
  std::chrono::seconds maxTtl{300};
  // "no such host" and "no address" answers.
  std::chrono::seconds negativeTtl{5};
};

}  // namespace ringlb::dns
