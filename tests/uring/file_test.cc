// File operations: WriteAt (+ linked fdatasync) read back, large and short writes, fsync
// errors.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "test_util.h"
#include "uring/loop.h"

namespace kvs::uring {
namespace {

using testing::MakeLoop;
using testing::Pattern;
using testing::SmallOptions;

std::string ReadFile(int fd, size_t size, uint64_t offset = 0) {
  std::string out(size, '\0');
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd, out.data() + done, size - done, static_cast<off_t>(offset + done));
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

TEST(FileTest, WriteAtWithDatasyncReadsBack) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::TempFile file;
  std::vector<int> results;
  // Three records, one write in flight at a time (the group-commit pattern).
  const std::string a = "first record\n", b = Pattern(10000, 1), c = "third\n";
  loop->WriteAt(file.fd, a, 0, true, [&](int res) {
    results.push_back(res);
    loop->WriteAt(file.fd, b, a.size(), true, [&](int res2) {
      results.push_back(res2);
      loop->WriteAt(file.fd, c, a.size() + b.size(), false, [&](int res3) {
        results.push_back(res3);
        loop->Stop();
      });
    });
  });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(results, (std::vector<int>{0, 0, 0}));
  EXPECT_EQ(ReadFile(file.fd, 20000), a + b + c);
}

TEST(FileTest, LargeWriteWithDatasyncIsComplete) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::TempFile file;
  const std::string big = Pattern(48 << 20, 9);
  int result = 1;
  loop->WriteAt(file.fd, big, 4096, true, [&](int res) {
    result = res;
    loop->Stop();
  });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(result, 0);
  EXPECT_TRUE(ReadFile(file.fd, big.size(), 4096) == big);
}

// RLIMIT_FSIZE makes the kernel write only up to the limit: a short write that breaks the
// link to the fsync (-ECANCELED). The loop resumes at offset + written, where the next write
// fails with -EFBIG, which is reported (not the -ECANCELED of the fsync).
TEST(FileTest, ShortWriteIsResumedAtTheRightOffsetAndErrorsReported) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::TempFile file;
  constexpr rlim_t kLimit = 1 << 20;
  const std::string data = Pattern(3 << 20, 4);
  struct sigaction ignore = {}, old_action = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &old_action), 0);
  rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  rlimit limit = old_limit;
  limit.rlim_cur = kLimit;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  int result = 1;
  loop->WriteAt(file.fd, data, 0, true, [&](int res) {
    result = res;
    loop->Stop();
  });
  Status status = loop->Run();
  setrlimit(RLIMIT_FSIZE, &old_limit);
  sigaction(SIGXFSZ, &old_action, nullptr);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(result, -EFBIG);
  struct stat st;
  ASSERT_EQ(fstat(file.fd, &st), 0);
  EXPECT_EQ(static_cast<rlim_t>(st.st_size), kLimit);
  EXPECT_TRUE(ReadFile(file.fd, kLimit) == data.substr(0, kLimit));
}

// A short write whose linked fdatasync ran and failed anyway (injected: the kernel breaks
// the link on a short write, but the loop must not rely on it). The next round's fdatasync
// may well succeed, the page cache having dropped the dirty pages: the first failure is
// the answer.
TEST(FileTest, FailedFsyncAfterAShortWriteIsReported) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::TempFile file;
  const std::string data = Pattern(8192, 5);
  int writes = 0, fsyncs = 0;
  loop->SetWriteResultHookForTesting([&](bool linked_fsync, int res) {
    if (linked_fsync) return ++fsyncs == 1 ? -EIO : res;
    return ++writes == 1 && res == 8192 ? 4096 : res;
  });
  int result = 1;
  loop->WriteAt(file.fd, data, 0, true, [&](int res) {
    result = res;
    loop->Stop();
  });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(result, -EIO);
  EXPECT_EQ(fsyncs, 1) << "a failed fsync was followed by another one";
}

TEST(FileTest, WriteAtBadFdFails) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  int result = 1;
  loop->WriteAt(-1, "x", 0, true, [&](int res) {
    result = res;
    loop->Stop();
  });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(result, -EBADF);
}

TEST(FileTest, WriteAtEmptyWithDatasyncOnlySyncs) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::TempFile file;
  int result = 1;
  loop->WriteAt(file.fd, std::string(), 0, true, [&](int res) {
    result = res;
    loop->Stop();
  });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(result, 0);
}

TEST(FileTest, FsyncFileAndDirectory) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  testing::TempFile file;
  int dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  // Fsyncs are not ordered against each other: stop when all three are in.
  int file_res = 1, dir_res = 1, bad_res = 1, done = 0;
  auto record = [&](int* where) {
    return [&, where](int res) {
      *where = res;
      if (++done == 3) loop->Stop();
    };
  };
  loop->Fsync(file.fd, false, record(&file_res));
  loop->Fsync(dir, false, record(&dir_res));
  loop->Fsync(-1, true, record(&bad_res));
  ASSERT_TRUE(loop->Run().ok());
  close(dir);
  EXPECT_EQ(file_res, 0);
  EXPECT_EQ(dir_res, 0);
  EXPECT_EQ(bad_res, -EBADF);
}

// Many writes queued at once overflow a tiny SQ: GetSqe must submit and retry.
TEST(FileTest, ManyWritesOverflowTheSubmissionQueue) {
  LoopOptions options = SmallOptions();
  options.sq_entries = 4;
  options.cq_entries = 8;
  auto loop = MakeLoop(options);
  ASSERT_NE(loop, nullptr);
  testing::TempFile file;
  constexpr int kWrites = 200;
  int done = 0;
  int failed = 0;
  loop->Post([&] {
    for (int i = 0; i < kWrites; ++i) {
      loop->WriteAt(file.fd, std::string(100, static_cast<char>('a' + i % 26)), i * 100u,
                    i % 3 == 0, [&](int res) {
                      if (res != 0) ++failed;
                      if (++done == kWrites) loop->Stop();
                    });
    }
  });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(failed, 0);
  const std::string all = ReadFile(file.fd, kWrites * 100);
  ASSERT_EQ(all.size(), kWrites * 100u);
  for (int i = 0; i < kWrites; ++i) {
    ASSERT_EQ(all.substr(i * 100, 100), std::string(100, static_cast<char>('a' + i % 26)));
  }
}

}  // namespace
}  // namespace kvs::uring
