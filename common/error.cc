#include "common/error.h"

#include <array>
#include <cerrno>

namespace ringlb {
namespace {

struct Entry {
  ErrorCode code;
  std::string_view name;
  uint16_t status;
  ErrorSource source;
  bool retryable;
  std::optional<RejectReason> reject;
};

using S = ErrorSource;
using R = RejectReason;

// The one table of failure -> status (docs/errors.md draws it). A status of
// 0 means the client gets no answer: part of the response already went out,
// so closing without a clean end is all that is left.
constexpr std::array kTable = {
    Entry{ErrorCode::BadRequest, "bad_request", 400, S::Client, false, R::BadRequest},
    Entry{ErrorCode::HeadTimeout, "head_timeout", 408, S::Client, false, R::HeaderTimeout},
    Entry{ErrorCode::UriTooLong, "uri_too_long", 414, S::Client, false, R::TooLarge},
    Entry{ErrorCode::HeadTooLarge, "head_too_large", 431, S::Client, false, R::TooLarge},
    Entry{ErrorCode::BodyTooLarge, "body_too_large", 413, S::Client, false, R::TooLarge},
    Entry{ErrorCode::NotImplemented, "not_implemented", 501, S::Client, false, R::BadRequest},
    Entry{ErrorCode::VersionNotSupported, "version_not_supported", 505, S::Client, false,
          R::BadRequest},
    Entry{ErrorCode::MethodNotAllowed, "method_not_allowed", 405, S::Client, false, R::BadRequest},
    Entry{ErrorCode::NoRoute, "no_route", 404, S::Client, false, R::NoRoute},
    Entry{ErrorCode::Denied, "denied", 403, S::Client, false, R::Denied},
    Entry{ErrorCode::NoBackendUp, "no_backend_up", 503, S::Backend, false, R::NoBackend},
    Entry{ErrorCode::ConnectRefused, "connect_refused", 502, S::Backend, true, std::nullopt},
    Entry{ErrorCode::ConnectTimeout, "connect_timeout", 504, S::Backend, true, std::nullopt},
    Entry{ErrorCode::ConnectFailed, "connect_failed", 502, S::Backend, true, std::nullopt},
    Entry{ErrorCode::NoSocket, "no_socket", 503, S::Internal, false, R::Other},
    Entry{ErrorCode::ResolveFailed, "resolve_failed", 502, S::Backend, false, std::nullopt},
    Entry{ErrorCode::ResolveTimeout, "resolve_timeout", 504, S::Backend, false, std::nullopt},
    Entry{ErrorCode::ResponseTimeout, "response_timeout", 504, S::Backend, false, std::nullopt},
    Entry{ErrorCode::InvalidResponse, "invalid_response", 502, S::Backend, false, std::nullopt},
    Entry{ErrorCode::BackendClosed, "backend_closed", 502, S::Backend, true, std::nullopt},
    Entry{ErrorCode::BackendTruncated, "backend_truncated", 0, S::Backend, false, std::nullopt},
    Entry{ErrorCode::Internal, "internal", 500, S::Internal, false, R::Other},
};

constexpr bool tableInCodeOrder() {
  for (size_t i = 0; i < kTable.size(); ++i) {
    if (static_cast<size_t>(kTable[i].code) != i) return false;
  }
  return true;
}
static_assert(tableInCodeOrder(), "kTable must list every ErrorCode once, in order");

const Entry& entry(ErrorCode code) { return kTable[static_cast<size_t>(code)]; }

}  // namespace

uint16_t Error::status() const { return entry(code).status; }

std::string_view Error::name() const { return entry(code).name; }

std::optional<RejectReason> Error::rejectReason() const { return entry(code).reject; }

bool Error::backendFault() const {
  return source == ErrorSource::Backend && code != ErrorCode::NoBackendUp &&
         code != ErrorCode::ResolveFailed && code != ErrorCode::ResolveTimeout;
}

Error makeError(ErrorCode code) {
  const Entry& e = entry(code);
  return {e.code, e.source, e.retryable};
}

Error connectError(int err) {
  switch (err) {
    case ECONNREFUSED: return makeError(ErrorCode::ConnectRefused);
    case ETIMEDOUT: return makeError(ErrorCode::ConnectTimeout);
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM: return makeError(ErrorCode::NoSocket);  // ours, not the backend's
    default: return makeError(ErrorCode::ConnectFailed);
  }
}

}  // namespace ringlb
