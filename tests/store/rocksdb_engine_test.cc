// RocksDbEngine behaviour beyond the shared Engine contract (engine_conformance_test.cc):
// where its files go, how each FsyncPolicy syncs, and what a failed sync does.

#include "store/rocksdb_engine.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <thread>

#include "store/test_util.h"

namespace kvs {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::TempDir;

// A RocksDB FileSystem whose writable files fail Sync/Fsync while `fail_syncs` is set: how
// a dying disk looks to the WAL.
class FailingSyncFs : public rocksdb::FileSystemWrapper {
 public:
  FailingSyncFs() : FileSystemWrapper(rocksdb::FileSystem::Default()) {}
  const char* Name() const override { return "FailingSyncFs"; }

  rocksdb::IOStatus NewWritableFile(const std::string& name, const rocksdb::FileOptions& options,
                                    std::unique_ptr<rocksdb::FSWritableFile>* result,
                                    rocksdb::IODebugContext* dbg) override {
    std::unique_ptr<rocksdb::FSWritableFile> file;
    rocksdb::IOStatus s = target()->NewWritableFile(name, options, &file, dbg);
    if (s.ok()) result->reset(new FailingFile(this, std::move(file)));
    return s;
  }

  std::atomic<bool> fail_syncs{false};

 private:
  class FailingFile : public rocksdb::FSWritableFileOwnerWrapper {
   public:
    FailingFile(FailingSyncFs* fs, std::unique_ptr<rocksdb::FSWritableFile> base)
        : FSWritableFileOwnerWrapper(std::move(base)), fs_(fs) {}
    rocksdb::IOStatus Sync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      if (fs_->fail_syncs.load()) return rocksdb::IOStatus::IOError("injected sync failure");
      return FSWritableFileOwnerWrapper::Sync(o, d);
    }
    rocksdb::IOStatus Fsync(const rocksdb::IOOptions& o, rocksdb::IODebugContext* d) override {
      if (fs_->fail_syncs.load()) return rocksdb::IOStatus::IOError("injected fsync failure");
      return FSWritableFileOwnerWrapper::Fsync(o, d);
    }

   private:
    FailingSyncFs* const fs_;
  };
};

class RocksDbEngineTest : public ::testing::Test {
 protected:
  Options MakeOptions(FsyncPolicy fsync = FsyncPolicy::kAlways) const {
    Options o;
    o.data_dir = dir_.path();
    o.fsync = fsync;
    o.sync_interval_ms = 5;
    return o;
  }
  std::unique_ptr<RocksDbEngine> OpenOk(const Options& o, rocksdb::Env* env = nullptr) {
    auto r = RocksDbEngine::Open(o, env);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  // Polls `done` until it holds or a generous deadline passes: background work is awaited,
  // never timed.
  template <typename Pred>
  static bool Eventually(Pred done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  TempDir dir_;
};

TEST_F(RocksDbEngineTest, RocksDbFilesLiveInTheirOwnSubdirectory) {
  auto e = OpenOk(MakeOptions());
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->name(), "rocksdb");
  ASSERT_TRUE(e->Set("a", "1").ok());
  EXPECT_TRUE(fs::exists(dir_.File("ENGINE")));
  EXPECT_TRUE(fs::exists(dir_.File("LOCK")));  // ours (flock)
  EXPECT_TRUE(fs::exists(dir_.File("rocksdb/CURRENT")));
  EXPECT_TRUE(fs::exists(dir_.File("rocksdb/LOCK")));  // RocksDB's own
  for (const fs::directory_entry& entry : fs::directory_iterator(dir_.path())) {
    const std::string name = entry.path().filename().string();
    EXPECT_TRUE(name == "ENGINE" || name == "LOCK" || name == "rocksdb") << name;
  }
}

TEST_F(RocksDbEngineTest, MissingDataDirectoryIsCreated) {
  Options o = MakeOptions();
  o.data_dir = dir_.File("sub");
  auto e = OpenOk(o);
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(fs::exists(dir_.File("sub/rocksdb/CURRENT")));
}

TEST_F(RocksDbEngineTest, AlwaysSyncsEveryBatch) {
  auto e = OpenOk(MakeOptions(FsyncPolicy::kAlways));
  ASSERT_TRUE(e->Set("a", "1").ok());
  ASSERT_TRUE(e->Set("b", "2").ok());
  ASSERT_TRUE(e->Remove("a").ok());
  EXPECT_TRUE(e->Remove("a").IsNotFound());  // writes nothing, syncs nothing
  EXPECT_EQ(e->Stats().fsyncs, 3u);
}

TEST_F(RocksDbEngineTest, NeverLeavesSyncingToTheOs) {
  auto e = OpenOk(MakeOptions(FsyncPolicy::kNever));
  ASSERT_TRUE(e->Set("a", "1").ok());
  EXPECT_EQ(e->Stats().fsyncs, 0u);
  ASSERT_TRUE(e->Sync().ok());
  EXPECT_EQ(e->Stats().fsyncs, 1u);
}

TEST_F(RocksDbEngineTest, PeriodicSyncsInTheBackground) {
  auto e = OpenOk(MakeOptions(FsyncPolicy::kPeriodic));
  ASSERT_TRUE(e->Set("a", "1").ok());
  EXPECT_TRUE(Eventually([&] { return e->Stats().fsyncs >= 2; }));
  EXPECT_FALSE(e->Stats().read_only);
}

TEST_F(RocksDbEngineTest, PeriodicSyncerStopsPromptlyOnClose) {
  Options o = MakeOptions(FsyncPolicy::kPeriodic);
  o.sync_interval_ms = 3'600'000;  // an hour: closing must not wait for it
  auto e = OpenOk(o);
  ASSERT_TRUE(e->Set("a", "1").ok());
  e.reset();
  auto again = OpenOk(o);
  ASSERT_NE(again, nullptr);
  auto r = again->Get("a");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value(), "1");
}

TEST_F(RocksDbEngineTest, FailedSyncedWriteTurnsTheEngineReadOnly) {
  auto fs = std::make_shared<FailingSyncFs>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  {
    auto e = OpenOk(MakeOptions(FsyncPolicy::kAlways), env.get());
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(e->Set("kept", "1").ok());
    fs->fail_syncs = true;

    Status first = e->Set("lost", "2");
    EXPECT_TRUE(first.IsIOError()) << first.ToString();
    fs->fail_syncs = false;  // a later success must not be believed either
    Status later = e->Set("later", "3");
    EXPECT_TRUE(later.IsReadOnly()) << later.ToString();
    EXPECT_THAT(later.message(), HasSubstr("injected"));
    EXPECT_TRUE(e->Remove("kept").IsReadOnly());
    EXPECT_TRUE(e->Sync().IsReadOnly());

    auto r = e->Get("kept");  // reads go on
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.value(), "1");
    EngineStats s = e->Stats();
    EXPECT_TRUE(s.read_only);
    EXPECT_THAT(s.failure, HasSubstr("injected"));
  }
  // A restart recovers what was acknowledged.
  auto e = OpenOk(MakeOptions());
  ASSERT_NE(e, nullptr);
  auto r = e->Get("kept");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value(), "1");
  EXPECT_TRUE(e->Get("later").status().IsNotFound());
}

TEST_F(RocksDbEngineTest, FailedPeriodicSyncTurnsTheEngineReadOnly) {
  auto fs = std::make_shared<FailingSyncFs>();
  std::unique_ptr<rocksdb::Env> env = rocksdb::NewCompositeEnv(fs);
  auto e = OpenOk(MakeOptions(FsyncPolicy::kPeriodic), env.get());
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(e->Set("a", "1").ok());
  fs->fail_syncs = true;
  ASSERT_TRUE(Eventually([&] { return e->Stats().read_only; }));
  EXPECT_TRUE(e->Set("b", "2").IsReadOnly());
  auto r = e->Get("a");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value(), "1");
}

TEST_F(RocksDbEngineTest, StatsReportKeysAndBytes) {
  auto e = OpenOk(MakeOptions(FsyncPolicy::kNever));
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(e->Set("key" + std::to_string(i), std::string(100, 'v')).ok());
  }
  EngineStats s = e->Stats();
  EXPECT_EQ(s.keys, 100u);
  EXPECT_GT(s.live_bytes, 100u * 100u);
  EXPECT_EQ(s.batches, 100u);
  EXPECT_EQ(s.batched_ops, 100u);
}

TEST_F(RocksDbEngineTest, RepairOfAHealthyDatabaseKeepsItsData) {
  {
    auto e = OpenOk(MakeOptions());
    ASSERT_TRUE(e->Set("a", "1").ok());
  }
  Options o = MakeOptions();
  o.repair = true;
  std::vector<std::string> warnings;
  o.on_warning = [&](std::string_view w) { warnings.emplace_back(w); };
  auto e = OpenOk(o);
  ASSERT_NE(e, nullptr);
  auto r = e->Get("a");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value(), "1");
  EXPECT_EQ(warnings.size(), 1u);
}

TEST_F(RocksDbEngineTest, LogStoreDirectoryIsRefused) {
  Options o = MakeOptions();
  { ASSERT_TRUE(OpenEngine("kvs", o).ok()); }
  auto r = RocksDbEngine::Open(o);
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_FALSE(fs::exists(dir_.File("rocksdb")));
}

}  // namespace
}  // namespace kvs
