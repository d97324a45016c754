#include "pool/injector.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace kvs {
namespace {

TEST(InjectorTest, FifoWithinTheRing) {
  Injector q(8);
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) q.Push([&order, i] { order.push_back(i); });
  Task t;
  while (q.TryPop(t)) t();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(q.EmptyApprox());
}

TEST(InjectorTest, OverflowKeepsEveryTaskWhenRingIsFull) {
  Injector q(4);
  int ran = 0;
  for (int i = 0; i < 100; ++i) q.Push([&ran] { ++ran; });
  EXPECT_FALSE(q.EmptyApprox());
  Task t;
  while (q.TryPop(t)) t();
  EXPECT_EQ(ran, 100);
  EXPECT_TRUE(q.EmptyApprox());
}

TEST(InjectorTest, ManyProducersManyConsumersEachTaskOnce) {
  constexpr int kProducers = 4;
  constexpr int kConsumers = 3;
  constexpr int kPerProducer = 50000;
  Injector q(64);  // small, so the overflow path is exercised too
  std::vector<std::atomic<int>> ran(kProducers * kPerProducer);
  std::atomic<int> producers_left{kProducers};
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer; ++i) {
        const size_t id = static_cast<size_t>(p * kPerProducer + i);
        q.Push([&ran, id] { ran[id].fetch_add(1); });
      }
      producers_left.fetch_sub(1);
    });
  }
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&] {
      Task t;
      for (;;) {
        if (q.TryPop(t)) {
          t();
        } else if (producers_left.load() == 0 && q.EmptyApprox()) {
          break;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < ran.size(); ++i) ASSERT_EQ(ran[i].load(), 1) << i;
}

}  // namespace
}  // namespace kvs
