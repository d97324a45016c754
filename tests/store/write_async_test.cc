// LogStore's asynchronous write path, driven the way the server's loop drives it:
// Prepare, WriteAsync on a real io_uring loop (PosixFile: a write linked to an fdatasync),
// Commit with the outcome. A fault the kernel cannot be made to produce on demand is
// injected through the loop's write-result hook.
#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string>

#include "store/log_store.h"
#include "store/test_util.h"
#include "uring/loop.h"

namespace kvs {
namespace {

using testing::TempDir;

// A short write whose linked fdatasync ran and failed (EIO): the batch fails, the store
// turns read-only, and nothing of the batch is visible or acknowledged as durable.
TEST(WriteAsyncTest, FailedFsyncAfterAShortWriteFailsTheBatchAndTheStore) {
  TempDir dir;
  Options o;
  o.data_dir = dir.path();
  o.fsync = FsyncPolicy::kAlways;
  o.background_compaction = false;
  o.zero_fill_ahead_bytes = 0;  // Prepare must not wait for it
  auto store = LogStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto loop = uring::Loop::Create();
  ASSERT_TRUE(loop.ok()) << loop.status().ToString();
  int writes = 0, fsyncs = 0;
  (*loop)->SetWriteResultHookForTesting([&](bool linked_fsync, int res) {
    if (linked_fsync) return ++fsyncs == 1 ? -EIO : res;
    return ++writes == 1 && res > 1 ? res / 2 : res;
  });

  WriteBatch batch;
  batch.Put("key", std::string(8192, 'v'));
  auto prepared = (*store)->Prepare(batch, [] {});
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  ASSERT_TRUE(prepared->needs_sync);
  Status io = Status::Ok(), committed = Status::Ok();
  bool done = false;
  (*store)->WriteAsync(std::move(*prepared), **loop, [&](LogWriter::Prepared&& p, Status s) {
    io = s;
    committed = (*store)->Commit(std::move(p), s);
    done = true;
    (*loop)->Stop();
  });
  if (!done) {
    ASSERT_TRUE((*loop)->Run().ok());
  }
  ASSERT_TRUE(done);
  EXPECT_EQ(io.err_no(), EIO) << io.ToString();
  EXPECT_EQ(committed.err_no(), EIO) << committed.ToString();
  EXPECT_EQ(fsyncs, 1) << "the failed fdatasync was followed by another";
  EXPECT_TRUE((*store)->Stats().read_only);
  EXPECT_TRUE((*store)->Get("key").status().IsNotFound());
  EXPECT_FALSE((*store)->Set("other", "v").ok());
}

}  // namespace
}  // namespace kvs
