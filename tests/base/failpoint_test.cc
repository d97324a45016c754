#include "base/failpoint.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

namespace kvs {
namespace {

class FailpointTest : public ::testing::Test {
 protected:
  void TearDown() override { failpoint::DisarmAll(); }

  // Runs `fn` in a child process; returns the signal that ended it (0 if it exited).
  static int SignalOfChild(const std::function<void()>& fn) {
    pid_t pid = ::fork();
    if (pid == 0) {
      fn();
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
};

TEST_F(FailpointTest, UnarmedPointsDoNothing) {
  EXPECT_EQ(SignalOfChild([] { KVS_FAILPOINT("test.nothing"); }), 0);
}

TEST_F(FailpointTest, ArmedPointKillsTheProcess) {
  EXPECT_EQ(SignalOfChild([] {
              failpoint::Arm("test.die");
              KVS_FAILPOINT("test.other");
              KVS_FAILPOINT("test.die");
              ::_exit(3);
            }),
            SIGKILL);
}

TEST_F(FailpointTest, SkipLetsHitsPass) {
  EXPECT_EQ(SignalOfChild([] {
              failpoint::Arm("test.skip", 2);
              KVS_FAILPOINT("test.skip");
              KVS_FAILPOINT("test.skip");
              if (failpoint::HitCount("test.skip") != 2) ::_exit(4);
              KVS_FAILPOINT("test.skip");
              ::_exit(3);
            }),
            SIGKILL);
}

TEST_F(FailpointTest, SpecArmsSeveralPoints) {
  EXPECT_EQ(failpoint::ArmFromSpec("a.b,c.d=1,,"), 2);
  failpoint::DisarmAll();
  EXPECT_EQ(SignalOfChild([] {
              failpoint::ArmFromSpec("x.y=1,z.w");
              KVS_FAILPOINT("x.y");  // skipped once
              KVS_FAILPOINT("z.w");  // dies here
              ::_exit(3);
            }),
            SIGKILL);
}

TEST_F(FailpointTest, HookRunsAtEveryHit) {
  int calls = 0;
  failpoint::SetHook("test.hook", [&] { ++calls; });
  KVS_FAILPOINT("test.hook");
  KVS_FAILPOINT("test.hook");
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(failpoint::HitCount("test.hook"), 2);
  failpoint::DisarmAll();
  KVS_FAILPOINT("test.hook");
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace kvs
