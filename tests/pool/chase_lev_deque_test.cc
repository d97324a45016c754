#include "pool/chase_lev_deque.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace kvs {
namespace {

TEST(ChaseLevDequeTest, OwnerPopsLifo) {
  ChaseLevDeque<int> d(4);
  int items[3] = {1, 2, 3};
  for (int& i : items) d.Push(&i);
  EXPECT_EQ(d.SizeApprox(), 3u);
  EXPECT_EQ(d.Pop(), &items[2]);
  EXPECT_EQ(d.Pop(), &items[1]);
  EXPECT_EQ(d.Pop(), &items[0]);
  EXPECT_EQ(d.Pop(), nullptr);
}

TEST(ChaseLevDequeTest, ThiefStealsFifo) {
  ChaseLevDeque<int> d(4);
  int items[2] = {1, 2};
  for (int& i : items) d.Push(&i);
  int* out = nullptr;
  ASSERT_EQ(d.Steal(&out), ChaseLevDeque<int>::StealResult::kSuccess);
  EXPECT_EQ(out, &items[0]);
  ASSERT_EQ(d.Steal(&out), ChaseLevDeque<int>::StealResult::kSuccess);
  EXPECT_EQ(out, &items[1]);
  EXPECT_EQ(d.Steal(&out), ChaseLevDeque<int>::StealResult::kEmpty);
}

TEST(ChaseLevDequeTest, GrowsKeepingEveryItem) {
  ChaseLevDeque<int> d(2);
  std::vector<int> items(1000);
  for (int& i : items) d.Push(&i);
  EXPECT_GE(d.capacity(), 1000u);
  int* out = nullptr;
  ASSERT_EQ(d.Steal(&out), ChaseLevDeque<int>::StealResult::kSuccess);
  EXPECT_EQ(out, &items[0]);
  for (size_t i = items.size() - 1; i >= 1; --i) ASSERT_EQ(d.Pop(), &items[i]);
  EXPECT_EQ(d.Pop(), nullptr);
}

// The owner pushes and pops while thieves steal, across buffer growth: every item is
// taken exactly once.
TEST(ChaseLevDequeTest, ConcurrentStealsTakeEachItemOnce) {
  constexpr int kItems = 200000;
  constexpr int kThieves = 3;
  ChaseLevDeque<int> d(2);
  std::vector<int> items(kItems);
  std::vector<std::atomic<int>> taken(kItems);
  std::atomic<bool> done{false};
  auto take = [&](int* p) { taken[static_cast<size_t>(p - items.data())].fetch_add(1); };

  std::vector<std::thread> thieves;
  for (int t = 0; t < kThieves; ++t) {
    thieves.emplace_back([&] {
      int* out = nullptr;
      while (!done.load(std::memory_order_acquire) || d.SizeApprox() > 0) {
        if (d.Steal(&out) == ChaseLevDeque<int>::StealResult::kSuccess) take(out);
      }
    });
  }
  for (int i = 0; i < kItems; ++i) {
    d.Push(&items[static_cast<size_t>(i)]);
    if (i % 3 == 0) {
      if (int* p = d.Pop()) take(p);
    }
  }
  while (int* p = d.Pop()) take(p);
  done.store(true, std::memory_order_release);
  for (auto& t : thieves) t.join();
  for (int i = 0; i < kItems; ++i) ASSERT_EQ(taken[static_cast<size_t>(i)].load(), 1) << i;
}

}  // namespace
}  // namespace kvs
