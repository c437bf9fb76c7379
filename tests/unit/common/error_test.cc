// The failure table: what each error means for the client, the retry and the
// counters (docs/errors.md).
#include "common/error.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <set>

#include "common/http1/http_types.h"
#include "l7/http/error_pages.h"

namespace ringlb {
namespace {

TEST(ErrorTable, BackendFailuresGetTheStatusesOfNginxAndHaproxy) {
  EXPECT_EQ(connectError(ECONNREFUSED).status(), 502);
  EXPECT_EQ(connectError(ETIMEDOUT).status(), 504);
  EXPECT_EQ(connectError(EHOSTUNREACH).status(), 502);
  EXPECT_EQ(makeError(ErrorCode::NoBackendUp).status(), 503);
  EXPECT_EQ(makeError(ErrorCode::ResponseTimeout).status(), 504);
  EXPECT_EQ(makeError(ErrorCode::InvalidResponse).status(), 502);
  EXPECT_EQ(makeError(ErrorCode::BackendClosed).status(), 502);
}

TEST(ErrorTable, ClientFailuresGetFourHundreds) {
  EXPECT_EQ(makeError(ErrorCode::BadRequest).status(), 400);
  EXPECT_EQ(makeError(ErrorCode::HeadTimeout).status(), 408);
  EXPECT_EQ(makeError(ErrorCode::BodyTooLarge).status(), 413);
  EXPECT_EQ(makeError(ErrorCode::UriTooLong).status(), 414);
  EXPECT_EQ(makeError(ErrorCode::HeadTooLarge).status(), 431);
  EXPECT_EQ(makeError(ErrorCode::NoRoute).status(), 404);
  EXPECT_EQ(makeError(ErrorCode::Denied).status(), 403);
}

TEST(ErrorTable, ATruncatedResponseGetsNoStatusOnlyAClose) {
  EXPECT_EQ(makeError(ErrorCode::BackendTruncated).status(), 0);
}

TEST(ErrorTable, OnlyConnectFailuresAndEarlyClosesMayBeRetried) {
  EXPECT_TRUE(connectError(ECONNREFUSED).retryable);
  EXPECT_TRUE(connectError(ETIMEDOUT).retryable);
  EXPECT_TRUE(makeError(ErrorCode::BackendClosed).retryable);
  EXPECT_FALSE(makeError(ErrorCode::ResponseTimeout).retryable);
  EXPECT_FALSE(makeError(ErrorCode::InvalidResponse).retryable);
  EXPECT_FALSE(makeError(ErrorCode::BodyTooLarge).retryable);
}

TEST(ErrorTable, BackendFaultsFeedPassiveDetectionButNoBackendUpDoesNot) {
  EXPECT_TRUE(connectError(ECONNREFUSED).backendFault());
  EXPECT_TRUE(makeError(ErrorCode::ResponseTimeout).backendFault());
  EXPECT_FALSE(makeError(ErrorCode::NoBackendUp).backendFault());
  EXPECT_FALSE(makeError(ErrorCode::BadRequest).backendFault());
}

// Out of descriptors or memory here: 503 as HAProxy's "resource" failures,
// no retry on another backend (it would fail the same way), and no backend
// blamed for it.
TEST(ErrorTable, NoSocketIsThisHostsShortageNotTheBackends) {
  for (int err : {EMFILE, ENFILE, ENOBUFS, ENOMEM}) {
    Error e = connectError(err);
    EXPECT_EQ(e.code, ErrorCode::NoSocket) << err;
    EXPECT_EQ(e.status(), 503);
    EXPECT_FALSE(e.retryable);
    EXPECT_FALSE(e.backendFault());
    EXPECT_EQ(e.rejectReason(), RejectReason::Other);
  }
}

TEST(ErrorTable, RejectionsMoveTheirCounter) {
  EXPECT_EQ(makeError(ErrorCode::BodyTooLarge).rejectReason(), RejectReason::TooLarge);
  EXPECT_EQ(makeError(ErrorCode::NoBackendUp).rejectReason(), RejectReason::NoBackend);
  EXPECT_EQ(makeError(ErrorCode::HeadTimeout).rejectReason(), RejectReason::HeaderTimeout);
  EXPECT_FALSE(connectError(ECONNREFUSED).rejectReason().has_value());
}

TEST(ErrorTable, NamesAreUniqueSnakeCase) {
  std::set<std::string_view> names;
  for (int c = 0; c <= static_cast<int>(ErrorCode::Internal); ++c) {
    std::string_view name = makeError(static_cast<ErrorCode>(c)).name();
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string_view::npos);
  }
}

TEST(ErrorTable, ParserRejectionsKeepTheParsersDocumentedStatus) {
  for (int e = 1; e <= static_cast<int>(http::ParseError::TrailersTooLarge); ++e) {
    auto error = static_cast<http::ParseError>(e);
    EXPECT_EQ(makeError(l7::requestErrorCode(error)).status(),
              http::httpStatusFor(error, http::MessageKind::Request))
        << http::errorName(error);
  }
}

}  // namespace
}  // namespace ringlb
