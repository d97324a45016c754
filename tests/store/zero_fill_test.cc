// The zero-filler (Options::zero_fill_ahead_bytes): blocks ahead of the log's end are
// written with zeros in the background, and no record is ever overwritten by them.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "store/log_store.h"
#include "store/test_util.h"

namespace kvs {
namespace {

using testing::TempDir;

// Bytes of [from, to) of `path` that lie in unwritten (fallocate'd only) extents; nullopt
// when the filesystem cannot tell (no FIEMAP).
std::optional<uint64_t> UnwrittenBytes(const std::string& path, uint64_t from, uint64_t to) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  constexpr unsigned kExtents = 256;
  std::vector<char> buf(sizeof(fiemap) + kExtents * sizeof(fiemap_extent));
  auto* fm = reinterpret_cast<fiemap*>(buf.data());
  fm->fm_start = from;
  fm->fm_length = to - from;
  fm->fm_flags = FIEMAP_FLAG_SYNC;
  fm->fm_extent_count = kExtents;
  const int rc = ::ioctl(fd, FS_IOC_FIEMAP, fm);
  ::close(fd);
  if (rc != 0) return std::nullopt;
  uint64_t unwritten = 0;
  for (unsigned i = 0; i < fm->fm_mapped_extents; ++i) {
    const fiemap_extent& e = fm->fm_extents[i];
    if (!(e.fe_flags & FIEMAP_EXTENT_UNWRITTEN)) continue;
    const uint64_t a = std::max<uint64_t>(e.fe_logical, from);
    const uint64_t b = std::min<uint64_t>(e.fe_logical + e.fe_length, to);
    if (b > a) unwritten += b - a;
  }
  return unwritten;
}

TEST(ZeroFillTest, TheBlocksAheadOfTheLogBecomeWritten) {
  TempDir dir;
  Options o;
  o.data_dir = dir.path();
  o.fsync = FsyncPolicy::kNever;
  o.segment_bytes = 8 << 20;
  o.zero_fill_ahead_bytes = 2 << 20;
  auto store = LogStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::vector<Status> results;
  WriteBatch batch;
  batch.Put("key", std::string(1000, 'v'));
  ASSERT_TRUE((*store)->Write(batch, &results).ok());
  const std::string segment = dir.File("1.log");
  std::optional<uint64_t> unwritten;
  for (int i = 0; i < 500; ++i) {  // the filler runs in the background
    unwritten = UnwrittenBytes(segment, 4096, 2 << 20);
    if (!unwritten || *unwritten == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!unwritten) GTEST_SKIP() << "this filesystem does not report extents (FIEMAP)";
  EXPECT_EQ(*unwritten, 0u) << "the 2 MiB ahead of the log are still only fallocate'd";
  // Not further than asked: the rest of the segment stays merely reserved.
  std::optional<uint64_t> beyond = UnwrittenBytes(segment, 4 << 20, 8 << 20);
  ASSERT_TRUE(beyond);
  EXPECT_GT(*beyond, 0u);
}

TEST(ZeroFillTest, ConcurrentWritersAcrossManyRollsLoseNothing) {
  TempDir dir;
  Options o;
  o.data_dir = dir.path();
  o.fsync = FsyncPolicy::kNever;
  o.segment_bytes = 256 << 10;         // many rolls
  o.zero_fill_ahead_bytes = 64 << 10;  // the filler races the writers all the time
  o.background_compaction = false;
  constexpr int kThreads = 4;
  constexpr int kWrites = 1500;
  auto value = [](int t, int i) { return std::string(50 + (i * 7 + t) % 400, 'a' + (i + t) % 26); };
  {
    auto store = LogStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    std::vector<std::thread> writers;
    for (int t = 0; t < kThreads; ++t) {
      writers.emplace_back([&, t] {
        for (int i = 0; i < kWrites; ++i) {
          WriteBatch batch;
          batch.Put("t" + std::to_string(t) + "-" + std::to_string(i), value(t, i));
          if (i % 3 == 0) batch.Put("t" + std::to_string(t) + "-x", value(t, i));
          std::vector<Status> results;
          ASSERT_TRUE((*store)->Write(batch, &results).ok());
        }
      });
    }
    for (auto& w : writers) w.join();
  }
  auto store = LogStore::Open(o);  // every record must parse: no zeros over any of them
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kWrites; ++i) {
      auto got = (*store)->Get("t" + std::to_string(t) + "-" + std::to_string(i));
      ASSERT_TRUE(got.ok()) << t << " " << i << ": " << got.status().ToString();
      ASSERT_EQ(*got, value(t, i));
    }
    EXPECT_EQ(*(*store)->Get("t" + std::to_string(t) + "-x"), value(t, (kWrites - 1) / 3 * 3));
  }
}

}  // namespace
}  // namespace kvs
