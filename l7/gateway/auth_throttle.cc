#include "l7/gateway/auth_throttle.h"

#include <chrono>

namespace ringlb::l7 {

config::RateLimitConfig authFailureSettings() {
  config::RateLimitConfig limit;
  limit.requests = kAuthFailureBurst;
  limit.per = std::chrono::minutes(1);
  limit.burst = kAuthFailureBurst;
  limit.key = config::RateLimitKey::SourceIp;
  return limit;
}

bool countsAsFailedAttempt(AuthFailure failure) {
  switch (failure) {
    case AuthFailure::Malformed:
    case AuthFailure::UnknownUser:
    case AuthFailure::BadCredentials:
    case AuthFailure::BadSignature:
    case AuthFailure::UnknownKid:
    case AuthFailure::AlgRefused: return true;
    case AuthFailure::None:
    case AuthFailure::Missing:
    case AuthFailure::UnsupportedScheme:
    case AuthFailure::Expired:
    case AuthFailure::NotYetValid:
    case AuthFailure::WrongIssuer:
    case AuthFailure::WrongAudience:
    case AuthFailure::Unavailable:
    case AuthFailure::Throttled: return false;
  }
  return false;
}

}  // namespace ringlb::l7
