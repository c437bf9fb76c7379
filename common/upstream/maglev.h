// hash: Maglev consistent hashing. The table is built by the publisher and
// carried in the BackendSet; a pick is one table lookup. Keys come from
// hash_key.h (source_ip, uri, header:NAME, cookie:NAME).
//
// A request without a key goes to a random serving backend. A retry that
// lands on a tried backend re-hashes a few times, then walks the serving list
// from the key's position, so retries of one key stay deterministic.
// Slow start does not apply to hash pools (the table is static per snapshot).
//
// Thread rules: worker thread only (see balancer.h).
#pragma once

#include "common/upstream/balancer.h"
#include "common/upstream/rng.h"

namespace ringlb::upstream {

class MaglevBalancer final : public Balancer {
 public:
  MaglevBalancer(const BackendSet& set, uint64_t seed);
  uint32_t pick(const PickInput& in) override;

 private:
  uint32_t pickAvoiding(uint64_t hash, const IndexMask& exclude) const;

  const BackendSet& set_;
  const MaglevTable& table_;
  FastRng rng_;
};

}  // namespace ringlb::upstream
