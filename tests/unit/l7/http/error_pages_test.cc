// Specification of the proxy's own error responses.
#include "l7/http/error_pages.h"

#include <gtest/gtest.h>

namespace ringlb::l7 {
namespace {

TEST(ErrorPages, EachStatusHasABodyThatNamesIt) {
  for (uint16_t status : {400, 404, 408, 413, 414, 431, 502, 503, 504}) {
    std::string body(errorBody(status));
    EXPECT_EQ(body.rfind(std::to_string(status) + " ", 0), 0u) << body;
    EXPECT_GT(body.size(), 10u);
  }
}

TEST(ErrorPages, ResponseIsCompleteAndClosesTheConnection) {
  std::string r = errorResponse(504);
  EXPECT_EQ(r.rfind("HTTP/1.1 504 Gateway Timeout\r\n", 0), 0u);
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos);
  std::string body(errorBody(504));
  EXPECT_NE(r.find("Content-Length: " + std::to_string(body.size()) + "\r\n"), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - body.size()), body);
}

TEST(ErrorPages, NotFoundHasAReasonPhrase) {
  EXPECT_EQ(errorResponse(404).rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
}

}  // namespace
}  // namespace ringlb::l7
