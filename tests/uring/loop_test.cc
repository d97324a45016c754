// Loop basics: options, Post from many threads, Stop, timers and their Cancel, the
// before-wait hook, teardown with work in flight.
#include "uring/loop.h"

#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace kvs::uring {
namespace {

using namespace std::chrono_literals;
using testing::MakeLoop;
using testing::SmallOptions;

TEST(LoopTest, CreateRejectsBufferCountNotPowerOfTwo) {
  LoopOptions o = SmallOptions();
  o.buffer_count = 3;
  auto loop = Loop::Create(o);
  ASSERT_FALSE(loop.ok());
  EXPECT_TRUE(loop.status().IsInvalidArgument()) << loop.status().ToString();
}

TEST(LoopTest, CreateRejectsCqSmallerThanSq) {
  LoopOptions o = SmallOptions();
  o.sq_entries = 128;
  o.cq_entries = 64;
  auto loop = Loop::Create(o);
  ASSERT_FALSE(loop.ok());
  EXPECT_TRUE(loop.status().IsInvalidArgument());
}

TEST(LoopTest, ResultToStatusNamesTheOperation) {
  EXPECT_TRUE(ResultToStatus("send", 5).ok());
  Status s = ResultToStatus("send to fd 7", -EPIPE);
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.err_no(), EPIPE);
  EXPECT_NE(s.message().find("send to fd 7"), std::string_view::npos);
}

TEST(LoopTest, StopBeforeRunMakesRunReturn) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  loop->Stop();
  EXPECT_TRUE(loop->Run().ok());
}

TEST(LoopTest, StopFromAnotherThreadEndsRun) {
  std::atomic<bool> created{false};
  std::atomic<bool> ran{false};
  std::atomic<bool> stop_returned{false};
  std::atomic<Loop*> shared{nullptr};
  // The loop lives on its own thread (single issuer): created, run and destroyed there.
  std::thread loop_thread([&] {
    auto loop = MakeLoop(SmallOptions());
    if (loop == nullptr) return;
    shared = loop.get();
    created = true;
    EXPECT_TRUE(loop->Run().ok());
    ran = true;
    shared = nullptr;
    // Stop() may still be running on the other thread after Run() returned: the Loop must
    // outlive it (the contract in loop.h).
    while (!stop_returned) std::this_thread::yield();
  });
  while (!created) std::this_thread::yield();
  shared.load()->Stop();
  stop_returned = true;
  loop_thread.join();
  EXPECT_TRUE(ran);
}

TEST(LoopTest, RunCanBeCalledAgainAfterStop) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  int runs = 0;
  for (int i = 0; i < 3; ++i) {
    loop->Post([&] {
      ++runs;
      loop->Stop();
    });
    ASSERT_TRUE(loop->Run().ok());
  }
  EXPECT_EQ(runs, 3);
}

TEST(LoopTest, PostFromManyThreadsRunsEveryTaskOnceOnLoopThread) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 5000;
  constexpr int kTotal = kThreads * kPerThread;
  std::vector<int> runs(kTotal, 0);  // touched only on the loop thread
  std::vector<int> last_seen(kThreads, -1);
  int done = 0;
  int off_thread = 0;
  int out_of_order = 0;
  std::vector<std::thread> producers;
  for (int t = 0; t < kThreads; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        loop->Post([&, t, i] {
          if (!loop->on_loop_thread()) ++off_thread;
          if (i <= last_seen[t]) ++out_of_order;  // one producer's posts stay in order
          last_seen[t] = i;
          ++runs[t * kPerThread + i];
          if (++done == kTotal) loop->Stop();
        });
        if (i % 512 == 0) std::this_thread::yield();  // let the loop go to sleep sometimes
      }
    });
  }
  ASSERT_TRUE(loop->Run().ok());
  for (auto& p : producers) p.join();
  EXPECT_EQ(done, kTotal);
  EXPECT_EQ(off_thread, 0);
  EXPECT_EQ(out_of_order, 0);
  for (int i = 0; i < kTotal; ++i) ASSERT_EQ(runs[i], 1) << "task " << i;
  EXPECT_EQ(loop->stats().posted, static_cast<uint64_t>(kTotal));
}

// The system call `tid` (a thread of this process) is blocked in, or -1 when it is running
// (proc(5) /proc/<pid>/task/<tid>/syscall); nullopt when the kernel does not say.
std::optional<long> BlockedInSyscall(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/syscall");
  std::string first;
  if (!(in >> first)) return std::nullopt;
  if (first == "running") return -1;
  return std::strtol(first.c_str(), nullptr, 10);
}

TEST(LoopTest, PostWakesASleepingLoop) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  const pid_t loop_tid = static_cast<pid_t>(::syscall(SYS_gettid));  // Run() runs here
  if (!BlockedInSyscall(loop_tid).has_value()) {
    GTEST_SKIP() << "/proc/self/task/<tid>/syscall is not readable here";
  }
  bool ran = false;
  Loop::Stats at_task{};
  std::atomic<bool> asleep{false};
  // Nothing else is armed but the hang guard's 90 s timer: the loop sleeps in the kernel
  // (io_uring_enter) until the eventfd wakes it.
  std::thread producer([&] {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (BlockedInSyscall(loop_tid) != SYS_io_uring_enter &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    asleep = BlockedInSyscall(loop_tid) == SYS_io_uring_enter;
    loop->Post([&] {
      ran = true;
      at_task = loop->stats();
      loop->Stop();
    });
  });
  ASSERT_TRUE(loop->Run().ok());
  producer.join();
  EXPECT_TRUE(asleep) << "the loop never blocked in io_uring_enter";
  EXPECT_TRUE(ran);
  // The one wait ended with the eventfd's completion and nothing else (no timer fired):
  // iteration 1 went to sleep, iteration 2 reaped the wake-up and ran the task.
  EXPECT_EQ(at_task.wakeups, 1u);
  EXPECT_EQ(at_task.completions, 1u);
  EXPECT_EQ(at_task.iterations, 2u);
}

TEST(LoopTest, TimersFireOnceInDeadlineOrder) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  std::vector<int> fired;
  loop->After(30ms, [&] {
    fired.push_back(30);
    loop->Stop();
  });
  loop->After(1ms, [&] { fired.push_back(1); });
  loop->After(10ms, [&] { fired.push_back(10); });
  loop->After(-5ms, [&] { fired.push_back(0); });  // negative delay: fires at once
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(fired, (std::vector<int>{0, 1, 10, 30}));
}

TEST(LoopTest, CancelledTimerNeverFires) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  bool fired = false;
  OpId id = loop->After(1ms, [&] { fired = true; });
  EXPECT_NE(id, 0u);
  loop->Cancel(id);
  loop->Cancel(id);  // twice is harmless
  loop->After(30ms, [&] { loop->Stop(); });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_FALSE(fired);
}

// Two timers expire together; whichever runs first cancels the other, whose CQE may
// already sit in the same reaped batch: it must be swallowed.
TEST(LoopTest, CancelSwallowsACompletionAlreadyReaped) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  for (int round = 0; round < 20; ++round) {
    int fired = 0;
    OpId a = 0;
    OpId b = 0;
    a = loop->After(1ms, [&] {
      ++fired;
      loop->Cancel(b);
    });
    b = loop->After(1ms, [&] {
      ++fired;
      loop->Cancel(a);
    });
    loop->After(20ms, [&] { loop->Stop(); });
    ASSERT_TRUE(loop->Run().ok());
    EXPECT_EQ(fired, 1) << "round " << round;
  }
}

TEST(LoopTest, BeforeWaitRunsEachIterationAndItsWorkIsNotStuck) {
  auto loop = MakeLoop(SmallOptions());
  ASSERT_NE(loop, nullptr);
  int hook_calls = 0;
  int step = 0;
  loop->SetBeforeWait([&] {
    ++hook_calls;
    // Work queued here must go out in this iteration's submit, or the loop would sleep
    // forever: nothing else is armed.
    if (step == 0) {
      step = 1;
      loop->After(0ns, [&] { step = 2; });
    } else if (step == 2) {
      step = 3;
      loop->Post([&] { loop->Stop(); });
    }
  });
  ASSERT_TRUE(loop->Run().ok());
  EXPECT_EQ(step, 3);
  EXPECT_GE(hook_calls, 2);
  EXPECT_GE(loop->stats().iterations, static_cast<uint64_t>(hook_calls));
}

TEST(LoopTest, DestroyWithWorkInFlightCallsNothing) {
  bool called = false;
  testing::SocketPair sp;
  {
    auto loop = MakeLoop(SmallOptions());
    ASSERT_NE(loop, nullptr);
    loop->Recv(sp.a, [&](int, std::string_view) { called = true; });
    loop->After(1h, [&] { called = true; });
    loop->Send(sp.b, std::string(1 << 20, 'x'), [&](int) { called = true; });
    loop->Post([&] { called = true; });
  }
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace kvs::uring
