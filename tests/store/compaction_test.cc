// LogStore compaction: space reclaimed, the swap racing writes and reads, tombstones,
// hint files at restart, and the background thread. Crash tests: compaction_crash_test.cc.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "base/failpoint.h"
#include "store/db_key.h"
#include "store/log_store.h"
#include "store/record.h"
#include "store/test_util.h"

namespace kvs {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::TempDir;

// Bytes of data files (segments, hints, temporaries) in `dir`: what compaction must bound.
uint64_t DataBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name != "LOCK" && name != "ENGINE") n += e.file_size();
  }
  return n;
}

bool HasFile(const std::string& dir, std::string_view suffix) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().ends_with(suffix)) return true;
  }
  return false;
}

class CompactionTest : public ::testing::Test {
 protected:
  void TearDown() override { failpoint::DisarmAll(); }

  Options MakeOptions() {
    Options o;
    o.data_dir = dir_.path();
    o.fsync = FsyncPolicy::kNever;  // compaction syncs its own files whatever the policy
    o.segment_bytes = 4096;
    o.background_compaction = false;
    o.on_warning = [this](std::string_view w) { warnings_.emplace_back(w); };
    return o;
  }
  std::unique_ptr<LogStore> Open(const Options& o) {
    auto r = LogStore::Open(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::unique_ptr<LogStore> Open() { return Open(MakeOptions()); }
  static std::string GetOr(LogStore& s, std::string_view key) {
    auto r = s.Get(key);
    return r.ok() ? r.value() : r.status().IsNotFound() ? "<none>" : r.status().ToString();
  }
  // Overwrites keys k0..k{keys-1} `rounds` times; returns the final values.
  static std::map<std::string, std::string> Overwrite(LogStore& s, int keys, int rounds,
                                                      size_t value_size = 60) {
    std::map<std::string, std::string> last;
    for (int r = 0; r < rounds; ++r) {
      for (int k = 0; k < keys; ++k) {
        const std::string key = "k" + std::to_string(k);
        std::string value = std::to_string(r) + ":" + key;
        value.resize(value_size, '.');
        EXPECT_TRUE(s.Set(key, value).ok());
        last[key] = value;
      }
    }
    return last;
  }

  TempDir dir_;
  std::vector<std::string> warnings_;
};

TEST_F(CompactionTest, ReclaimsSpaceAndKeepsEveryValue) {
  auto store = Open();
  auto want = Overwrite(*store, 40, 20);
  ASSERT_TRUE(store->Remove("k0").ok());
  want.erase("k0");
  const uint64_t before = DataBytes(dir_.path());
  ASSERT_TRUE(store->Compact().ok());
  const uint64_t after = DataBytes(dir_.path());
  // 40 keys x 84-byte records of live data, in outputs beside one preallocated segment.
  EXPECT_LT(after, before / 4) << before << " -> " << after;
  EngineStats s = store->Stats();
  EXPECT_EQ(s.compactions, 1u);
  EXPECT_EQ(s.dead_bytes, 0u);
  EXPECT_EQ(s.keys, 39u);
  EXPECT_TRUE(HasFile(dir_.path(), ".hint"));
  EXPECT_FALSE(HasFile(dir_.path(), ".compacting"));
  for (const auto& [k, v] : want) EXPECT_EQ(GetOr(*store, k), v) << k;
  EXPECT_EQ(GetOr(*store, "k0"), "<none>");

  store.reset();
  store = Open();
  for (const auto& [k, v] : want) EXPECT_EQ(GetOr(*store, k), v) << k;
  EXPECT_EQ(GetOr(*store, "k0"), "<none>");
  EXPECT_GT(store->recovery_stats().segments_from_hints, 0u);
  EXPECT_EQ(store->Stats().dead_bytes, 0u);
  EXPECT_TRUE(warnings_.empty()) << warnings_.front();
}

TEST_F(CompactionTest, NothingWrittenNothingDone) {
  auto store = Open();
  ASSERT_TRUE(store->Compact().ok());
  EXPECT_EQ(store->Stats().compactions, 1u);
  EXPECT_TRUE(fs::exists(dir_.File("1.log")));
  EXPECT_FALSE(HasFile(dir_.path(), ".hint"));
}

TEST_F(CompactionTest, RepeatedCompactionsAndRestartsAgree) {
  std::map<std::string, std::string> want;
  for (int round = 0; round < 4; ++round) {
    auto store = Open();
    for (const auto& [k, v] : Overwrite(*store, 30, 3, 50 + round)) want[k] = v;
    ASSERT_TRUE(store->Compact().ok());
    ASSERT_TRUE(store->Compact().ok());  // compacting outputs again changes nothing
    for (const auto& [k, v] : want) ASSERT_EQ(GetOr(*store, k), v) << k;
  }
  auto store = Open();
  for (const auto& [k, v] : want) EXPECT_EQ(GetOr(*store, k), v) << k;
  EXPECT_TRUE(warnings_.empty());
}

// The put sits in an old segment, its tombstone in a newer one; the put must not come back
// after compaction and restart, whichever of them are compacted.
TEST_F(CompactionTest, RemovedKeyStaysRemovedAcrossCompactionAndRestart) {
  {
    auto store = Open();
    ASSERT_TRUE(store->Set("gone", "old value").ok());
    Overwrite(*store, 20, 5);  // several segments later...
    ASSERT_TRUE(store->Remove("gone").ok());
    ASSERT_TRUE(store->Set("filler", std::string(3000, 'f')).ok());  // roll past the tombstone
    ASSERT_TRUE(store->Compact().ok());
    EXPECT_EQ(GetOr(*store, "gone"), "<none>");
  }
  {
    auto store = Open();
    EXPECT_EQ(GetOr(*store, "gone"), "<none>");
    // Once more with the tombstone in the active segment at compaction time.
    ASSERT_TRUE(store->Set("gone2", "v").ok());
    ASSERT_TRUE(store->Compact().ok());  // the put now sits in a compaction output
    ASSERT_TRUE(store->Remove("gone2").ok());
    ASSERT_TRUE(store->Compact().ok());
  }
  auto store = Open();
  EXPECT_EQ(GetOr(*store, "gone"), "<none>");
  EXPECT_EQ(GetOr(*store, "gone2"), "<none>");
  EXPECT_EQ(store->Stats().keys, 21u);
}

TEST_F(CompactionTest, PrefixDeleteHoldsThroughHintsCompactionAndRestarts) {
  auto flush = [](LogStore& store, uint32_t db) {
    WriteBatch batch;
    batch.DeletePrefix(DbKeyPrefix(db));
    std::vector<Status> results;
    ASSERT_TRUE(store.Write(batch, &results).ok());
  };
  auto count_db = [](LogStore& store, uint32_t db) {
    size_t n = 0;
    EXPECT_TRUE(store.ForEachKey([&](std::string_view key) {
                       n += key.starts_with(DbKeyPrefix(db));
                       return Status::Ok();
                     }).ok());
    return n;
  };
  {
    auto store = Open();
    for (int i = 0; i < 200; ++i) {  // many segments of both databases
      const uint32_t db = static_cast<uint32_t>(i % 2);
      ASSERT_TRUE(store->Set(EncodeDbKey(db, "k" + std::to_string(i)), std::string(60, 'v')).ok());
    }
    const uint64_t before = store->Stats().disk_bytes;
    flush(*store, 1);
    // One small record, however many keys it removes.
    EXPECT_LT(store->Stats().disk_bytes - before, 64u);
    EXPECT_EQ(count_db(*store, 1), 0u);
    ASSERT_TRUE(store->Set(EncodeDbKey(1, "after"), "new").ok());
    ASSERT_TRUE(store->Set("filler", std::string(4000, 'f')).ok());  // roll past the flush
  }
  {
    auto store = Open();  // the flush is in a closed segment, read from its hint
    EXPECT_EQ(count_db(*store, 0), 100u);
    EXPECT_EQ(count_db(*store, 1), 1u);
    EXPECT_EQ(GetOr(*store, EncodeDbKey(1, "after")), "new");
    EXPECT_EQ(GetOr(*store, EncodeDbKey(1, "k1")), "<none>");
    const uint64_t before = store->Stats().disk_bytes;
    ASSERT_TRUE(store->Compact().ok());
    EXPECT_LT(store->Stats().disk_bytes, before);
    EXPECT_EQ(count_db(*store, 1), 1u);
    // Once more with the flush in the active segment at compaction time: the puts it
    // removes sit in a compaction output then.
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(store->Set(EncodeDbKey(3, std::to_string(i)), "x").ok());
    }
    ASSERT_TRUE(store->Compact().ok());
    flush(*store, 3);
    ASSERT_TRUE(store->Compact().ok());
    EXPECT_EQ(count_db(*store, 3), 0u);
  }
  for (const auto& e : fs::directory_iterator(dir_.path())) {  // scans instead of hints
    if (e.path().extension() == ".hint") fs::remove(e.path());
  }
  auto store = Open();
  EXPECT_EQ(count_db(*store, 0), 100u);
  EXPECT_EQ(count_db(*store, 1), 1u);
  EXPECT_EQ(count_db(*store, 3), 0u);
  // The counts DBSIZE reads, rebuilt by recovery.
  const std::map<uint32_t, DbKeyCount> counts = store->KeysPerDb().value();
  EXPECT_EQ(counts.at(0).keys, 100u);
  EXPECT_EQ(counts.at(1).keys, 1u);
  EXPECT_EQ(counts.count(3), 0u);
  EXPECT_EQ(GetOr(*store, EncodeDbKey(0, "k0")), std::string(60, 'v'));
}

TEST_F(CompactionTest, WritesRacingTheSwapKeepTheNewestValue) {
  auto store = Open();
  Overwrite(*store, 20, 4);
  ASSERT_TRUE(store->Set("a", "old-a").ok());
  ASSERT_TRUE(store->Set("b", "old-b").ok());
  // While the outputs are written the compactor holds no lock a writer needs.
  failpoint::SetHook("compaction.after_roll", [&] { EXPECT_TRUE(store->Set("d", "1").ok()); });
  failpoint::SetHook("compaction.after_write_outputs",
                     [&] { EXPECT_TRUE(store->Set("d", "2").ok()); });
  // Between the copy and the index switch: the copies of a and b are stale by then.
  failpoint::SetHook("compaction.before_switch", [&] {
    EXPECT_TRUE(store->Set("a", "new-a").ok());
    EXPECT_TRUE(store->Remove("b").ok());
    EXPECT_TRUE(store->Set("c", "new-c").ok());
  });
  ASSERT_TRUE(store->Compact().ok());
  failpoint::DisarmAll();
  EXPECT_EQ(GetOr(*store, "a"), "new-a");
  EXPECT_EQ(GetOr(*store, "b"), "<none>");
  EXPECT_EQ(GetOr(*store, "c"), "new-c");
  EXPECT_EQ(GetOr(*store, "d"), "2");
  // The stale copies are dead bytes, to be reclaimed by the next compaction.
  EXPECT_GT(store->Stats().dead_bytes, 0u);
  store.reset();
  store = Open();
  EXPECT_EQ(GetOr(*store, "a"), "new-a");
  EXPECT_EQ(GetOr(*store, "b"), "<none>");
  EXPECT_EQ(GetOr(*store, "c"), "new-c");
  ASSERT_TRUE(store->Compact().ok());
  EXPECT_EQ(store->Stats().dead_bytes, 0u);
  EXPECT_EQ(GetOr(*store, "a"), "new-a");
}

TEST_F(CompactionTest, ReadInFlightKeepsItsSegmentUntilItEnds) {
  auto store = Open();
  ASSERT_TRUE(store->Set("key", "value").ok());
  ASSERT_TRUE(store->Set("other", "x").ok());
  bool compacted = false, file_during = false;
  // The reader holds segment 1 when the compaction swaps it away underneath.
  failpoint::SetHook("log.read_holding_segment", [&] {
    if (compacted) return;
    compacted = true;
    EXPECT_TRUE(store->Compact().ok());
    file_during = fs::exists(dir_.File("1.log"));
  });
  EXPECT_EQ(GetOr(*store, "key"), "value");
  failpoint::DisarmAll();
  EXPECT_TRUE(compacted);
  EXPECT_TRUE(file_during);                      // still there for the reader...
  EXPECT_FALSE(fs::exists(dir_.File("1.log")));  // ...and unlinked when it let go
  EXPECT_EQ(GetOr(*store, "key"), "value");
}

TEST_F(CompactionTest, FailedCompactionLeavesTheStoreAsItWas) {
  testing::FaultInjectionEnv env;
  auto opened = LogStore::Open(MakeOptions(), &env);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<LogStore> store = std::move(opened).value();
  auto want = Overwrite(*store, 60, 3);
  env.FailWrites(ENOSPC);
  Status s = store->Compact();
  EXPECT_EQ(s.err_no(), ENOSPC) << s.ToString();
  env.Clear();
  EXPECT_FALSE(HasFile(dir_.path(), ".compacting"));
  EXPECT_FALSE(HasFile(dir_.path(), ".hint"));
  EXPECT_FALSE(store->Stats().read_only);  // the write path never failed
  for (const auto& [k, v] : want) EXPECT_EQ(GetOr(*store, k), v) << k;
  ASSERT_TRUE(store->Set("k1", "after").ok());
  ASSERT_TRUE(store->Compact().ok());
  EXPECT_EQ(GetOr(*store, "k1"), "after");
  store.reset();
  store = Open();
  EXPECT_EQ(GetOr(*store, "k1"), "after");
  EXPECT_EQ(GetOr(*store, "k2"), want["k2"]);
}

TEST_F(CompactionTest, DamagedHintFallsBackToTheSegment) {
  std::map<std::string, std::string> want;
  {
    auto store = Open();
    want = Overwrite(*store, 100, 4);  // ~8 KiB live: three outputs of 4 KiB
    ASSERT_TRUE(store->Compact().ok());
  }
  std::vector<std::string> hints;
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    if (e.path().extension() == ".hint") hints.push_back(e.path().string());
  }
  ASSERT_GE(hints.size(), 2u);
  std::sort(hints.begin(), hints.end());
  fs::remove(hints[0]);                                    // missing
  fs::resize_file(hints[1], fs::file_size(hints[1]) - 3);  // damaged
  auto store = Open();
  for (const auto& [k, v] : want) EXPECT_EQ(GetOr(*store, k), v) << k;
  EXPECT_EQ(store->recovery_stats().segments_from_hints, hints.size() - 2);
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], HasSubstr("hint"));
}

// Issue 16, case 1: a flipped byte in one compaction output's meta record (its type, its
// sequence number, its value) once made recovery take the compaction for an interrupted one
// and unlink its other outputs, whose inputs were long gone.
TEST_F(CompactionTest, ADamagedMetaRecordOfOneOutputCostsNoKey) {
  std::map<std::string, std::string> want;
  {
    auto store = Open();
    want = Overwrite(*store, 40, 2, 500);  // ~20 KiB live: several outputs of 4 KiB
    ASSERT_TRUE(store->Compact().ok());
  }
  std::vector<uint32_t> outputs;  // segments that start with a meta record
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    if (e.path().extension() != ".log") continue;
    std::ifstream f(e.path(), std::ios::binary);
    std::string head(log_format::kHeaderSize, '\0');
    f.read(head.data(), static_cast<std::streamsize>(head.size()));
    RecordHeader h;
    if (DecodeHeader(head, &h) == HeaderCheck::kOk && h.kind() == log_format::Kind::kMeta) {
      outputs.push_back(static_cast<uint32_t>(std::stoul(e.path().stem().string())));
    }
  }
  std::sort(outputs.begin(), outputs.end());
  ASSERT_GE(outputs.size(), 3u);
  const std::string victim = std::to_string(outputs[1]);
  auto segments = [](const std::string& dir) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".log") names.insert(e.path().filename().string());
    }
    return names;
  };
  // The type byte, a byte of the sequence number, a byte of the value.
  for (const uint64_t offset : {uint64_t{12}, uint64_t{5}, log_format::kHeaderSize + 16}) {
    for (const bool keep_hint : {true, false}) {
      SCOPED_TRACE(fmt::format("byte {} {} its hint", offset, keep_hint ? "with" : "without"));
      TempDir copy;
      fs::copy(dir_.path(), copy.path(), fs::copy_options::recursive);
      fs::remove(copy.File("LOCK"));
      {
        std::fstream f(copy.File(victim + ".log"), std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(static_cast<std::streamoff>(offset));
        const char c = static_cast<char>(f.get() ^ 0x04);
        f.seekp(static_cast<std::streamoff>(offset));
        f.put(c);
      }
      if (!keep_hint) fs::remove(copy.File(victim + ".hint"));
      const std::set<std::string> before = segments(copy.path());
      Options o = MakeOptions();
      o.data_dir = copy.path();
      {
        Result<std::unique_ptr<LogStore>> plain = LogStore::Open(o);
        if (plain.ok()) {
          for (const auto& [k, v] : want) EXPECT_EQ(GetOr(**plain, k), v) << k;
        } else {
          EXPECT_TRUE(plain.status().IsCorruption()) << plain.status().ToString();
          EXPECT_THAT(plain.status().ToString(), HasSubstr(victim + ".log"));
          EXPECT_EQ(segments(copy.path()), before) << "a refused start removed segments";
        }
        EXPECT_EQ(plain.ok(), keep_hint) << "only the hint spares reading the damage";
      }
      o.repair = true;
      Result<std::unique_ptr<LogStore>> repaired = LogStore::Open(o);
      ASSERT_TRUE(repaired.ok()) << repaired.status().ToString();
      for (const auto& [k, v] : want) EXPECT_EQ(GetOr(**repaired, k), v) << k;
    }
  }
}

TEST_F(CompactionTest, MalformedMetaRecordIsCorruption) {
  std::string seg;
  // Claims to be output 0 of a compaction whose first output is segment 9, in segment 1.
  AppendRecord(&seg, log_format::kMetaSeq, log_format::Kind::kMeta,
               log_format::kBatchStart | log_format::kBatchEnd, log_format::kMetaKey,
               EncodeCompactionMeta(CompactionMeta{9, 0, 1}));
  std::ofstream(dir_.File("1.log"), std::ios::binary) << seg;
  auto r = LogStore::Open(MakeOptions());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption());
  EXPECT_THAT(r.status().ToString(), HasSubstr("1.log: malformed compaction meta record"));
}

TEST_F(CompactionTest, LeftoversOfAnInterruptedCompactionAreRemoved) {
  {
    auto store = Open();
    Overwrite(*store, 10, 3);
  }
  std::ofstream(dir_.File("90.log.compacting")) << "half an output";
  std::ofstream(dir_.File("90.hint.compacting")) << "half a hint";
  std::ofstream(dir_.File("91.hint")) << "a hint whose segment is gone";
  auto store = Open();
  EXPECT_FALSE(fs::exists(dir_.File("90.log.compacting")));
  EXPECT_FALSE(fs::exists(dir_.File("90.hint.compacting")));
  EXPECT_FALSE(fs::exists(dir_.File("91.hint")));
  EXPECT_EQ(GetOr(*store, "k9"), "2:k9" + std::string(56, '.'));
}

// Under a steady overwrite workload, compacting whenever CompactionWanted() keeps the data
// files within 2x the live data plus two segments between compactions, and within 3x the
// live data plus the hint files plus two segments at the peak of a compaction
// (docs/COMPACTION.md "Space").
TEST_F(CompactionTest, SpaceStaysBoundedUnderSteadyOverwrites) {
  Options o = MakeOptions();
  o.segment_bytes = 16 * 1024;
  o.compaction_min_dead_bytes = 2 * o.segment_bytes;
  auto store = Open(o);
  uint64_t worst_between = 0;
  uint64_t peak = 0, over = 0;  // over: how far the peak passed 3x live + hints + 2 segments
  failpoint::SetHook("compaction.after_commit", [&] {
    // Outputs in place, inputs not yet dropped: the most a compaction ever holds.
    uint64_t size = 0, hints = 0;
    for (const auto& e : fs::directory_iterator(dir_.path())) {
      const std::string name = e.path().filename().string();
      if (name == "LOCK" || name == "ENGINE") continue;
      size += e.file_size();
      if (name.ends_with(".hint")) hints += e.file_size();
    }
    peak = std::max(peak, size);
    const uint64_t bound = 3 * store->Stats().live_bytes + hints + 2 * o.segment_bytes;
    over = std::max(over, size > bound ? size - bound : 0);
  });
  std::mt19937 rng(1);
  constexpr int kKeys = 500;
  for (int i = 0; i < 20000; ++i) {
    const std::string key = "key" + std::to_string(rng() % kKeys);
    ASSERT_TRUE(store->Set(key, std::string(50 + rng() % 100, 'v')).ok());
    if (store->CompactionWanted()) {
      ASSERT_TRUE(store->Compact().ok());
    }
    if (i % 100 == 0 && i > 2000) {
      const uint64_t live = store->Stats().live_bytes;
      const uint64_t size = DataBytes(dir_.path());
      worst_between = std::max(worst_between, size);
      ASSERT_LE(size, 2 * live + 2 * o.segment_bytes) << "after " << i << " writes";
    }
  }
  failpoint::DisarmAll();
  EXPECT_GT(store->Stats().compactions, 5u);
  ASSERT_GT(peak, 0u);
  EXPECT_EQ(over, 0u);
  RecordProperty("worst_between_compactions", std::to_string(worst_between));
  RecordProperty("peak_during_compaction", std::to_string(peak));
}

TEST_F(CompactionTest, BackgroundThreadCompactsOnceThresholdsArePassed) {
  Options o = MakeOptions();
  o.background_compaction = true;
  o.compaction_min_dead_bytes = 16 * 1024;
  o.compaction_dead_ratio = 0.5;
  auto store = Open(o);
  auto want = Overwrite(*store, 50, 10);  // ~36 KiB dead of ~42 KiB
  // Each commit past the threshold wakes the compactor; more writes keep waking it, so
  // this waits for progress, not for a duration.
  for (int i = 0; i < 100000 && store->Stats().compactions == 0; ++i) {
    auto more = Overwrite(*store, 50, 1);
    for (const auto& [k, v] : more) want[k] = v;
    std::this_thread::yield();
  }
  EXPECT_GE(store->Stats().compactions, 1u);
  for (const auto& [k, v] : want) EXPECT_EQ(GetOr(*store, k), v) << k;
  store.reset();  // stops the thread, even mid-compaction
  store = Open(MakeOptions());
  for (const auto& [k, v] : want) EXPECT_EQ(GetOr(*store, k), v) << k;
}

// Writers overwrite and remove their own keys, readers check they never see an older state
// than one acknowledged before their read began, and a compactor swaps segments
// continuously underneath. Label tsan: this runs under ThreadSanitizer.
TEST(CompactionConcurrencyTest, ReadersAndWritersRacingTheCompactor) {
  TempDir dir;
  Options o;
  o.data_dir = dir.path();
  o.fsync = FsyncPolicy::kNever;
  o.segment_bytes = 8 * 1024;
  o.background_compaction = false;
  auto opened = LogStore::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<LogStore> store = std::move(opened).value();

  constexpr int kWriters = 3, kReaders = 3, kKeysPerWriter = 20, kOps = 1500;
  constexpr int kKeys = kWriters * kKeysPerWriter;
  // Per key: the version last acknowledged, and the newest version that was a removal.
  std::vector<std::atomic<int>> acked(kKeys), last_removed(kKeys);
  for (int k = 0; k < kKeys; ++k) last_removed[k] = -1;
  std::atomic<bool> writers_done{false};
  std::atomic<int> failures{0}, compactions{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(w);
      std::vector<int> version(kKeysPerWriter, 0);
      for (int i = 0; i < kOps; ++i) {
        const int slot = static_cast<int>(rng() % kKeysPerWriter);
        const int k = w * kKeysPerWriter + slot;
        const int v = ++version[slot];
        const std::string key = "key" + std::to_string(k);
        if (rng() % 5 == 0) {
          last_removed[k].store(v);  // before the write: a reader may see it right away
          Status s = store->Remove(key);
          if (!s.ok() && !s.IsNotFound()) ++failures;
        } else if (!store->Set(key, std::to_string(v) + ":" + std::string(rng() % 200, 'x')).ok()) {
          ++failures;
        }
        acked[k].store(v);
      }
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      std::mt19937 rng(100 + r);
      while (!writers_done.load()) {
        const int k = static_cast<int>(rng() % kKeys);
        const int floor = acked[k].load();
        auto got = store->Get("key" + std::to_string(k));
        if (got.ok()) {
          if (std::stoi(got.value()) < floor) ++failures;  // stale
        } else if (!got.status().IsNotFound() || (floor > 0 && last_removed[k].load() < floor)) {
          ++failures;  // a read error, or a key missing although never removed since
        }
      }
    });
  }
  std::thread compactor([&] {
    while (!writers_done.load()) {
      if (store->Compact().ok())
        ++compactions;
      else
        ++failures;
    }
  });
  for (int t = 0; t < kWriters; ++t) threads[t].join();
  writers_done = true;
  for (size_t t = kWriters; t < threads.size(); ++t) threads[t].join();
  compactor.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(compactions.load(), 0);

  std::map<std::string, std::string> final_state;
  for (int k = 0; k < kKeys; ++k) {
    auto got = store->Get("key" + std::to_string(k));
    if (got.ok()) final_state["key" + std::to_string(k)] = got.value();
    if (acked[k].load() == 0) continue;  // never written
    // The last op on each key decides: a removal leaves it absent, a set present.
    EXPECT_EQ(got.ok(), last_removed[k].load() != acked[k].load()) << k;
  }
  store.reset();
  store = std::move(LogStore::Open(o)).value();
  ASSERT_TRUE(store->Compact().ok());
  store.reset();
  store = std::move(LogStore::Open(o)).value();
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = "key" + std::to_string(k);
    auto got = store->Get(key);
    auto it = final_state.find(key);
    if (it == final_state.end()) {
      EXPECT_TRUE(got.status().IsNotFound()) << key;
    } else {
      EXPECT_EQ(got.ok() ? got.value() : "<none>", it->second) << key;
    }
  }
}

}  // namespace
}  // namespace kvs
