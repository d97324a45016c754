// Crashes of the real kvs-server inside its own group commit (the loop writes the log
// itself, past the store's Env seam, inline or through io_uring: --log-write): at
// `loop.before_log_write` (a batch prepared, not written) and `loop.after_log_write`
// (written and fdatasynced, not yet acknowledged).
// Every acknowledged write must come back; the batch in flight comes back whole or not at
// all, and, once synced, it must come back.

#include <gtest/gtest.h>

#include <csignal>
#include <optional>
#include <string>

#include "e2e/harness.h"
#include "store/test_util.h"

namespace kvs::e2e {
namespace {

constexpr int kAcknowledgedBatches = 20;  // the failpoint lets this many batches through

std::string SetLine(int i) {
  return R"({"op":"set","key":"k)" + std::to_string(i) + R"(","value":"v)" + std::to_string(i) +
         "\"}\n";
}

struct Outcome {
  int acknowledged = 0;
  std::string log;
};

// Starts a server with `failpoint` armed to fire on batch kAcknowledgedBatches + 1, sends
// one set at a time (one batch each) until the server dies, and returns how many sets were
// acknowledged.
Outcome RunUntilTheFailpoint(const std::string& dir, const std::string& failpoint,
                             const std::string& log_write) {
  const int port = FreePort();
  ServerProcess server(
      {"--addr", "127.0.0.1:" + std::to_string(port), "--data-dir", dir, "--log-write", log_write},
      {"KVS_FAILPOINTS=" + failpoint + "=" + std::to_string(kAcknowledgedBatches)});
  Outcome out;
  if (!WaitForPort(port)) {
    out.log = server.Stderr();
    return out;
  }
  Conn conn(port);
  for (int i = 0; i < 100; ++i) {
    conn.Send(SetLine(i));
    std::optional<std::string> reply = conn.ReadLine(30);
    if (!reply) break;  // the server died with this set in flight
    EXPECT_EQ(*reply, R"({"ok":true})");
    ++out.acknowledged;
  }
  EXPECT_EQ(server.WaitExit(30), -SIGKILL) << server.Stderr();
  out.log = server.Stderr();
  return out;
}

// Restarts on `dir` and returns the value of k<i>, or nullopt when absent.
class Reader {
 public:
  explicit Reader(const std::string& dir)
      : port_(FreePort()),
        server_({"--addr", "127.0.0.1:" + std::to_string(port_), "--data-dir", dir}) {
    EXPECT_TRUE(WaitForPort(port_)) << server_.Stderr();
  }
  std::optional<std::string> Get(int i) {
    CommandResult r = RunCommand({BinPath("kvs-client"), "get", "k" + std::to_string(i), "--addr",
                                  "127.0.0.1:" + std::to_string(port_)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (r.out == "Key not found\n") return std::nullopt;
    return r.out.substr(0, r.out.size() - 1);
  }

 private:
  int port_;
  ServerProcess server_;
};

class LoopFailpointTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LoopFailpointTest, CrashBeforeTheLogWriteLosesOnlyTheUnacknowledgedBatch) {
  kvs::testing::TempDir dir;
  Outcome run = RunUntilTheFailpoint(dir.path(), "loop.before_log_write", GetParam());
  ASSERT_EQ(run.acknowledged, kAcknowledgedBatches) << run.log;
  Reader reader(dir.path());
  for (int i = 0; i < kAcknowledgedBatches; ++i) {
    EXPECT_EQ(reader.Get(i), "v" + std::to_string(i)) << i;
  }
  EXPECT_EQ(reader.Get(kAcknowledgedBatches), std::nullopt);  // never written
}

TEST_P(LoopFailpointTest, CrashAfterTheSyncedWriteKeepsEvenTheUnacknowledgedBatch) {
  kvs::testing::TempDir dir;
  Outcome run = RunUntilTheFailpoint(dir.path(), "loop.after_log_write", GetParam());
  ASSERT_EQ(run.acknowledged, kAcknowledgedBatches) << run.log;
  Reader reader(dir.path());
  for (int i = 0; i < kAcknowledgedBatches; ++i) {
    EXPECT_EQ(reader.Get(i), "v" + std::to_string(i)) << i;
  }
  // Written and fdatasynced before the crash: recovery finds it.
  EXPECT_EQ(reader.Get(kAcknowledgedBatches), "v" + std::to_string(kAcknowledgedBatches));
  EXPECT_EQ(reader.Get(kAcknowledgedBatches + 1), std::nullopt);
}

INSTANTIATE_TEST_SUITE_P(LogWrite, LoopFailpointTest, ::testing::Values("inline", "uring"),
                         [](const auto& param_info) { return param_info.param; });

}  // namespace
}  // namespace kvs::e2e
