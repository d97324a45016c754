// Black-box tests of leader changes (issue 19): pre-vote keeps a node that comes back from
// a pause from deposing a healthy leader.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "raft/cluster_harness.h"

namespace kvs::raft_test {
namespace {

// Elections quick enough for a test; a sanitizer build on 2 cores keeps up (as cluster_test).
constexpr int kElectionMs = 500;
const std::vector<std::string> kFast = {"--raft-election-ms", std::to_string(kElectionMs),
                                        "--raft-heartbeat-ms", "50"};

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Node i's view, or "" when it does not answer.
std::string Field(Cluster& c, int i, const std::string& field) {
  std::optional<std::string> s = c.Status(i);
  return s ? StatusField(*s, field) : std::string();
}

// Pauses a follower (SIGSTOP) well past the election timeout while the others go on
// writing, resumes it, lets a few election timeouts go by, and returns whether the cluster
// held an election meanwhile (some node's term moved). Checks that everything else worked.
bool PausedFollowerCausedAnElection(const std::vector<std::string>& args) {
  Cluster c(3, args);
  c.StartAll();
  const int leader = c.WaitForLeader();
  EXPECT_GE(leader, 0);
  if (leader < 0) return true;
  std::optional<std::string> r = c.Call(SetJson("before", "1"));
  EXPECT_TRUE(r && IsOk(*r)) << (r ? *r : "no reply");
  const std::string term = Field(c, leader, "term");
  EXPECT_FALSE(term.empty());

  const int follower = (leader + 1) % 3;
  EXPECT_TRUE(c.EventuallyLocal(follower, "before", "1"));
  c.Pause(follower);
  // Well past the largest randomised election timeout (2x), and writes go on meanwhile.
  SleepMs(3 * kElectionMs);
  r = c.Call(SetJson("during", "1"), leader);
  EXPECT_TRUE(r && IsOk(*r)) << (r ? *r : "no reply");
  SleepMs(kElectionMs);
  c.Resume(follower);

  // It catches up (under whichever leader)...
  EXPECT_TRUE(c.EventuallyLocal(follower, "during", "1"));
  // ...and a few more election timeouts go by.
  SleepMs(4 * kElectionMs);
  r = c.Call(SetJson("after", "1"));
  EXPECT_TRUE(r && IsOk(*r)) << (r ? *r : "no reply");
  bool election = false;
  for (int i = 0; i < 3; ++i) {
    if (Field(c, i, "term") != term) election = true;
  }
  if (!election) {
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(Field(c, i, "leader_id"), std::to_string(leader + 1)) << "node " << i + 1;
    }
  }
  return election;
}

// With pre-vote (the default), the resumed node first asks whether it could win; the others
// still hear from their leader and say no, and the leader's next heartbeat makes it a
// follower again at the same term.
TEST(FailoverTest, APausedFollowerThatResumesDoesNotDeposeTheLeader) {
  EXPECT_FALSE(PausedFollowerCausedAnElection(kFast));
}

// The control: without pre-vote the resumed node's expired timer makes it raise its term;
// the leader sees the higher term in its answers and steps down, and the cluster holds an
// election it did not need. (Shows that the test above exercises what pre-vote prevents.)
TEST(FailoverTest, WithoutPreVoteAPausedFollowerThatResumesCausesAnElection) {
  std::vector<std::string> args = kFast;
  args.insert(args.end(), {"--raft-pre-vote", "off"});
  EXPECT_TRUE(PausedFollowerCausedAnElection(args));
}

}  // namespace
}  // namespace kvs::raft_test
