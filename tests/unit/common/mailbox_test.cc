#include "common/mailbox.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace ringlb {
namespace {

TEST(Mailbox, TasksPostedFromAnotherThreadRunOnTheOwnerInOrder) {
  Ring ring(16);
  Mailbox mailbox(ring);
  mailbox.start();
  std::vector<int> ran;
  const auto owner = std::this_thread::get_id();
  bool allOnOwner = true;
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i) {
      mailbox.post([&, i] {
        ran.push_back(i);
        allOnOwner = allOnOwner && std::this_thread::get_id() == owner;
      });
    }
  });
  poster.join();
  for (int i = 0; i < 100 && ran.size() < 100; ++i) {
    ring.run(true, std::chrono::milliseconds(10));
    if (mailbox.woken()) mailbox.drain();
  }
  ASSERT_EQ(ran.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(ran[i], i);
  EXPECT_TRUE(allOnOwner);
  mailbox.stop();
  for (int i = 0; i < 100 && mailbox.opsInFlight() != 0; ++i) {
    ring.run(true, std::chrono::milliseconds(10));
  }
  EXPECT_EQ(mailbox.opsInFlight(), 0u);
}

TEST(Mailbox, APostWakesARingThatIsWaiting) {
  Ring ring(16);
  Mailbox mailbox(ring);
  mailbox.start();
  bool ran = false;
  std::thread poster([&] { mailbox.post([&] { ran = true; }); });
  // One wait with a long timeout returns early because of the post.
  auto start = std::chrono::steady_clock::now();
  while (!mailbox.woken()) ring.run(true, std::chrono::seconds(5));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
  mailbox.drain();
  poster.join();
  EXPECT_TRUE(ran);
  mailbox.stop();
  while (mailbox.opsInFlight() != 0) ring.run(true, std::chrono::milliseconds(10));
}

}  // namespace
}  // namespace ringlb
