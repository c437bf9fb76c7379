#include "common/admin/admin_connection.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace ringlb::admin {
namespace {

using Clock = AdminConnection::Clock;

// An AdminConnection on one end of a socket pair; the test is the client on the other.
class AdminConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
    client_ = fds[0];
    conn_ = std::make_unique<AdminConnection>(fds[1], now_, responder_);
  }
  void TearDown() override {
    conn_.reset();
    ::close(client_);
  }

  void send(const std::string& bytes) {
    ASSERT_EQ(::send(client_, bytes.data(), bytes.size(), 0), static_cast<ssize_t>(bytes.size()));
  }
  // Everything the server has written so far.
  std::string received() {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::recv(client_, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }
  bool serverClosed() {
    char c;
    return ::recv(client_, &c, 1, 0) == 0;
  }

  Clock::time_point now_ = Clock::now();
  int requests_ = 0;
  AdminConnection::Responder responder_ = [this](const http::MessageHead& head) {
    ++requests_;
    AdminReply r;
    r.body = std::string(head.path);
    return r;
  };
  int client_ = -1;
  std::unique_ptr<AdminConnection> conn_;
};

TEST_F(AdminConnectionTest, AnswersARequestAndStaysOpenWithKeepAlive) {
  send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(conn_->onReady(POLLIN, now_));
  std::string reply = received();
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  EXPECT_EQ(reply.substr(reply.size() - 2), "/a");
  EXPECT_EQ(conn_->events(), POLLIN);
}

TEST_F(AdminConnectionTest, ClosesAfterTheReplyWhenTheClientAsksForClose) {
  send("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_FALSE(conn_->onReady(POLLIN, now_));
  EXPECT_NE(received().find("Connection: close\r\n"), std::string::npos);
}

TEST_F(AdminConnectionTest, AnswersPipelinedRequestsInOrder) {
  send("GET /one HTTP/1.1\r\nHost: x\r\n\r\nGET /two HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(conn_->onReady(POLLIN, now_));
  std::string reply = received();
  auto one = reply.find("/one");
  auto two = reply.find("/two");
  ASSERT_NE(one, std::string::npos);
  ASSERT_NE(two, std::string::npos);
  EXPECT_LT(one, two);
  EXPECT_EQ(requests_, 2);
}

TEST_F(AdminConnectionTest, WaitsForTheRestOfASplitHead) {
  send("GET /split HTTP/1.1\r\nHo");
  EXPECT_TRUE(conn_->onReady(POLLIN, now_));
  EXPECT_EQ(requests_, 0);
  send("st: x\r\n\r\n");
  EXPECT_TRUE(conn_->onReady(POLLIN, now_));
  EXPECT_EQ(requests_, 1);
}

TEST_F(AdminConnectionTest, AMalformedRequestGets400AndClose) {
  send("GET /a HTTP/1.1\nHost: x\n\n");
  EXPECT_FALSE(conn_->onReady(POLLIN, now_));
  EXPECT_EQ(received().rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_EQ(requests_, 0);
}

TEST_F(AdminConnectionTest, AnOversizedHeadIsRefusedWithoutGrowingWithoutBound) {
  send("GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(12 * 1024, 'a') + "\r\n\r\n");
  EXPECT_FALSE(conn_->onReady(POLLIN, now_));
  EXPECT_EQ(received().rfind("HTTP/1.1 431 ", 0), 0u);
}

TEST_F(AdminConnectionTest, ARequestWithABodyIsAnsweredThenClosed) {
  send("GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
  EXPECT_FALSE(conn_->onReady(POLLIN, now_));
  EXPECT_NE(received().find("Connection: close\r\n"), std::string::npos);
}

TEST_F(AdminConnectionTest, PeerCloseBeforeARequestEndsTheConnection) {
  ::shutdown(client_, SHUT_WR);
  EXPECT_FALSE(conn_->onReady(POLLIN, now_));
}

TEST_F(AdminConnectionTest, DeadlineMovesForwardAfterEachReply) {
  auto first = conn_->deadline();
  send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  auto later = now_ + std::chrono::seconds(5);
  EXPECT_TRUE(conn_->onReady(POLLIN, later));
  EXPECT_EQ(conn_->deadline(), later + AdminConnection::kIdleTimeout);
  EXPECT_GT(conn_->deadline(), first);
}

}  // namespace
}  // namespace ringlb::admin
