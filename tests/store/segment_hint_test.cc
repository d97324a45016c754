// Hint files of the segments the writer closes (docs/FORMAT.md "Hint files"): written off the
// write path, used by the next start, rebuilt when missing or damaged, removed with their
// segment. Crash points of the hint writer: compaction_crash_test.cc.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "store/log_store.h"
#include "store/test_util.h"

namespace kvs {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::TempDir;

// Segment ids of the files in `dir` named "<n><suffix>".
std::set<uint32_t> Ids(const std::string& dir, std::string_view suffix) {
  std::set<uint32_t> ids;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (!name.ends_with(suffix)) continue;
    ids.insert(static_cast<uint32_t>(std::stoul(name.substr(0, name.size() - suffix.size()))));
  }
  return ids;
}

class SegmentHintTest : public ::testing::Test {
 protected:
  Options MakeOptions(bool background = false) {
    Options o;
    o.data_dir = dir_.path();
    o.fsync = FsyncPolicy::kNever;
    o.segment_bytes = 4096;
    o.background_compaction = background;
    o.on_warning = [this](std::string_view w) { warnings_.emplace_back(w); };
    return o;
  }
  std::unique_ptr<LogStore> Open(const Options& o, Env* env = Env::Default()) {
    auto r = LogStore::Open(o, env);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  // Writes `n` keys (and removes every fifth after), spanning several 4 KiB segments.
  void Fill(LogStore& store, int n) {
    for (int i = 0; i < n; ++i) {
      const std::string key = "key" + std::to_string(i);
      const std::string value = std::string(80, 'a' + i % 26) + std::to_string(i);
      ASSERT_TRUE(store.Set(key, value).ok());
      want_[key] = value;
    }
    for (int i = 0; i < n; i += 5) {
      ASSERT_TRUE(store.Remove("key" + std::to_string(i)).ok());
      want_.erase("key" + std::to_string(i));
    }
  }
  void ExpectContents(LogStore& store, int n) {
    EXPECT_EQ(store.Stats().keys, want_.size());
    for (int i = 0; i < n; ++i) {
      const std::string key = "key" + std::to_string(i);
      auto got = store.Get(key);
      auto it = want_.find(key);
      if (it == want_.end()) {
        EXPECT_TRUE(got.status().IsNotFound()) << key;
      } else {
        ASSERT_TRUE(got.ok()) << key << ": " << got.status().ToString();
        EXPECT_EQ(*got, it->second);
      }
    }
  }
  // Writes the missing hints, restarts, and checks that the start read only the active
  // segment and found everything.
  void WriteHintsAndRestart(std::unique_ptr<LogStore>& store, int n) {
    ASSERT_TRUE(store->WriteHints().ok());
    EXPECT_EQ(Ids(dir_.path(), ".hint"), ClosedSegments());
    store.reset();
    store = Open(MakeOptions());
    EXPECT_EQ(store->recovery_stats().segments_scanned, 1u);
    ExpectContents(*store, n);
  }
  // Every segment but the highest (the active one).
  std::set<uint32_t> ClosedSegments() {
    std::set<uint32_t> ids = Ids(dir_.path(), ".log");
    ids.erase(std::prev(ids.end()));
    return ids;
  }

  TempDir dir_;
  std::vector<std::string> warnings_;
  std::map<std::string, std::string> want_;
};

TEST_F(SegmentHintTest, WriteHintsDescribesEveryClosedSegment) {
  auto store = Open(MakeOptions());
  Fill(*store, 300);
  EXPECT_TRUE(Ids(dir_.path(), ".hint").empty());  // no background thread: nothing yet
  ASSERT_TRUE(store->WriteHints().ok());
  ASSERT_GE(ClosedSegments().size(), 5u);
  EXPECT_EQ(Ids(dir_.path(), ".hint"), ClosedSegments());
  ASSERT_TRUE(store->WriteHints().ok());  // nothing left to do
  EXPECT_TRUE(warnings_.empty());

  store.reset();
  store = Open(MakeOptions());
  EXPECT_EQ(store->recovery_stats().segments_from_hints, ClosedSegments().size());
  EXPECT_EQ(store->recovery_stats().segments_scanned, 1u);  // the active segment
  ExpectContents(*store, 300);
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(SegmentHintTest, BackgroundThreadAndShutdownWriteThem) {
  {
    auto store = Open(MakeOptions(/*background=*/true));
    Fill(*store, 300);
  }  // whatever the thread has not reached yet, the clean shutdown writes
  EXPECT_EQ(Ids(dir_.path(), ".hint"), ClosedSegments());
  EXPECT_FALSE(Ids(dir_.path(), ".hint").contains(*Ids(dir_.path(), ".log").rbegin()));
  auto store = Open(MakeOptions(/*background=*/true));
  EXPECT_EQ(store->recovery_stats().segments_scanned, 1u);
  ExpectContents(*store, 300);
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(SegmentHintTest, ShutdownWritesHintsOfSegmentsRolledInThisRun) {
  { Fill(*Open(MakeOptions()), 300); }
  EXPECT_EQ(Ids(dir_.path(), ".hint"), ClosedSegments());
}

TEST_F(SegmentHintTest, MissingHintsAreRebuiltAfterAScan) {
  { Fill(*Open(MakeOptions()), 300); }
  for (uint32_t id : Ids(dir_.path(), ".hint")) fs::remove(dir_.File(std::to_string(id) + ".hint"));
  auto store = Open(MakeOptions());
  EXPECT_EQ(store->recovery_stats().segments_from_hints, 0u);
  ExpectContents(*store, 300);
  EXPECT_TRUE(warnings_.empty());  // a missing hint is no damage
  WriteHintsAndRestart(store, 300);
}

TEST_F(SegmentHintTest, DamagedHintIsScannedAroundThenReplaced) {
  { Fill(*Open(MakeOptions()), 300); }
  const std::string hint = dir_.File(std::to_string(*Ids(dir_.path(), ".hint").begin()) + ".hint");
  {
    std::fstream f(hint, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(20);
    f.put('\x7f');
  }
  auto store = Open(MakeOptions());
  EXPECT_EQ(store->recovery_stats().segments_scanned, 2u);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], HasSubstr("ignoring damaged hint file"));
  ExpectContents(*store, 300);
  ASSERT_TRUE(store->WriteHints().ok());
  store.reset();
  warnings_.clear();
  store = Open(MakeOptions());
  EXPECT_EQ(store->recovery_stats().segments_scanned, 1u);
  EXPECT_TRUE(warnings_.empty());
  ExpectContents(*store, 300);
}

// Hint files fail with EIO: their Open, or every read of them (an unreadable sector).
class UnreadableHintsEnv : public EnvWrapper {
 public:
  explicit UnreadableHintsEnv(bool fail_open) : EnvWrapper(Env::Default()), fail_open_(fail_open) {}
  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    if (!path.ends_with(".hint")) return target()->Open(path, mode);
    if (fail_open_) return Status::FromErrno("open " + path, EIO);
    KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> f, target()->Open(path, mode));
    return std::unique_ptr<File>(std::make_unique<Unreadable>(std::move(f)));
  }

 private:
  struct Unreadable : FileWrapper {
    using FileWrapper::FileWrapper;
    Result<size_t> PRead(uint64_t, std::span<char>) const override {
      return Status::FromErrno("pread " + path(), EIO);
    }
  };
  const bool fail_open_;
};

// A hint that cannot be opened or read (an I/O error, not damage) only costs the scan of
// its segment, with a warning; the hints written afterwards replace it.
TEST_F(SegmentHintTest, UnreadableHintFallsBackToAScanOfItsSegment) {
  { Fill(*Open(MakeOptions()), 300); }
  const size_t closed = ClosedSegments().size();
  ASSERT_EQ(Ids(dir_.path(), ".hint").size(), closed);
  for (bool fail_open : {true, false}) {
    SCOPED_TRACE(fail_open ? "open fails" : "reads fail");
    warnings_.clear();
    UnreadableHintsEnv env(fail_open);
    auto store = Open(MakeOptions(), &env);
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->recovery_stats().segments_from_hints, 0u);
    EXPECT_EQ(store->recovery_stats().segments_scanned, closed + 1);
    ExpectContents(*store, 300);
    ASSERT_EQ(warnings_.size(), closed);
    EXPECT_THAT(warnings_[0], HasSubstr("ignoring unreadable hint file"));
    EXPECT_THAT(warnings_[0], HasSubstr("Input/output error"));
    if (!fail_open) {
      ASSERT_TRUE(store->WriteHints().ok());
    }
  }
  warnings_.clear();
  auto store = Open(MakeOptions());
  EXPECT_EQ(store->recovery_stats().segments_scanned, 1u);
  EXPECT_TRUE(warnings_.empty());
  ExpectContents(*store, 300);
}

TEST_F(SegmentHintTest, DamagedSegmentGetsNoHintAndStillRefusesToOpen) {
  {
    auto store = Open(MakeOptions());
    Fill(*store, 300);
    std::fstream f(dir_.File("1.log"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);  // inside the first record's value
    f.put('\x01');
    f.close();
    Status s = store->WriteHints();
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_THAT(s.ToString(), HasSubstr("1.log"));
    ASSERT_EQ(warnings_.size(), 1u);
    EXPECT_THAT(warnings_[0], HasSubstr("no hint file for"));
  }
  EXPECT_FALSE(Ids(dir_.path(), ".hint").contains(1));
  EXPECT_TRUE(Ids(dir_.path(), ".hint").contains(2));
  EXPECT_TRUE(Ids(dir_.path(), ".writing").empty());
  auto r = LogStore::Open(MakeOptions());
  ASSERT_FALSE(r.ok());  // the damage is reported, not hidden behind a hint
  EXPECT_TRUE(r.status().IsCorruption());
}

TEST_F(SegmentHintTest, FailedWriteLeavesNoFileAndTheStoreWorking) {
  testing::FaultInjectionEnv env;
  auto store = Open(MakeOptions(), &env);
  Fill(*store, 300);
  env.FailSyncs(EIO);
  EXPECT_EQ(store->WriteHints().err_no(), EIO);
  env.Clear();
  EXPECT_TRUE(Ids(dir_.path(), ".hint").empty());
  EXPECT_TRUE(Ids(dir_.path(), ".writing").empty());
  EXPECT_FALSE(store->Stats().read_only);
  ASSERT_TRUE(store->Set("key0", "after").ok());
  want_["key0"] = "after";
  store.reset();
  store = Open(MakeOptions());
  ExpectContents(*store, 300);
}

TEST_F(SegmentHintTest, LeftoversAndAHintOfTheActiveSegmentAreRemoved) {
  { Fill(*Open(MakeOptions()), 300); }
  const uint32_t active = *Ids(dir_.path(), ".log").rbegin();
  fs::copy_file(dir_.File("1.hint"), dir_.File(std::to_string(active) + ".hint"));
  std::ofstream(dir_.File("2.hint.writing")) << "half a hint";
  auto store = Open(MakeOptions());
  EXPECT_FALSE(fs::exists(dir_.File(std::to_string(active) + ".hint")));
  EXPECT_FALSE(fs::exists(dir_.File("2.hint.writing")));
  EXPECT_TRUE(fs::exists(dir_.File("2.hint")));
  ExpectContents(*store, 300);
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(SegmentHintTest, CompactionRetiresRolledHintsWithTheirSegments) {
  auto store = Open(MakeOptions());
  Fill(*store, 300);
  const std::set<uint32_t> before = ClosedSegments();
  ASSERT_TRUE(store->Compact().ok());
  ASSERT_TRUE(store->WriteHints().ok());  // the queued segments are gone: nothing to write
  for (uint32_t id : before) EXPECT_FALSE(fs::exists(dir_.File(std::to_string(id) + ".log")));
  EXPECT_EQ(Ids(dir_.path(), ".hint"), ClosedSegments());  // the outputs' own hints only
  // Rolling again, above the outputs.
  Fill(*store, 300);
  WriteHintsAndRestart(store, 300);
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(SegmentHintTest, TombstoneInALaterHintedSegmentKeepsTheKeyRemoved) {
  auto store = Open(MakeOptions());
  ASSERT_TRUE(store->Set("gone", "v").ok());
  Fill(*store, 100);  // rolls past segment 1
  ASSERT_TRUE(store->Remove("gone").ok());
  Fill(*store, 100);  // and past the tombstone's segment
  ASSERT_TRUE(store->WriteHints().ok());
  store.reset();
  store = Open(MakeOptions());
  EXPECT_EQ(store->recovery_stats().segments_scanned, 1u);
  EXPECT_TRUE(store->Get("gone").status().IsNotFound());
  ExpectContents(*store, 100);
}

TEST_F(SegmentHintTest, SegmentsLoadedSideBySideAgreeWithTheWrites) {
  // Overwrites and removals of a few keys spread over ~50 segments, some read from their
  // hints and some scanned: recovery loads several at once, and sequence numbers decide.
  std::mt19937 rng(11);
  {
    auto store = Open(MakeOptions());
    for (int op = 0; op < 3000; ++op) {
      const std::string key = "key" + std::to_string(rng() % 60);
      if (rng() % 4 == 0) {
        Status s = store->Remove(key);
        ASSERT_TRUE(s.ok() || s.IsNotFound()) << s.ToString();
        want_.erase(key);
      } else {
        want_[key] = std::to_string(op) + std::string(rng() % 200, 'v');
        ASSERT_TRUE(store->Set(key, want_[key]).ok());
      }
    }
  }
  ASSERT_GE(ClosedSegments().size(), 20u);
  int n = 0;
  for (uint32_t id : Ids(dir_.path(), ".hint")) {
    if (n++ % 3 == 0) fs::remove(dir_.File(std::to_string(id) + ".hint"));
  }
  for (int round = 0; round < 2; ++round) {
    auto store = Open(MakeOptions());
    EXPECT_GT(store->recovery_stats().segments_from_hints, 0u);
    EXPECT_GT(store->recovery_stats().segments_scanned, 1u);
    ExpectContents(*store, 60);
    // New writes take sequence numbers above every recovered one: they win at the next start.
    ASSERT_TRUE(store->Set("key1", "round" + std::to_string(round)).ok());
    want_["key1"] = "round" + std::to_string(round);
  }
  EXPECT_TRUE(warnings_.empty());
}

}  // namespace
}  // namespace kvs
