// A disk that fills up under the real kvs-server, for both ways the loop writes the log
// (--log-write inline and uring): the failing write is reported with the OS's error, the
// store turns read-only (and says why), reads go on, and after a restart on the still-full
// disk every acknowledged write is there. The disk is a small tmpfs, so this needs root
// (mount); the test skips otherwise.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "e2e/server_fixture.h"

namespace kvs::e2e {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class DiskFullTest : public ServerTest, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "mounting a small tmpfs needs root";
    if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, "size=512k") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
    }
    mounted_ = true;
  }
  void TearDown() override {
    server_.reset();
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  // The log alone fills the disk: no zeros written ahead, small preallocation.
  std::vector<std::string> Flags() const {
    return {"--log-write", GetParam(), "--zero-fill-ahead", "0", "--segment-bytes", "1048576"};
  }

  bool mounted_ = false;
  std::unique_ptr<ServerProcess> server_;
};

TEST_P(DiskFullTest, AFullDiskFailsTheWriteLosesNothingAcknowledgedAndReadsGoOn) {
  server_ = Start(Flags());
  const std::string value(10000, 'v');
  std::vector<std::string> acked;
  std::string failure;
  {
    Conn c(port_);
    for (int i = 0; i < 200 && failure.empty(); ++i) {  // 512 KiB holds about 50
      const std::string key = "k" + std::to_string(i);
      c.Send(SetJson(key, value));
      std::optional<std::string> reply = c.ReadLine();
      ASSERT_TRUE(reply) << server_->Stderr();
      if (*reply == R"({"ok":true})") {
        acked.push_back(key);
      } else {
        failure = *reply;
      }
    }
    ASSERT_FALSE(failure.empty()) << "the disk never filled up";
    EXPECT_THAT(failure, StartsWith(R"({"ok":false,"error":)"));
    EXPECT_THAT(failure, HasSubstr("No space left on device"));
    EXPECT_GT(acked.size(), 10u);

    // Never retried as if fine: later writes are refused, saying why.
    c.Send(SetJson("small", "x"));
    EXPECT_THAT(c.ReadLine().value_or(""), HasSubstr("read-only"));
    for (const std::string& key : acked) {
      c.Send(GetJson(key));
      EXPECT_EQ(c.ReadLine(), ValueReply(value)) << key;
    }
  }
  std::map<std::string, std::string> stats = Stats();
  EXPECT_EQ(stats["read_only"], "1");
  EXPECT_THAT(stats["read_only_reason"], HasSubstr("No space left on device"));
  EXPECT_THAT(server_->Stderr(), HasSubstr("No space left on device"));
  EXPECT_EQ(server_->Stop(), 0) << server_->Stderr();

  // The disk is still full: recovery drops the torn tail and serves everything acknowledged.
  server_ = Start(Flags());
  Conn after(port_);
  for (const std::string& key : acked) {
    after.Send(GetJson(key));
    EXPECT_EQ(after.ReadLine(), ValueReply(value)) << key;
  }
}

INSTANTIATE_TEST_SUITE_P(LogWrite, DiskFullTest, ::testing::Values("inline", "uring"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace kvs::e2e
