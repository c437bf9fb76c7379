#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "common/admin/admin.h"
#include "common/shared_services.h"
#include "common/socket.h"
#include "config/address.h"

namespace ringlb::admin {
namespace {

config::Config adminOn(const std::string& bind) {
  config::Config cfg;
  std::string error;
  cfg.admin = config::AdminConfig{*config::parseNumericAddress(bind, &error)};
  return cfg;
}

// A blocking request on a fresh connection; returns everything until close.
std::string fetch(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(static_cast<uint16_t>(port));
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  EXPECT_EQ(send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

// A port that is bound (and listening) for the life of the object.
struct HeldPort {
  HeldPort() {
    std::string error;
    fd = openTcpListener(*config::parseNumericAddress("127.0.0.1:0", &error), &error);
    port = boundPort(fd);
  }
  ~HeldPort() { close(fd); }
  int fd;
  int port;
};

TEST(AdminServerTest, DoesNothingWithoutAnAdminSection) {
  SharedServices shared;
  auto admin = makeAdminServer(shared);
  EXPECT_EQ(admin->start(config::Config{}, {}), "");
  admin->stop();
}

TEST(AdminServerTest, StartFailsWithTheReasonWhenThePortIsTaken) {
  HeldPort held;
  SharedServices shared;
  auto admin = makeAdminServer(shared);
  std::string error = admin->start(adminOn("127.0.0.1:" + std::to_string(held.port)), {});
  EXPECT_NE(error.find("admin"), std::string::npos) << error;
  EXPECT_NE(error.find("Address already in use"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos);
}

TEST(AdminServerTest, ServesHealthzOnItsOwnThread) {
  int port;
  {
    HeldPort probe;  // find a free port, then release it for the admin listener
    port = probe.port;
  }
  SharedServices shared;
  auto admin = makeAdminServer(shared);
  ASSERT_EQ(admin->start(adminOn("127.0.0.1:" + std::to_string(port)), {}), "");
  std::string reply = fetch(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  admin->stop();
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply;
  EXPECT_EQ(reply.substr(reply.size() - 3), "ok\n");
}

}  // namespace
}  // namespace ringlb::admin
