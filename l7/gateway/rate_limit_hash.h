// SipHash-2-4 (Aumasson and Bernstein): a keyed 64-bit hash of rate-limit
// keys. Keys come from clients (addresses, header values); with a secret
// random key nobody can make two of them share a bucket, or fill one probe
// window of the table, on purpose.
//
// Thread rules: pure functions; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ringlb::l7 {

using SipHashKey = std::array<uint64_t, 2>;

uint64_t sipHash24(const SipHashKey& key, std::string_view data);

// A key from the system's random source (getrandom via std::random_device).
SipHashKey randomSipHashKey();

}  // namespace ringlb::l7
