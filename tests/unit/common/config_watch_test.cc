// ConfigWatch: which changes of the config file ask for a reload (after the
// debounce), whichever way they are made, and which do not.
#include "common/config_watch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace ringlb {
namespace {

namespace fs = std::filesystem;
using Clock = ConfigWatch::Clock;

class ConfigWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ringlb-watch-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ / "ringlb.toml";
    write(path_, "a = 1\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void write(const fs::path& p, const std::string& text) {
    std::ofstream(p, std::ios::trunc) << text;
  }
  // Polls as the server's loop would: at once, then past the debounce.
  bool changedAfterDebounce(ConfigWatch& w) {
    auto now = Clock::now();
    bool early = w.poll(now);
    EXPECT_FALSE(early) << "a reload before the debounce";
    return w.poll(now + ConfigWatch::kDebounce + std::chrono::milliseconds(1));
  }

  fs::path dir_;
  fs::path path_;
};

TEST_F(ConfigWatchTest, AWriteInPlaceAsksForOneReloadAfterTheDebounce) {
  ConfigWatch w(path_.string());
  std::string error;
  ASSERT_TRUE(w.start(&error)) << error;
  EXPECT_FALSE(w.poll(Clock::now())) << "nothing changed yet";
  write(path_, "a = 2\n");
  write(path_, "a = 3\n");  // a burst is one reload
  EXPECT_TRUE(changedAfterDebounce(w));
  EXPECT_FALSE(w.poll(Clock::now() + std::chrono::seconds(5))) << "asked twice";
}

TEST_F(ConfigWatchTest, AnEditorsRenameOverTheFileIsSeen) {
  ConfigWatch w(path_.string());
  std::string error;
  ASSERT_TRUE(w.start(&error)) << error;
  write(dir_ / ".ringlb.toml.swp", "a = 9\n");
  fs::rename(dir_ / ".ringlb.toml.swp", path_);
  EXPECT_TRUE(changedAfterDebounce(w));
}

TEST_F(ConfigWatchTest, AConfigMapSymlinkSwapIsSeen) {
  // kubelet's layout: ringlb.toml -> ..data/ringlb.toml, ..data -> ..v1.
  fs::remove(path_);
  fs::create_directory(dir_ / "..v1");
  write(dir_ / "..v1" / "ringlb.toml", "a = 1\n");
  fs::create_directory_symlink("..v1", dir_ / "..data");
  fs::create_symlink("..data/ringlb.toml", path_);
  ConfigWatch w(path_.string());
  std::string error;
  ASSERT_TRUE(w.start(&error)) << error;
  fs::create_directory(dir_ / "..v2");
  write(dir_ / "..v2" / "ringlb.toml", "a = 2\n");
  fs::create_directory_symlink("..v2", dir_ / "..data_tmp");
  fs::rename(dir_ / "..data_tmp", dir_ / "..data");
  EXPECT_TRUE(changedAfterDebounce(w));
}

TEST_F(ConfigWatchTest, OtherFilesAndTheSameContentAskForNothing) {
  ConfigWatch w(path_.string());
  std::string error;
  ASSERT_TRUE(w.start(&error)) << error;
  write(dir_ / "other.toml", "b = 1\n");
  EXPECT_FALSE(changedAfterDebounce(w)) << "another file of the directory";
  write(path_, "a = 1\n");  // rewritten, unchanged
  EXPECT_FALSE(changedAfterDebounce(w)) << "the same content";
}

TEST_F(ConfigWatchTest, AFileGoneForAMomentWaitsUntilItIsBack) {
  ConfigWatch w(path_.string());
  std::string error;
  ASSERT_TRUE(w.start(&error)) << error;
  fs::remove(path_);
  EXPECT_FALSE(changedAfterDebounce(w)) << "nothing to reload yet";
  write(path_, "a = 5\n");
  EXPECT_TRUE(changedAfterDebounce(w));
}

TEST_F(ConfigWatchTest, AMissingDirectoryIsAClearError) {
  ConfigWatch w((dir_ / "nope" / "ringlb.toml").string());
  std::string error;
  EXPECT_FALSE(w.start(&error));
  EXPECT_NE(error.find("cannot watch"), std::string::npos) << error;
  EXPECT_FALSE(w.active());
}

}  // namespace
}  // namespace ringlb
