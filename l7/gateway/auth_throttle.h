// Clients that keep failing authentication are slowed down (docs/gateway.md,
// "Failed logins"): each listener keeps one token bucket per client address
// for failed attempts, shared by all workers (a SharedRateLimit). A failed
// attempt that presented credentials takes a token; a client whose bucket is
// empty is answered 429 with Retry-After before anything is checked, so a
// password guesser costs the worker no bcrypt/yescrypt run and learns
// nothing, whatever it sends, until a token is back.
//
// The bucket: kAuthFailureBurst failures at once, then one more every
// 60 / kAuthFailureBurst seconds. Requests without credentials (a browser's
// first request) and tokens that were genuine but expired or for another
// audience do not count.
//
// Thread rules: the free functions are pure; any thread.
#pragma once

#include <cstdint>

#include "config/model.h"
#include "l7/gateway/auth_phase.h"

namespace ringlb::l7 {

inline constexpr uint32_t kAuthFailureBurst = 20;

// The bucket's settings (keyed by source_ip).
config::RateLimitConfig authFailureSettings();

// True for the failures that look like guessing: credentials were sent and
// did not hold (unknown user, wrong password or key, bad signature or kid,
// an unparsable or refused token).
bool countsAsFailedAttempt(AuthFailure failure);

}  // namespace ringlb::l7
