// ZeroFiller on its own: it fills ahead of the log's end through the Env, keeps out of the
// writer's way without making it wait, and lets go of a segment before it is closed.

#include "store/zero_filler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "store/test_util.h"

namespace kvs {
namespace {

using testing::GatedEnv;
using testing::TempDir;

constexpr uint64_t kMiB = 1 << 20;

class ZeroFillerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto f = env_.Open(path_, OpenMode::kCreateNew);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
  }
  // Waits (bounded) until the filler has zeroed `bytes`.
  bool AwaitFilled(const ZeroFiller& filler, uint64_t bytes) {
    for (int i = 0; i < 3000 && filler.bytes_filled() < bytes; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return filler.bytes_filled() >= bytes;
  }

  TempDir dir_;
  const std::string path_ = dir_.File("1.log");
  GatedEnv env_;
};

TEST_F(ZeroFillerTest, FillsAheadOfTheLogsEndThroughTheEnv) {
  ZeroFiller filler(&env_, 2 * kMiB, 8 * kMiB, nullptr);
  filler.SetSegment(path_, 0);
  ASSERT_TRUE(AwaitFilled(filler, 2 * kMiB));
  auto f = env_.Open(path_, OpenMode::kRead);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*(*f)->Size(), 2 * kMiB);  // written by the filler, through the Env
}

TEST_F(ZeroFillerTest, NeverFillsPastTheSegment) {
  ZeroFiller filler(&env_, 8 * kMiB, 3 * kMiB / 2, nullptr);
  filler.SetSegment(path_, 0);
  ASSERT_TRUE(AwaitFilled(filler, 3 * kMiB / 2));
  filler.Detach();
  EXPECT_EQ(filler.bytes_filled(), 3 * kMiB / 2);
  EXPECT_EQ(*(*env_.Open(path_, OpenMode::kRead))->Size(), 3 * kMiB / 2);
}

TEST_F(ZeroFillerTest, RefusesTheRangeItIsWritingAndCallsBackOnceDone) {
  env_.CloseWrites();
  ZeroFiller filler(&env_, 4 * kMiB, 8 * kMiB, nullptr);
  filler.SetSegment(path_, 0);
  ASSERT_TRUE(env_.AwaitWaiting(1));  // the filler is inside its first chunk: [0, 1 MiB)
  std::atomic<int> ready{0};
  // Overlapping its chunk: refused at once (the caller never waits), called back later.
  EXPECT_FALSE(filler.TryReserve(100, 5000, [&] { ++ready; }));
  // Past its chunk: granted.
  EXPECT_TRUE(filler.TryReserve(kMiB, kMiB + 100, [&] { ADD_FAILURE() << "not refused"; }));
  EXPECT_EQ(ready.load(), 0);
  env_.Open();
  for (int i = 0; i < 3000 && ready.load() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(ready.load(), 1);
}

TEST_F(ZeroFillerTest, DetachWaitsForTheWriteInProgressAndStopsFilling) {
  env_.CloseWrites();
  ZeroFiller filler(&env_, 4 * kMiB, 8 * kMiB, nullptr);
  filler.SetSegment(path_, 0);
  ASSERT_TRUE(env_.AwaitWaiting(1));
  std::atomic<bool> detached{false};
  std::thread t([&] {
    filler.Detach();
    detached = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(detached.load()) << "Detach returned while the filler was still writing";
  env_.Open();
  t.join();
  const uint64_t filled = filler.bytes_filled();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(filler.bytes_filled(), filled);  // detached: nothing more
  // The range it was in when detached is not counted as zeroed for any later segment.
  EXPECT_LE(filled, kMiB);
}

TEST_F(ZeroFillerTest, AFailedFillIsReportedAndOnlyStopsTheFiller) {
  Mutex mu;
  std::string warning;  // guarded by mu: set on the filler's thread
  ZeroFiller filler(&env_, 2 * kMiB, 8 * kMiB, [&](std::string_view w) {
    MutexLock lock(&mu);
    warning = w;
  });
  filler.SetSegment(dir_.File("missing.log"), 0);  // cannot be opened
  auto warned = [&] {
    MutexLock lock(&mu);
    return warning;
  };
  for (int i = 0; i < 3000 && warned().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(warned().find("zero-filling"), std::string::npos) << warned();
  EXPECT_TRUE(filler.TryReserve(0, 100, [] {}));  // the writer is never held up by it
}

}  // namespace
}  // namespace kvs
