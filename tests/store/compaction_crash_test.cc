// Crash tests: for every failpoint of the write path, the compactor and the hint writer, a
// forked child runs a workload of writes, removals, compactions and hint writes and is
// killed (SIGKILL) at that point; the parent reopens the store and checks that every
// acknowledged write survived and nothing removed came back. The child reports each
// acknowledgement through a pipe as it happens, like db_stress's expected state: the op in
// flight at the crash may land or not, whole.
//
// Some puts carry an expiry time 30 ops ahead on a clock that the child advances one tick per
// op, so its compactions meet expired records and drop them; the parent reads on a clock past
// every time, where a key whose last put had one must be absent (never its older value).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/failpoint.h"
#include "store/log_store.h"
#include "store/test_util.h"

namespace kvs {
namespace {

using State = std::map<std::string, std::string>;

struct Op {
  bool remove = false;
  std::string key;
  std::string value;
  int64_t expire_at_ms = kNoExpiry;
  bool compact_after = false;
};

constexpr int kOps = 300;
constexpr int kCompactEvery = 60;
constexpr int64_t kStart = 1'700'000'000'000;  // the child's clock at op 0, one ms per op
constexpr int64_t kTtlOps = 30;
constexpr int64_t kAfterEverything = kStart + 1'000'000;  // the parent's clock

std::vector<Op> Workload() {
  std::mt19937 rng(2024);
  std::vector<Op> ops;
  for (int i = 0; i < kOps; ++i) {
    Op op;
    op.key = "key" + std::to_string(rng() % 25);
    op.remove = rng() % 5 == 0;
    if (!op.remove) op.value = std::to_string(i) + std::string(100 + rng() % 600, 'v');
    // Derived from i, not drawn: the random sequence (and so where each failpoint is
    // reached) stays that of the workload without expiry.
    if (!op.remove && i % 4 == 1) op.expire_at_ms = kStart + i + kTtlOps;
    op.compact_after = (i + 1) % kCompactEvery == 0;
    ops.push_back(std::move(op));
  }
  return ops;
}

// What a reader at kAfterEverything sees: a key whose last put had an expiry time is gone.
State StateAfter(const std::vector<Op>& ops, size_t n) {
  State s;
  for (size_t i = 0; i < n && i < ops.size(); ++i) {
    if (ops[i].remove || ops[i].expire_at_ms != kNoExpiry) {
      s.erase(ops[i].key);
    } else {
      s[ops[i].key] = ops[i].value;
    }
  }
  return s;
}

Options CrashOptions(const std::string& dir, std::function<int64_t()> clock) {
  Options o;
  o.data_dir = dir;
  o.fsync = FsyncPolicy::kAlways;
  o.segment_bytes = 4096;
  o.background_compaction = false;
  o.clock = std::make_shared<ExpiryClock>(std::move(clock));
  return o;
}

// The child: runs the workload, acknowledging each op on `ack_fd`. Never returns.
[[noreturn]] void RunChild(const std::string& dir, const std::string& point, int skip, int ack_fd) {
  failpoint::Arm(point, skip);
  auto now = std::make_shared<std::atomic<int64_t>>(kStart);
  auto opened = LogStore::Open(CrashOptions(dir, [now] { return now->load(); }));
  if (!opened.ok()) ::_exit(2);
  std::unique_ptr<LogStore> store = std::move(opened).value();
  const std::vector<Op> ops = Workload();
  for (int i = 0; i < static_cast<int>(ops.size()); ++i) {
    const Op& op = ops[i];
    now->store(kStart + i);
    WriteBatch batch;
    if (op.remove) {
      batch.Delete(op.key);
    } else {
      batch.Put(op.key, op.value, op.expire_at_ms);
    }
    std::vector<Status> results;
    Status s = store->Write(batch, &results);
    if (s.ok()) s = results[0];
    if (!s.ok() && !(op.remove && s.IsNotFound())) ::_exit(3);
    if (::write(ack_fd, &i, sizeof i) != sizeof i) ::_exit(4);
    if (op.compact_after && !store->Compact().ok()) ::_exit(5);
    // The hints of the segments this op closed, as the background thread would write them.
    if (!store->WriteHints().ok()) ::_exit(6);
  }
  ::_exit(0);  // the failpoint was never reached: the parent reports it
}

State ReadAll(LogStore& store) {
  State s;
  for (int k = 0; k < 25; ++k) {
    const std::string key = "key" + std::to_string(k);
    auto got = store.Get(key);
    if (got.ok()) {
      s[key] = got.value();
    } else {
      EXPECT_TRUE(got.status().IsNotFound()) << key << ": " << got.status().ToString();
    }
  }
  return s;
}

// What the first start after the crash must do about the interrupted compaction.
enum class Expect { kNothing, kFinish, kUndo, kAnything };

struct CrashPoint {
  const char* name;
  int skip;
  Expect expect = Expect::kNothing;
};

class CrashTest : public ::testing::TestWithParam<CrashPoint> {};

TEST_P(CrashTest, EveryAcknowledgedWriteSurvives) {
  const CrashPoint point = GetParam();
  testing::TempDir dir;
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    RunChild(dir.path(), point.name, point.skip, fds[1]);
  }
  ::close(fds[1]);
  int acked = 0, index = 0;
  while (::read(fds[0], &index, sizeof index) == sizeof index) acked = index + 1;
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << point.name << " was not reached (exit status " << status << ")";

  const std::vector<Op> ops = Workload();
  const State before = StateAfter(ops, acked), with_next = StateAfter(ops, acked + 1);
  std::vector<std::string> warnings;
  Options o = CrashOptions(dir.path(), [] { return kAfterEverything; });
  o.on_warning = [&](std::string_view w) { warnings.emplace_back(w); };
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE(round == 0 ? "first start after the crash" : "after a compaction and restart");
    auto opened = LogStore::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    std::unique_ptr<LogStore> store = std::move(opened).value();
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
      EXPECT_FALSE(e.path().string().ends_with(".writing")) << e.path();  // a half hint stays
    }
    if (round == 0) {
      const LogStore::RecoveryStats r = store->recovery_stats();
      if (point.expect == Expect::kFinish) {
        EXPECT_EQ(r.compactions_finished, 1u);
      }
      if (point.expect == Expect::kUndo) {
        EXPECT_EQ(r.compactions_undone, 1u);
      }
      if (point.expect != Expect::kFinish && point.expect != Expect::kAnything) {
        EXPECT_EQ(r.compactions_finished, 0u);
      }
      if (point.expect != Expect::kUndo && point.expect != Expect::kAnything) {
        EXPECT_EQ(r.compactions_undone, 0u);
      }
    }
    const State got = ReadAll(*store);
    EXPECT_TRUE(got == before || got == with_next)
        << "after " << acked << " acknowledged ops: " << got.size() << " keys, expected "
        << before.size() << " (or " << with_next.size() << ")";
    // The recovered store compacts and writes normally.
    ASSERT_TRUE(store->Compact().ok());
    EXPECT_EQ(ReadAll(*store), got);
    if (round == 1) {
      ASSERT_TRUE(store->Set("after", "crash").ok());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Failpoints, CrashTest,
    ::testing::Values(CrashPoint{"log.after_write_before_sync", 100},
                      CrashPoint{"log.after_sync_before_index", 150},
                      CrashPoint{"segment.after_create_before_dirsync", 6},
                      CrashPoint{"compaction.after_roll", 0},
                      CrashPoint{"compaction.after_roll", 3},
                      CrashPoint{"compaction.after_write_outputs", 0},
                      CrashPoint{"compaction.after_write_outputs", 3},
                      CrashPoint{"compaction.after_first_rename", 0, Expect::kUndo},
                      CrashPoint{"compaction.after_first_rename", 3, Expect::kUndo},
                      CrashPoint{"compaction.before_dir_sync", 0, Expect::kFinish},
                      CrashPoint{"compaction.before_dir_sync", 3, Expect::kFinish},
                      CrashPoint{"compaction.after_commit", 0, Expect::kFinish},
                      CrashPoint{"compaction.after_commit", 3, Expect::kFinish},
                      CrashPoint{"compaction.before_switch", 1, Expect::kFinish},
                      CrashPoint{"compaction.before_unlink", 2, Expect::kFinish},
                      CrashPoint{"compaction.after_unlink", 0, Expect::kFinish},
                      CrashPoint{"compaction.after_unlink", 20, Expect::kAnything},
                      CrashPoint{"hint.before_rename", 0}, CrashPoint{"hint.before_rename", 7},
                      CrashPoint{"hint.before_dir_sync", 0}, CrashPoint{"hint.before_dir_sync", 7}),
    [](const ::testing::TestParamInfo<CrashPoint>& param) {
      std::string name = std::string(param.param.name) + "_" + std::to_string(param.param.skip);
      for (char& c : name) {
        if (c == '.') c = '_';
      }
      return name;
    });

}  // namespace
}  // namespace kvs
