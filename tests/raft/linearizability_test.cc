// Hand-written histories with known verdicts, the explanation, and the History recorder.
// Randomized histories are in linearizability_random_test.cc.
#include "raft/linearizability.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace kvs::lin {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Times are given in microseconds, so explanations read as "+0.010ms".
constexpr int64_t kUs = 1000;

Op MakeOp(int client, OpType type, std::string key, int64_t invoke_us, int64_t complete_us) {
  Op op;
  op.client = client;
  op.type = type;
  op.key = std::move(key);
  op.invoke_ns = invoke_us * kUs;
  op.complete_ns = complete_us * kUs;
  return op;
}

Op Set(int client, std::string key, std::string value, int64_t invoke_us, int64_t complete_us) {
  Op op = MakeOp(client, OpType::kSet, std::move(key), invoke_us, complete_us);
  op.value = std::move(value);
  return op;
}

// nullopt: the get found nothing.
Op Get(int client, std::string key, const std::optional<std::string>& value, int64_t invoke_us,
       int64_t complete_us) {
  Op op = MakeOp(client, OpType::kGet, std::move(key), invoke_us, complete_us);
  op.found = value.has_value();
  op.value = value.value_or("");
  return op;
}

Op Rm(int client, std::string key, bool removed, int64_t invoke_us, int64_t complete_us) {
  Op op = MakeOp(client, OpType::kRm, std::move(key), invoke_us, complete_us);
  op.found = removed;
  return op;
}

// The op got no reply (its complete time is garbage on purpose: it must be ignored).
Op NoReply(Op op) {
  op.indeterminate = true;
  op.found = false;
  op.complete_ns = -1;
  if (op.type == OpType::kGet) op.value.clear();
  return op;
}

// Sets of "v0".."v<n-1>" to `key`: one after another by client 1, or all in flight together
// (client i writes "vi").
std::vector<Op> SequentialSets(const std::string& key, int n) {
  std::vector<Op> ops;
  ops.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    ops.push_back(Set(1, key, "v" + std::to_string(i), 20 * i, 20 * i + 10));
  }
  return ops;
}

std::vector<Op> ConcurrentSets(const std::string& key, int n) {
  std::vector<Op> ops;
  ops.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) ops.push_back(Set(i, key, "v" + std::to_string(i), 0, 100));
  return ops;
}

void ExpectLinearizable(const std::vector<Op>& history) {
  const CheckResult r = CheckLinearizable(history);
  EXPECT_TRUE(r.ok) << r.explanation;
  EXPECT_FALSE(r.inconclusive);
  EXPECT_EQ(r.ops_checked, history.size());
}

// Returns the explanation, for further expectations.
std::string ExpectViolation(const std::vector<Op>& history) {
  const CheckResult r = CheckLinearizable(history);
  EXPECT_FALSE(r.ok) << "expected a violation in a history of " << history.size() << " ops";
  EXPECT_FALSE(r.inconclusive) << r.explanation;
  EXPECT_FALSE(r.explanation.empty());
  return r.explanation;
}

// --- Linearizable histories ---------------------------------------------------------------

TEST(CheckLinearizable, EmptyHistory) { ExpectLinearizable({}); }

TEST(CheckLinearizable, SequentialSetGetRm) {
  ExpectLinearizable({
      Get(1, "x", std::nullopt, 0, 10),
      Set(1, "x", "a", 20, 30),
      Get(2, "x", "a", 40, 50),
      Set(2, "x", "b", 60, 70),
      Get(1, "x", "b", 80, 90),
      Rm(1, "x", true, 100, 110),
      Get(2, "x", std::nullopt, 120, 130),
      Rm(2, "x", false, 140, 150),
  });
}

TEST(CheckLinearizable, OverlappingSetAndGetMaySeeEitherValue) {
  ExpectLinearizable({Set(1, "x", "a", 0, 100), Get(2, "x", std::nullopt, 10, 20)});
  ExpectLinearizable({Set(1, "x", "a", 0, 100), Get(2, "x", "a", 10, 20)});
  // The get sees the new value, then a later get the old one: the set cannot be undone.
  ExpectViolation(
      {Set(1, "x", "a", 0, 100), Get(2, "x", "a", 10, 20), Get(3, "x", std::nullopt, 30, 40)});
}

TEST(CheckLinearizable, ConcurrentSetsOrderedByLaterReads) {
  // Two overlapping sets: the reads that follow both say "b" came last.
  ExpectLinearizable({Set(1, "x", "a", 0, 50), Set(2, "x", "b", 10, 60), Get(3, "x", "b", 70, 80),
                      Get(1, "x", "b", 90, 100)});
  ExpectLinearizable({Set(1, "x", "a", 0, 50), Set(2, "x", "b", 10, 60), Get(3, "x", "a", 70, 80)});
}

TEST(CheckLinearizable, TouchingOpsCountAsOverlapping) {
  // The get is invoked at the very nanosecond the set completes: either order.
  ExpectLinearizable({Set(1, "x", "a", 0, 10), Get(2, "x", std::nullopt, 10, 20)});
  ExpectViolation({Set(1, "x", "a", 0, 10), Get(2, "x", std::nullopt, 11, 20)});
}

TEST(CheckLinearizable, IndeterminateSetSeenLater) {
  ExpectLinearizable({NoReply(Set(1, "x", "a", 0, 0)), Get(2, "x", "a", 100, 110)});
}

TEST(CheckLinearizable, IndeterminateSetNeverSeen) {
  ExpectLinearizable({NoReply(Set(1, "x", "a", 0, 0)), Get(2, "x", std::nullopt, 100, 110),
                      Get(2, "x", std::nullopt, 200, 210)});
}

TEST(CheckLinearizable, IndeterminateSetMayTakeEffectAfterTheClientMovedOn) {
  // Client 1 timed out on "b" and went on; "b" was applied later (a slow commit).
  ExpectLinearizable({Set(1, "x", "a", 0, 10), NoReply(Set(1, "x", "b", 20, 0)),
                      Get(1, "x", "a", 30, 40), Get(2, "x", "b", 50, 60)});
}

TEST(CheckLinearizable, IndeterminateSetTakesEffectAtMostOnce) {
  ExpectViolation({Set(1, "x", "a", 0, 10), NoReply(Set(1, "x", "b", 20, 0)),
                   Get(1, "x", "a", 30, 40), Get(2, "x", "b", 50, 60), Get(2, "x", "a", 70, 80)});
}

TEST(CheckLinearizable, IndeterminateSetCannotTakeEffectBeforeItsInvoke) {
  ExpectViolation({Get(2, "x", "a", 0, 10), NoReply(Set(1, "x", "a", 20, 0))});
}

TEST(CheckLinearizable, IndeterminateGetConstrainsNothing) {
  ExpectLinearizable({Set(1, "x", "a", 0, 10), NoReply(Get(2, "x", std::nullopt, 20, 0)),
                      Get(2, "x", "a", 30, 40)});
}

TEST(CheckLinearizable, IndeterminateRmMayOrMayNotApply) {
  ExpectLinearizable({Set(1, "x", "a", 0, 10), NoReply(Rm(1, "x", false, 20, 0)),
                      Get(2, "x", "a", 30, 40), Get(2, "x", std::nullopt, 50, 60)});
  ExpectLinearizable({Set(1, "x", "a", 0, 10), NoReply(Rm(1, "x", false, 20, 0)),
                      Get(2, "x", "a", 30, 40), Rm(2, "x", true, 50, 60)});
}

TEST(CheckLinearizable, IndeterminateOpsWithDifferentEffectsAreNotInterchangeable) {
  // The removing rm needs one lost set before it; after "b" overwrites, having used lost
  // "a" there looks like having used lost "c" (one lost set linearized, key holds "b"), but
  // only "c" leaves "a" to explain the final read. A cache that confused the two would prune
  // the one good order.
  ExpectLinearizable({NoReply(Set(1, "x", "a", 0, 0)), NoReply(Set(2, "x", "c", 0, 0)),
                      Rm(3, "x", true, 5, 6), Set(3, "x", "b", 10, 20), Get(4, "x", "a", 30, 40)});
}

TEST(CheckLinearizable, FailedOpsLeaveNoTrace) {
  History h;
  const size_t set = h.Invoke(1, OpType::kSet, "x", "a");
  h.Fail(set);
  const size_t get = h.Invoke(2, OpType::kGet, "x");
  h.Complete(get, false);
  const CheckResult r = CheckLinearizable(h.ops());
  EXPECT_TRUE(r.ok) << r.explanation;
  EXPECT_EQ(r.ops_checked, 1u);
}

TEST(CheckLinearizable, KeysAreIndependent) {
  // Interleaved in time, but each key's sub-history is fine on its own.
  ExpectLinearizable({Set(1, "x", "a", 0, 100), Set(2, "y", "a", 10, 20), Get(3, "y", "a", 30, 40),
                      Get(3, "x", std::nullopt, 50, 60), Rm(2, "y", true, 70, 80),
                      Get(1, "x", "a", 110, 120), Get(1, "y", std::nullopt, 130, 140)});
}

TEST(CheckLinearizable, SameValueWrittenTwice) {
  ExpectLinearizable({Set(1, "x", "a", 0, 10), Set(1, "x", "b", 20, 30), Set(2, "x", "a", 40, 50),
                      Get(3, "x", "a", 60, 70)});
}

// --- Violations ---------------------------------------------------------------------------

TEST(CheckLinearizable, StaleReadAfterCompletedWrite) {
  ExpectViolation({Set(1, "x", "a", 0, 10), Set(1, "x", "b", 20, 30), Get(2, "x", "a", 40, 50)});
}

TEST(CheckLinearizable, NotFoundAfterCompletedWrite) {
  ExpectViolation({Set(1, "x", "a", 0, 10), Get(2, "x", std::nullopt, 20, 30)});
}

TEST(CheckLinearizable, ReadOfValueNeverWritten) {
  EXPECT_THAT(ExpectViolation({Set(1, "x", "a", 0, 10), Get(2, "x", "zzz", 20, 30)}),
              HasSubstr("No set of this key wrote \"zzz\"."));
  // Written, but to another key.
  ExpectViolation({Set(1, "y", "a", 0, 10), Get(2, "x", "a", 20, 30)});
}

TEST(CheckLinearizable, SequentialGetsDisagreeOnWriteOrder) {
  // Clients 2 and 3 each read twice while both sets are in flight: 2 sees a then b, 3 sees
  // b then a. No single order of the two sets explains both.
  ExpectViolation({Set(1, "x", "a", 0, 100), Set(4, "x", "b", 0, 100), Get(2, "x", "a", 10, 20),
                   Get(2, "x", "b", 30, 40), Get(3, "x", "b", 10, 20), Get(3, "x", "a", 30, 40)});
}

TEST(CheckLinearizable, RmReportsRemovedTwiceForOneSet) {
  ExpectViolation({Set(1, "x", "a", 0, 10), Rm(2, "x", true, 20, 30), Rm(3, "x", true, 40, 50)});
  // Concurrent rms: still only one of them can have removed the value.
  ExpectViolation({Set(1, "x", "a", 0, 10), Rm(2, "x", true, 20, 50), Rm(3, "x", true, 20, 50)});
  ExpectLinearizable(
      {Set(1, "x", "a", 0, 10), Rm(2, "x", true, 20, 50), Rm(3, "x", false, 20, 50)});
}

TEST(CheckLinearizable, RmOfAbsentKeyReportsRemoved) { ExpectViolation({Rm(1, "x", true, 0, 10)}); }

TEST(CheckLinearizable, ReadOfValueWhoseSetStartedAfterTheReadCompleted) {
  ExpectViolation({Get(2, "x", "a", 0, 10), Set(1, "x", "a", 20, 30)});
}

TEST(CheckLinearizable, ViolationOnOneKeyNamesOnlyThatKey) {
  const std::string why =
      ExpectViolation({Set(1, "good", "a", 0, 10), Get(2, "good", "a", 20, 30),
                       Set(1, "bad", "a", 0, 10), Get(2, "bad", std::nullopt, 20, 30)});
  EXPECT_THAT(why, HasSubstr("key \"bad\""));
  EXPECT_THAT(why, Not(HasSubstr("key \"good\"")));
}

TEST(CheckLinearizable, EveryFailingKeyIsReported) {
  const std::string why =
      ExpectViolation({Set(1, "p", "a", 0, 10), Get(2, "p", std::nullopt, 20, 30),
                       Set(1, "q", "a", 0, 10), Get(2, "q", "b", 20, 30)});
  EXPECT_THAT(why, HasSubstr("key \"p\""));
  EXPECT_THAT(why, HasSubstr("key \"q\""));
}

TEST(CheckLinearizable, ExplanationListsTheOpsThatCannotBeOrdered) {
  const std::string why = ExpectViolation({
      Set(1, "x", "v1", 1000, 1010),
      Set(1, "x", "v2", 1020, 1030),
      NoReply(Set(4, "x", "v9", 1025, 0)),
      Get(3, "x", "v1", 1040, 1050),
  });
  // The key, the last order found, and the stuck read with its client and relative times.
  EXPECT_THAT(why, HasSubstr("key \"x\": not linearizable (4 ops"));
  EXPECT_THAT(why, HasSubstr("after it the key is \"v2\""));
  EXPECT_THAT(why, HasSubstr("client 1   set \"v2\""));
  EXPECT_THAT(why, HasSubstr("[+0.020ms, +0.030ms]"));
  EXPECT_THAT(why, HasSubstr("No order fits op #3 in before it returned"));
  EXPECT_THAT(why, HasSubstr("client 3   get -> \"v1\""));
  EXPECT_THAT(why, HasSubstr("[+0.040ms, +0.050ms]"));
  EXPECT_THAT(why, HasSubstr("[+0.025ms, no reply]"));
  EXPECT_THAT(
      why, HasSubstr("The sets of this key that wrote \"v1\":\n    #0     client 1   set \"v1\""));
}

TEST(CheckLinearizable, ExplanationEscapesAndShortensValues) {
  const std::string long_value(100, 'z');
  const std::string why =
      ExpectViolation({Set(1, "k\n", long_value, 0, 10), Get(2, "k\n", "\x01\"", 20, 30)});
  EXPECT_THAT(why, HasSubstr("key \"k\\x0a\""));
  EXPECT_THAT(why, HasSubstr("\"\\x01\\\"\""));
  EXPECT_THAT(why, HasSubstr("...(100 bytes)"));
}

TEST(CheckLinearizable, MalformedWhenCompleteBeforeInvoke) {
  const CheckResult r = CheckLinearizable({Set(1, "x", "a", 50, 10)});
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.inconclusive);
  EXPECT_THAT(r.explanation, HasSubstr("Malformed"));
}

// --- The work bound -----------------------------------------------------------------------

CheckResult CheckWithBound(const std::vector<Op>& history, size_t max_states_per_key) {
  CheckOptions options;
  options.max_states_per_key = max_states_per_key;
  return CheckLinearizable(history, options);
}

TEST(CheckLinearizable, InconclusiveWhenTheStateBoundRunsOut) {
  std::vector<Op> history = SequentialSets("x", 20);
  const CheckResult r = CheckWithBound(history, 5);
  EXPECT_FALSE(r.ok);
  EXPECT_TRUE(r.inconclusive);
  EXPECT_THAT(r.explanation, HasSubstr("key \"x\": inconclusive"));

  EXPECT_TRUE(CheckWithBound(history, 20).ok);
}

TEST(CheckLinearizable, InconclusiveSaysWhereTheSearchGotFurthest) {
  // 10 sets in flight together, then a read of a value none wrote: proving that takes all
  // 2^10 subsets; the bound stops it first.
  std::vector<Op> history = ConcurrentSets("x", 10);
  history.push_back(Get(20, "x", "v99", 200, 210));
  const CheckResult r = CheckWithBound(history, 100);
  EXPECT_TRUE(r.inconclusive);
  EXPECT_THAT(r.explanation, HasSubstr("No order fits op #10 in before it returned"));
  EXPECT_THAT(r.explanation, HasSubstr("get -> \"v99\""));
}

TEST(CheckLinearizable, ViolationWinsOverInconclusive) {
  std::vector<Op> history = SequentialSets("big", 20);
  history.push_back(Get(1, "small", "nope", 0, 10));
  const CheckResult r = CheckWithBound(history, 5);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.inconclusive);
  EXPECT_THAT(r.explanation, HasSubstr("key \"small\": not linearizable"));
  EXPECT_THAT(r.explanation, HasSubstr("key \"big\": inconclusive"));
}

TEST(CheckLinearizable, ConcurrentWritesAreMemoized) {
  // 12 sets in flight together and a read of the one that must come last: 12! orders, but
  // only 2^12 sets of linearized ops.
  std::vector<Op> history = ConcurrentSets("x", 12);
  history.push_back(Get(20, "x", "v0", 200, 210));
  CheckResult r = CheckLinearizable(history);
  EXPECT_TRUE(r.ok) << r.explanation;
  // A read nobody explains makes the search exhaust every reachable state.
  history.back() = Get(20, "x", "v99", 200, 210);
  r = CheckLinearizable(history);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.inconclusive);
  EXPECT_LE(r.states_explored, size_t{1} << 13);
}

TEST(CheckLinearizable, PendingIndeterminateWritesDoNotMultiplyStates) {
  // 12 writes and 12 rms that never took effect stay pending to the end; which of them the
  // search has linearized must not matter, only how many (else 2^24 states before a read).
  std::vector<Op> history;
  for (int i = 0; i < 12; ++i) {
    history.push_back(NoReply(Set(i, "x", "lost" + std::to_string(i), i, 0)));
    history.push_back(NoReply(Rm(i, "x", false, i, 0)));
  }
  for (int64_t i = 0; i < 100; ++i) {
    history.push_back(Get(30, "x", std::nullopt, 100 + 20 * i, 110 + 20 * i));
  }
  CheckResult r = CheckLinearizable(history);
  EXPECT_TRUE(r.ok) << r.explanation;
  history.push_back(Get(30, "x", "never", 10000, 10010));
  r = CheckLinearizable(history);
  EXPECT_FALSE(r.ok);
  EXPECT_FALSE(r.inconclusive) << r.explanation;
  EXPECT_LE(r.states_explored, 100'000u);
}

// --- History ------------------------------------------------------------------------------

TEST(History, RecordsTimesFromItsClock) {
  int64_t now = 100;
  History h([&now] { return now++; });
  const size_t set = h.Invoke(1, OpType::kSet, "x", "a");
  const size_t get = h.Invoke(2, OpType::kGet, "x", "ignored");
  h.Complete(get, true, "a");
  h.Complete(set, true, "ignored");
  const std::vector<Op> ops = h.ops();
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].type, OpType::kSet);
  EXPECT_EQ(ops[0].value, "a");
  EXPECT_FALSE(ops[0].found);
  EXPECT_EQ(ops[0].invoke_ns, 100);
  EXPECT_EQ(ops[0].complete_ns, 103);
  EXPECT_EQ(ops[1].client, 2);
  EXPECT_TRUE(ops[1].found);
  EXPECT_EQ(ops[1].value, "a");
  EXPECT_EQ(ops[1].invoke_ns, 101);
  EXPECT_EQ(ops[1].complete_ns, 102);
}

TEST(History, GetNotFoundAndRmOutcomes) {
  History h;
  const size_t get = h.Invoke(1, OpType::kGet, "x");
  h.Complete(get, false, "stale buffer");
  const size_t rm = h.Invoke(1, OpType::kRm, "x");
  h.Complete(rm, true);
  const std::vector<Op> ops = h.ops();
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_FALSE(ops[0].found);
  EXPECT_EQ(ops[0].value, "");
  EXPECT_TRUE(ops[1].found);
  EXPECT_LE(ops[0].invoke_ns, ops[0].complete_ns);
  EXPECT_LE(ops[0].complete_ns, ops[1].invoke_ns);
}

TEST(History, FailedOpsAreDroppedAndUnfinishedOnesIndeterminate) {
  History h;
  const size_t failed = h.Invoke(1, OpType::kSet, "x", "a");
  const size_t lost = h.Invoke(2, OpType::kSet, "x", "b");
  h.Invoke(3, OpType::kGet, "x");  // still waiting for its reply
  h.Fail(failed);
  h.Indeterminate(lost);
  const std::vector<Op> ops = h.ops();
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0].client, 2);
  EXPECT_TRUE(ops[0].indeterminate);
  EXPECT_EQ(ops[0].value, "b");
  EXPECT_EQ(ops[1].client, 3);
  EXPECT_TRUE(ops[1].indeterminate);
}

}  // namespace
}  // namespace kvs::lin
