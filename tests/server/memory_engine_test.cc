// MemoryEngine keeps the Engine contract the server tests rely on, and its hooks do what
// they say.

#include "server/memory_engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace kvs::testing {
namespace {

std::string Stored(MemoryEngine& e, std::string_view key) {
  Result<std::string> value = e.Get(key);
  return value.ok() ? *value : value.status().ToString();
}

TEST(MemoryEngineTest, BatchReportsEachOpsOutcome) {
  MemoryEngine e;
  WriteBatch batch;
  batch.Put("a", "1");
  batch.Delete("a");
  batch.Delete("a");
  batch.Put("b", "2");
  std::vector<Status> results;
  ASSERT_TRUE(e.Write(batch, &results).ok());
  ASSERT_EQ(results.size(), 4u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
  EXPECT_EQ(results[2].ToString(), "NotFound: Key not found");
  EXPECT_TRUE(results[3].ok());
  EXPECT_EQ(Stored(e, "a"), "NotFound: Key not found");
  EXPECT_EQ(Stored(e, "b"), "2");
  const EngineStats s = e.Stats();
  EXPECT_EQ(s.keys, 1u);
  EXPECT_EQ(s.live_bytes, 2u);
  EXPECT_EQ(s.batches, 1u);
  EXPECT_EQ(s.batched_ops, 4u);
  EXPECT_EQ(e.batch_sizes(), std::vector<size_t>{4});
}

TEST(MemoryEngineTest, BatchWithAnInvalidOpAppliesNothing) {
  MemoryEngine e;
  WriteBatch batch;
  batch.Put("a", "1");
  batch.Put("", "empty key");
  std::vector<Status> results;
  EXPECT_EQ(e.Write(batch, &results).ToString(), "InvalidArgument: empty key");
  EXPECT_EQ(Stored(e, "a"), "NotFound: Key not found");
  EXPECT_FALSE(e.Stats().read_only);
}

TEST(MemoryEngineTest, InjectedFailureFailsItsBatchAndTurnsTheEngineReadOnly) {
  MemoryEngine e;
  ASSERT_TRUE(e.Set("kept", "1").ok());
  e.FailWriteCall(2, Status::IOError("disk on fire"));
  EXPECT_EQ(e.Set("lost", "2").ToString(), "IOError: disk on fire");
  EXPECT_EQ(Stored(e, "lost"), "NotFound: Key not found");
  EXPECT_EQ(Stored(e, "kept"), "1");
  const std::string read_only =
      "ReadOnly: store is read-only after a failed write: IOError: disk on fire";
  EXPECT_EQ(e.Remove("kept").ToString(), read_only);
  EXPECT_EQ(e.Sync().ToString(), read_only);
  const EngineStats s = e.Stats();
  EXPECT_TRUE(s.read_only);
  EXPECT_EQ(s.failure, "IOError: disk on fire");
  EXPECT_EQ(e.write_calls(), 3u);
}

TEST(MemoryEngineTest, GateHoldsWritesUntilOpenedWhileReadsGoOn) {
  MemoryEngine e;
  e.CloseGate();
  Status written;
  std::thread writer([&e, &written] { written = e.Set("k", "v"); });
  ASSERT_TRUE(e.WaitForWritersAtGate(1, std::chrono::seconds(30)));
  EXPECT_EQ(Stored(e, "k"), "NotFound: Key not found");
  e.OpenGate();
  writer.join();
  EXPECT_TRUE(written.ok());
  EXPECT_EQ(Stored(e, "k"), "v");
}

TEST(MemoryEngineTest, ForEachVisitsEveryKeyAndStopsAtTheFirstError) {
  MemoryEngine e;
  ASSERT_TRUE(e.Set("a", "1").ok());
  ASSERT_TRUE(e.Set("b", "2").ok());
  std::map<std::string, std::string> seen;
  ASSERT_TRUE(e.ForEach([&seen](std::string_view k, std::string_view v, int64_t) {
                 seen.emplace(k, v);
                 return Status::Ok();
               }).ok());
  EXPECT_EQ(seen, (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
  int calls = 0;
  const Status stopped = e.ForEach([&calls](std::string_view, std::string_view, int64_t) {
    ++calls;
    return Status::Aborted("enough");
  });
  EXPECT_EQ(stopped.ToString(), "Aborted: enough");
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace kvs::testing
