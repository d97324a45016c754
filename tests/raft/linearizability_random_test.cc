// Randomized histories: generated from a real linearizable map (must pass), then mutated into
// histories no order can explain (must fail); a cluster-sized history; concurrent recording.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "raft/linearizability.h"

namespace kvs::lin {
namespace {

using ::testing::HasSubstr;

struct GenOptions {
  int clients = 5;
  int keys = 3;
  size_t ops = 300;
  double indeterminate = 0.02;  // share of ops that get no reply
  int values = 0;               // 0: every set writes a unique value; else "v0".."v<values-1>"
  uint64_t seed = 1;
};

// A history of clients running ops one at a time against a linearizable map: each op takes
// effect at a random instant between its invoke and its reply, and its result is what the map
// says at that instant. An indeterminate op takes effect at some instant after its invoke,
// possibly long after the client gave up on it, or never.
std::vector<Op> GenerateLinearizable(const GenOptions& g) {
  std::mt19937_64 rng(g.seed);
  auto below = [&rng](uint64_t n) { return static_cast<int64_t>(rng() % n); };
  struct Planned {
    size_t index;
    int64_t point;  // when it takes effect
  };
  std::vector<Op> ops;
  std::vector<Planned> applied;
  std::vector<int64_t> free_at(static_cast<size_t>(g.clients), 0);
  for (size_t n = 0; n < g.ops; ++n) {
    // The client that is idle first goes next: all of them stay busy, overlapping.
    const auto c =
        static_cast<size_t>(std::min_element(free_at.begin(), free_at.end()) - free_at.begin());
    Op op;
    op.client = static_cast<int>(c);
    op.key = fmt::format("k{}", below(static_cast<uint64_t>(g.keys)));
    const int64_t roll = below(100);
    op.type = roll < 40 ? OpType::kSet : roll < 85 ? OpType::kGet : OpType::kRm;
    if (op.type == OpType::kSet) {
      op.value = g.values == 0 ? fmt::format("c{}.{}", c, n)
                               : fmt::format("v{}", below(static_cast<uint64_t>(g.values)));
    }
    op.invoke_ns = free_at[c] + below(2000);
    const int64_t duration = 200 + below(20000);
    op.complete_ns = op.invoke_ns + duration;
    int64_t point = op.invoke_ns + below(static_cast<uint64_t>(duration) + 1);
    bool takes_effect = true;
    if (rng() % 10000 < static_cast<uint64_t>(g.indeterminate * 10000)) {
      op.indeterminate = true;
      takes_effect = rng() % 2 == 0;
      point = op.invoke_ns + below(static_cast<uint64_t>(5 * duration) + 1);
    }
    free_at[c] = op.complete_ns;
    if (takes_effect) applied.push_back({ops.size(), point});
    ops.push_back(std::move(op));
  }
  std::stable_sort(applied.begin(), applied.end(),
                   [](const Planned& a, const Planned& b) { return a.point < b.point; });
  std::map<std::string, std::string> map;
  for (const Planned& p : applied) {
    Op& op = ops[p.index];
    auto it = map.find(op.key);
    switch (op.type) {
      case OpType::kSet:
        map[op.key] = op.value;
        break;
      case OpType::kGet:
        op.found = it != map.end();
        op.value = op.found ? it->second : "";
        break;
      case OpType::kRm:
        op.found = it != map.end();
        if (op.found) map.erase(it);
        break;
    }
    if (op.indeterminate) {
      op.found = false;
      if (op.type == OpType::kGet) op.value.clear();
    }
  }
  return ops;
}

bool Before(const Op& a, const Op& b) { return !a.indeterminate && a.complete_ns < b.invoke_ns; }

// Makes one determinate get read the value of a set W1 although another set W2 separates them
// in real time (W1 before W2 before the get): with unique values, no order explains it.
// Returns the mutated get's index, or nullopt when the history has no such triple.
std::optional<size_t> MakeStaleRead(std::vector<Op>& ops, std::mt19937_64& rng) {
  std::vector<size_t> gets;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].type == OpType::kGet && !ops[i].indeterminate) gets.push_back(i);
  }
  std::shuffle(gets.begin(), gets.end(), rng);
  for (size_t r : gets) {
    for (const Op& w2 : ops) {
      if (w2.type != OpType::kSet || w2.key != ops[r].key || !Before(w2, ops[r])) continue;
      for (const Op& w1 : ops) {
        if (w1.type == OpType::kSet && w1.key == ops[r].key && Before(w1, w2) &&
            !(ops[r].found && ops[r].value == w1.value)) {
          ops[r].found = true;
          ops[r].value = w1.value;
          return r;
        }
      }
    }
  }
  return std::nullopt;
}

// Makes one determinate get read the value of a set invoked after the get completed.
std::optional<size_t> MakeFutureRead(std::vector<Op>& ops, std::mt19937_64& rng) {
  std::vector<size_t> order(ops.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t r : order) {
    if (ops[r].type != OpType::kGet || ops[r].indeterminate) continue;
    for (const Op& w : ops) {
      if (w.type == OpType::kSet && w.key == ops[r].key && Before(ops[r], w)) {
        ops[r].found = true;
        ops[r].value = w.value;
        return r;
      }
    }
  }
  return std::nullopt;
}

TEST(RandomHistories, GeneratedHistoriesOverlap) {
  // The generator must produce real concurrency, or the tests below prove little.
  GenOptions g;
  std::vector<Op> ops = GenerateLinearizable(g);
  std::sort(ops.begin(), ops.end(),
            [](const Op& a, const Op& b) { return a.invoke_ns < b.invoke_ns; });
  size_t overlapping = 0;
  int64_t latest_complete = 0;
  for (const Op& op : ops) {
    if (op.invoke_ns <= latest_complete) ++overlapping;
    latest_complete = std::max(latest_complete, op.complete_ns);
  }
  EXPECT_GT(overlapping, ops.size() * 3 / 4);
}

TEST(RandomHistories, LinearizableHistoriesPass) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    GenOptions g;
    g.seed = seed;
    g.indeterminate = seed % 4 == 0 ? 0.1 : 0.02;
    const CheckResult r = CheckLinearizable(GenerateLinearizable(g));
    ASSERT_TRUE(r.ok) << "seed " << seed << "\n" << r.explanation;
  }
}

TEST(RandomHistories, RepeatedValuesAndManyRmsPass) {
  // Few distinct values: reads cannot tell writes apart, so many orders fit.
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    GenOptions g;
    g.seed = seed;
    g.keys = 1;
    g.ops = 150;
    g.values = 2;
    const CheckResult r = CheckLinearizable(GenerateLinearizable(g));
    ASSERT_TRUE(r.ok) << "seed " << seed << "\n" << r.explanation;
  }
}

// Makes the first determinate get read a value no op ever wrote.
std::optional<size_t> MakeUnwrittenRead(std::vector<Op>& ops, std::mt19937_64& /*rng*/) {
  for (size_t r = 0; r < ops.size(); ++r) {
    if (ops[r].type == OpType::kGet && !ops[r].indeterminate) {
      ops[r].found = true;
      ops[r].value = "never written";
      return r;
    }
  }
  return std::nullopt;
}

using Mutation = std::optional<size_t> (*)(std::vector<Op>&, std::mt19937_64&);

// Applies `mutate` to 40 generated histories: each mutated history must be a violation that
// names the mutated get's key and value. Most histories must offer something to mutate.
void ExpectMutationsFail(Mutation mutate, uint64_t rng_seed) {
  std::mt19937_64 rng(rng_seed);
  int mutated = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    GenOptions g;
    g.seed = seed;
    std::vector<Op> ops = GenerateLinearizable(g);
    const std::optional<size_t> r = mutate(ops, rng);
    if (!r) continue;
    ++mutated;
    const CheckResult result = CheckLinearizable(ops);
    ASSERT_FALSE(result.ok) << "seed " << seed << ": mutated op #" << *r << " passed";
    ASSERT_FALSE(result.inconclusive) << result.explanation;
    EXPECT_THAT(result.explanation, HasSubstr(fmt::format("key \"{}\"", ops[*r].key)));
    EXPECT_THAT(result.explanation, HasSubstr(fmt::format("get -> \"{}\"", ops[*r].value)));
  }
  EXPECT_GE(mutated, 35);
}

TEST(RandomHistories, StaleReadMutationFails) { ExpectMutationsFail(MakeStaleRead, 7); }

TEST(RandomHistories, FutureReadMutationFails) { ExpectMutationsFail(MakeFutureRead, 8); }

TEST(RandomHistories, UnwrittenValueMutationFails) { ExpectMutationsFail(MakeUnwrittenRead, 9); }

// The definition, by brute force: some order of the ops, each after every determinate op
// that completed before it was invoked, explains every determinate result; indeterminate ops
// left over at the end never took effect. Exponential: for a handful of ops only.
bool BruteForceLinearizable(const std::vector<Op>& ops, std::vector<bool>& placed,
                            const std::optional<std::string>& value) {
  bool only_indeterminate_left = true;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (!placed[i] && !ops[i].indeterminate) only_indeterminate_left = false;
  }
  if (only_indeterminate_left) return true;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (placed[i]) continue;
    bool minimal = true;
    for (size_t p = 0; p < ops.size(); ++p) {
      if (p != i && !placed[p] && Before(ops[p], ops[i])) minimal = false;
    }
    if (!minimal) continue;
    const Op& op = ops[i];
    std::optional<std::string> next = value;
    bool fits = true;
    switch (op.type) {
      case OpType::kSet:
        next = op.value;
        break;
      case OpType::kGet:
        fits = op.indeterminate || (op.found ? value == op.value : !value.has_value());
        break;
      case OpType::kRm:
        fits = op.indeterminate || op.found == value.has_value();
        next.reset();
        break;
    }
    if (!fits) continue;
    placed[i] = true;
    const bool ok = BruteForceLinearizable(ops, placed, next);
    placed[i] = false;
    if (ok) return true;
  }
  return false;
}

TEST(RandomHistories, AgreesWithBruteForceOnSmallHistories) {
  // Arbitrary small histories on one key (not generated from a map, so both verdicts occur):
  // few values, many overlaps and equal times, many indeterminate ops.
  std::mt19937_64 rng(11);
  int linearizable = 0;
  int violations = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<Op> ops(2 + rng() % 7);
    for (Op& op : ops) {
      op.client = static_cast<int>(rng() % 4);
      op.key = "x";
      op.type = static_cast<OpType>(rng() % 3);
      op.found = rng() % 2 == 0;
      if (op.type == OpType::kSet || (op.type == OpType::kGet && op.found)) {
        op.value = fmt::format("v{}", rng() % 3);
      }
      op.invoke_ns = static_cast<int64_t>(rng() % 10);
      op.complete_ns = op.invoke_ns + static_cast<int64_t>(rng() % 6);
      op.indeterminate = rng() % 3 == 0;
    }
    std::vector<bool> placed(ops.size(), false);
    const bool expected = BruteForceLinearizable(ops, placed, std::nullopt);
    const CheckResult r = CheckLinearizable(ops);
    ASSERT_FALSE(r.inconclusive);
    ASSERT_EQ(r.ok, expected) << "round " << round << "\n" << r.explanation;
    ++(expected ? linearizable : violations);
  }
  EXPECT_GT(linearizable, 300);
  EXPECT_GT(violations, 300);
}

TEST(RandomHistories, ClusterSizedHistory) {
  // What the cluster tests check: 3 keys, ~1500 ops from 5 clients, some without replies.
  // Must take well under a second even under ASan (not asserted: machines vary).
  GenOptions g;
  g.ops = 1500;
  g.indeterminate = 0.03;
  g.seed = 2024;
  const std::vector<Op> ops = GenerateLinearizable(g);
  const CheckResult r = CheckLinearizable(ops);
  ASSERT_TRUE(r.ok) << r.explanation;
  EXPECT_EQ(r.ops_checked, 1500u);
  RecordProperty("states_explored", static_cast<int>(r.states_explored));

  std::mt19937_64 rng(3);
  std::vector<Op> stale = ops;
  ASSERT_TRUE(MakeStaleRead(stale, rng).has_value());
  const CheckResult bad = CheckLinearizable(stale);
  EXPECT_FALSE(bad.ok);
  EXPECT_FALSE(bad.inconclusive) << bad.explanation;
}

TEST(RandomHistories, ConcurrentClientsRecordALinearizableHistory) {
  // Real threads against a mutex-guarded map: the recorder under concurrency (TSan), and a
  // history whose timing comes from the clock rather than a generator.
  History history;
  std::mutex map_mu;
  std::map<std::string, std::string> map;  // guarded by map_mu
  constexpr int kClients = 4;
  constexpr int kOpsPerClient = 400;
  std::vector<std::thread> clients;
  clients.reserve(kClients);
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937_64 rng(static_cast<uint64_t>(c) + 100);
      for (int n = 0; n < kOpsPerClient; ++n) {
        const std::string key = fmt::format("k{}", rng() % 3);
        const uint64_t roll = rng() % 100;
        const OpType type = roll < 40 ? OpType::kSet : roll < 85 ? OpType::kGet : OpType::kRm;
        const std::string value = fmt::format("c{}.{}", c, n);
        const size_t handle = history.Invoke(c, type, key, value);
        const uint64_t fate = rng() % 100;
        if (fate < 3) {  // refused before doing anything ("not leader")
          history.Fail(handle);
          continue;
        }
        bool found = false;
        std::string read;
        {
          std::lock_guard<std::mutex> lock(map_mu);
          auto it = map.find(key);
          found = it != map.end();
          if (type == OpType::kSet) map[key] = value;
          if (type == OpType::kGet && found) read = it->second;
          if (type == OpType::kRm && found) map.erase(it);
        }
        if (fate < 6) {  // applied, but the reply was lost
          history.Indeterminate(handle);
        } else {
          history.Complete(handle, found, read);
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  const std::vector<Op> ops = history.ops();
  EXPECT_LT(ops.size(), static_cast<size_t>(kClients * kOpsPerClient));
  const CheckResult r = CheckLinearizable(ops);
  EXPECT_TRUE(r.ok) << r.explanation;
}

}  // namespace
}  // namespace kvs::lin
