#include <gtest/gtest.h>

#include <string>

#include "common/admin/status_page.h"
#include "tests/unit/common/admin/admin_fixtures.h"

namespace ringlb::admin {
namespace {

using testing::sampleSnapshot;

TEST(AdminStatusPageTest, EscapesHtmlSpecialCharacters) {
  EXPECT_EQ(htmlEscape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}

TEST(AdminStatusPageTest, ShowsADownBackendAsDown) {
  std::string page = renderStatusPage(sampleSnapshot());
  auto row = page.find("data-backend=\"127.0.0.1:9002\"");
  ASSERT_NE(row, std::string::npos);
  auto rowEnd = page.find("</tr>", row);
  EXPECT_NE(page.substr(row, rowEnd - row).find("<td class=\"state down\">down</td>"),
            std::string::npos);
}

TEST(AdminStatusPageTest, ShowsAHealthyBackendAsUp) {
  std::string page = renderStatusPage(sampleSnapshot());
  auto row = page.find("data-backend=\"127.0.0.1:9001\"");
  ASSERT_NE(row, std::string::npos);
  auto rowEnd = page.find("</tr>", row);
  EXPECT_NE(page.substr(row, rowEnd - row).find("<td class=\"state up\">up</td>"),
            std::string::npos);
}

TEST(AdminStatusPageTest, ShowsChecksOkFailedAndSkipped) {
  std::string page = renderStatusPage(sampleSnapshot());
  auto row = page.find("data-backend=\"127.0.0.1:9002\"");
  ASSERT_NE(row, std::string::npos);
  auto rowEnd = page.find("</tr>", row);
  EXPECT_NE(page.substr(row, rowEnd - row).find("<td>0/3/2</td>"), std::string::npos);
}

TEST(AdminStatusPageTest, RefreshesItself) {
  std::string page = renderStatusPage(sampleSnapshot());
  EXPECT_NE(page.find("<meta http-equiv=\"refresh\""), std::string::npos);
}

TEST(AdminStatusPageTest, ListsEveryListener) {
  std::string page = renderStatusPage(sampleSnapshot());
  EXPECT_NE(page.find("data-listener=\"db\""), std::string::npos);
  EXPECT_NE(page.find("data-listener=\"web\""), std::string::npos);
}

TEST(AdminStatusPageTest, ListenerNamesCannotInjectMarkup) {
  AdminSnapshot s = sampleSnapshot();
  s.listeners[0].name = "<script>x</script>";
  std::string page = renderStatusPage(s);
  EXPECT_EQ(page.find("<script>"), std::string::npos);
}

}  // namespace
}  // namespace ringlb::admin
