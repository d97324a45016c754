#include "store/log_store.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "store/log_format.h"
#include "store/record.h"
#include "store/test_util.h"

namespace kvs {
namespace {

namespace fs = std::filesystem;
using log_format::kBatchEnd;
using log_format::kBatchStart;
using log_format::Kind;
using testing::FaultInjectionEnv;
using ::testing::HasSubstr;
using testing::TempDir;

class LogStoreTest : public ::testing::Test {
 protected:
  Options MakeOptions(const std::string& dir) {
    Options o;
    o.data_dir = dir;
    o.on_warning = [this](std::string_view w) { warnings_.emplace_back(w); };
    return o;
  }
  std::unique_ptr<LogStore> OpenOk(const Options& o, Env* env = Env::Default()) {
    auto r = LogStore::Open(o, env);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::unique_ptr<LogStore> OpenOk() { return OpenOk(MakeOptions(dir_.path())); }

  static std::string GetOr(LogStore& s, std::string_view key, std::string fallback = "<none>") {
    auto r = s.Get(key);
    return r.ok() ? r.value() : fallback;
  }
  static void Corrupt(const std::string& path, uint64_t offset, char xor_mask = 0x5a) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(offset));
    char c;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(offset));
    f.put(static_cast<char>(c ^ xor_mask));
  }
  // Closed segments get hint files, and a start trusts a whole hint instead of reading the
  // segment: tests of the segment scan remove them first.
  static void RemoveHints(const std::string& dir) {
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".hint") fs::remove(e.path());
    }
  }
  static void Append(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::app | std::ios::binary);
    f << bytes;
  }

  TempDir dir_;
  std::vector<std::string> warnings_;
};

TEST_F(LogStoreTest, OpenCreatesEngineLockAndFirstSegment) {
  auto store = OpenOk();
  EXPECT_EQ(store->name(), "kvs");
  std::ifstream engine(dir_.File("ENGINE"));
  std::string word;
  engine >> word;
  EXPECT_EQ(word, "kvs");
  EXPECT_TRUE(fs::exists(dir_.File("LOCK")));
  EXPECT_TRUE(fs::exists(dir_.File("1.log")));
}

TEST_F(LogStoreTest, GetCachedWouldBlockOnARecordOutOfThePageCache) {
  FaultInjectionEnv env;
  auto store = OpenOk(MakeOptions(dir_.path()), &env);
  const std::string value(10000, 'v');
  ASSERT_TRUE(store->Set("a", value).ok());
  Result<std::string> cached = store->GetCached("a");
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();
  EXPECT_EQ(*cached, value);
  env.SetUncached(true);
  EXPECT_TRUE(store->GetCached("a").status().IsWouldBlock());
  EXPECT_TRUE(store->GetCached("absent").status().IsNotFound());  // the index alone says so
  EXPECT_EQ(GetOr(*store, "a"), value);  // Get reads the disk
  env.SetUncached(false);
  cached = store->GetCached("a");
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();
  EXPECT_EQ(*cached, value);
}

TEST_F(LogStoreTest, GetCachedOfAnEvictedRecordWouldBlockOrServesItExactly) {
  // The kernel's side of the test above. An RWF_NOWAIT read of evicted pages may start
  // readahead and, when the disk answers at once, return the data: either answer is right,
  // an error or a wrong byte is not.
  Options o = MakeOptions(dir_.path());
  o.zero_fill_ahead_bytes = 0;  // nothing writes (and caches) the segment meanwhile
  auto store = OpenOk(o);
  std::string value(10000, 'v');  // pages of its own, beyond the first
  for (size_t i = 0; i < value.size(); i += 97) value[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(store->Set("a", value).ok());
  if (!kvs::testing::EvictFromPageCache(dir_.File("1.log")))
    GTEST_SKIP() << "the kernel kept the segment's pages cached";
  Result<std::string> cached = store->GetCached("a");
  if (cached.ok()) {
    EXPECT_EQ(*cached, value);
  } else {
    EXPECT_TRUE(cached.status().IsWouldBlock()) << cached.status().ToString();
  }
  EXPECT_EQ(GetOr(*store, "a"), value);
  cached = store->GetCached("a");  // Get brought the pages back
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();
  EXPECT_EQ(*cached, value);
}

TEST_F(LogStoreTest, MissingDirectoryIsCreated) {
  auto store = OpenOk(MakeOptions(dir_.File("sub")));
  ASSERT_TRUE(store->Set("a", "1").ok());
  EXPECT_TRUE(fs::exists(dir_.File("sub/1.log")));
}

TEST_F(LogStoreTest, SetGetOverwriteRemove) {
  auto store = OpenOk();
  EXPECT_TRUE(store->Get("a").status().IsNotFound());
  ASSERT_TRUE(store->Set("a", "1").ok());
  EXPECT_EQ(GetOr(*store, "a"), "1");
  ASSERT_TRUE(store->Set("a", "2").ok());
  EXPECT_EQ(GetOr(*store, "a"), "2");
  ASSERT_TRUE(store->Remove("a").ok());
  Result<std::string> gone = store->Get("a");
  EXPECT_TRUE(gone.status().IsNotFound());
  EXPECT_EQ(gone.status().message(), "Key not found");
}

TEST_F(LogStoreTest, RemovingAMissingKeyIsNotFoundAndWritesNothing) {
  auto store = OpenOk();
  const uint64_t before = store->Stats().disk_bytes;
  Status s = store->Remove("never-set");
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_EQ(s.message(), "Key not found");
  EXPECT_EQ(store->Stats().disk_bytes, before);
}

TEST_F(LogStoreTest, EmptyValueAndBinaryData) {
  auto store = OpenOk();
  const std::string key("\0k\xff", 3), value("\0\n\r\x80", 4);
  ASSERT_TRUE(store->Set("empty", "").ok());
  ASSERT_TRUE(store->Set(key, value).ok());
  store.reset();
  store = OpenOk();
  EXPECT_EQ(GetOr(*store, "empty"), "");
  EXPECT_EQ(GetOr(*store, key), value);
}

TEST_F(LogStoreTest, LimitsAreEnforced) {
  auto store = OpenOk();
  EXPECT_TRUE(store->Set("", "v").IsInvalidArgument());
  EXPECT_TRUE(store->Set(std::string(kMaxKeyBytes, 'k'), "v").ok());
  Status s = store->Set(std::string(kMaxKeyBytes + 1, 'k'), "v");
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_THAT(std::string(s.message()), HasSubstr(std::to_string(kMaxKeyBytes + 1)));
  EXPECT_TRUE(store->Set("big", std::string(kMaxValueBytes + 1, 'v')).IsInvalidArgument());
}

TEST_F(LogStoreTest, PersistsAcrossReopen) {
  {
    auto store = OpenOk();
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE(store->Set("k" + std::to_string(i), "v" + std::to_string(i)).ok());
    }
    ASSERT_TRUE(store->Set("k7", "seven").ok());
    ASSERT_TRUE(store->Remove("k8").ok());
  }
  auto store = OpenOk();
  EXPECT_EQ(store->Stats().keys, 99u);
  EXPECT_EQ(GetOr(*store, "k0"), "v0");
  EXPECT_EQ(GetOr(*store, "k7"), "seven");
  EXPECT_TRUE(store->Get("k8").status().IsNotFound());
  EXPECT_EQ(GetOr(*store, "k99"), "v99");
  // Writing goes on after the recovered tail.
  ASSERT_TRUE(store->Set("k100", "v100").ok());
  store.reset();
  store = OpenOk();
  EXPECT_EQ(GetOr(*store, "k100"), "v100");
  EXPECT_EQ(GetOr(*store, "k99"), "v99");
}

TEST_F(LogStoreTest, SecondOpenOfALockedDirectoryIsBusy) {
  auto store = OpenOk();
  auto second = LogStore::Open(MakeOptions(dir_.path()));
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(second.status().IsBusy());
  EXPECT_THAT(second.status().ToString(), HasSubstr("LOCK"));
}

TEST_F(LogStoreTest, DirectoryOfAnotherEngineIsRefused) {
  std::ofstream(dir_.File("ENGINE")) << "rocksdb\n";
  auto r = LogStore::Open(MakeOptions(dir_.path()));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument());
  EXPECT_THAT(r.status().ToString(), HasSubstr("rocksdb"));
  EXPECT_THAT(r.status().ToString(), HasSubstr("kvs"));
}

TEST_F(LogStoreTest, BatchReportsPerOpResults) {
  auto store = OpenOk();
  ASSERT_TRUE(store->Set("x", "old").ok());
  WriteBatch batch;
  batch.Put("a", "1");
  batch.Delete("a");        // exists thanks to the op before it
  batch.Delete("missing");  // never existed
  batch.Delete("x");
  batch.Delete("x");  // already deleted earlier in the batch
  batch.Put("c", "3");
  std::vector<Status> results;
  ASSERT_TRUE(store->Write(batch, &results).ok());
  ASSERT_EQ(results.size(), 6u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
  EXPECT_TRUE(results[2].IsNotFound());
  EXPECT_TRUE(results[3].ok());
  EXPECT_TRUE(results[4].IsNotFound());
  EXPECT_TRUE(results[5].ok());
  EXPECT_TRUE(store->Get("a").status().IsNotFound());
  EXPECT_TRUE(store->Get("x").status().IsNotFound());
  EXPECT_EQ(GetOr(*store, "c"), "3");
  EXPECT_EQ(store->Stats().batches, 2u);  // the Set and the batch: one durability point each
}

TEST_F(LogStoreTest, RollsToNewSegmentsAndRecoversThemAll) {
  Options o = MakeOptions(dir_.path());
  o.segment_bytes = 4096;
  {
    auto store = OpenOk(o);
    for (int i = 0; i < 500; ++i) {
      ASSERT_TRUE(store->Set("key" + std::to_string(i % 200), std::string(40, 'a' + i % 26)).ok());
    }
    EXPECT_GT(store->Stats().segments, 5u);
  }
  auto store = OpenOk(o);
  EXPECT_EQ(store->Stats().keys, 200u);
  for (int i = 300; i < 500; ++i) {
    EXPECT_EQ(GetOr(*store, "key" + std::to_string(i % 200)), std::string(40, 'a' + i % 26));
  }
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(LogStoreTest, StatsCountLiveAndDeadBytes) {
  auto store = OpenOk();
  ASSERT_TRUE(store->Set("k", "1234").ok());
  ASSERT_TRUE(store->Set("k", "5678").ok());
  const uint64_t rec = RecordSize(1, 4);
  EngineStats s = store->Stats();
  EXPECT_EQ(s.live_bytes, rec);
  EXPECT_EQ(s.dead_bytes, rec);
  EXPECT_EQ(s.disk_bytes, 2 * rec);
  store.reset();
  store = OpenOk();
  s = store->Stats();
  EXPECT_EQ(s.live_bytes, rec);
  EXPECT_EQ(s.dead_bytes, rec);
}

// ---- Recovery from torn tails and corruption ---------------------------------------------

class LogStoreRecoveryTest : public LogStoreTest {
 protected:
  // Writes keys k0..k{n-1} (values v0..), one batch each, and returns the offsets where
  // each record starts in 1.log (plus the file end).
  std::vector<uint64_t> WriteRecords(int n, const std::string& dir) {
    auto store = OpenOk(MakeOptions(dir));
    std::vector<uint64_t> offsets{0};
    for (int i = 0; i < n; ++i) {
      const std::string k = "k" + std::to_string(i), v = "v" + std::to_string(i);
      EXPECT_TRUE(store->Set(k, v).ok());
      offsets.push_back(offsets.back() + RecordSize(k.size(), v.size()));
    }
    return offsets;
  }
  // Writes k0..k199 = "old0".. over several 4 KiB segments; returns the options used.
  Options WriteOldValues() {
    Options o = MakeOptions(dir_.path());
    o.segment_bytes = 4096;
    auto store = OpenOk(o);
    for (int i = 0; i < 200; ++i)
      EXPECT_TRUE(store->Set("k" + std::to_string(i), "old" + std::to_string(i)).ok());
    return o;
  }
  // Every key of WriteOldValues but those in `except` holds its value.
  static void ExpectOldValues(LogStore& store, std::initializer_list<int> except) {
    for (int i = 0; i < 200; ++i) {
      if (std::find(except.begin(), except.end(), i) != except.end()) continue;
      EXPECT_EQ(GetOr(store, "k" + std::to_string(i)), "old" + std::to_string(i));
    }
  }
};

TEST_F(LogStoreRecoveryTest, TornTailAtEveryByteOfTheLastRecord) {
  TempDir golden;
  std::vector<uint64_t> offsets = WriteRecords(5, golden.path());
  ASSERT_EQ(fs::file_size(golden.File("1.log")), offsets.back());
  for (uint64_t cut = offsets[4]; cut < offsets[5]; ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    TempDir copy;
    fs::copy(golden.path(), copy.path(),
             fs::copy_options::overwrite_existing | fs::copy_options::recursive);
    fs::resize_file(copy.File("1.log"), cut);
    warnings_.clear();
    auto store = OpenOk(MakeOptions(copy.path()));
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 4; ++i)
      EXPECT_EQ(GetOr(*store, "k" + std::to_string(i)), "v" + std::to_string(i));
    EXPECT_TRUE(store->Get("k4").status().IsNotFound());
    EXPECT_EQ(warnings_.size(), cut == offsets[4] ? 0u : 1u);
    // The store goes on writing where the good data ended, and that survives a reopen.
    ASSERT_TRUE(store->Set("after", "crash").ok());
    store.reset();
    store = OpenOk(MakeOptions(copy.path()));
    EXPECT_EQ(GetOr(*store, "after"), "crash");
    EXPECT_EQ(GetOr(*store, "k3"), "v3");
  }
}

TEST_F(LogStoreRecoveryTest, ZerosAfterTheLastRecordAreACleanEnd) {
  WriteRecords(3, dir_.path());
  Append(dir_.File("1.log"), std::string(10000, '\0'));
  auto store = OpenOk();
  EXPECT_EQ(GetOr(*store, "k2"), "v2");
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(LogStoreRecoveryTest, GarbageAfterTheLastRecordIsCutWithAWarning) {
  WriteRecords(3, dir_.path());
  std::mt19937 rng(7);
  std::string garbage(3000, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  Append(dir_.File("1.log"), garbage);
  auto store = OpenOk();
  EXPECT_EQ(GetOr(*store, "k2"), "v2");
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], HasSubstr("1.log"));
  EXPECT_THAT(warnings_[0], HasSubstr("3000 bytes"));
}

TEST_F(LogStoreRecoveryTest, LengthPointingPastTheEndIsATornTail) {
  std::vector<uint64_t> offsets = WriteRecords(3, dir_.path());
  std::string rec;
  AppendRecord(&rec, 99, Kind::kPut, kBatchStart | kBatchEnd, "huge", std::string(100, 'x'));
  rec[17] = 0;
  rec[18] = 0;
  rec[19] = 0x10;  // value length 1 MiB: past the end of the file
  Append(dir_.File("1.log"), rec);
  auto store = OpenOk();
  EXPECT_EQ(GetOr(*store, "k2"), "v2");
  EXPECT_TRUE(store->Get("huge").status().IsNotFound());
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], HasSubstr("past the end"));
  store.reset();  // a clean close trims the preallocated tail
  EXPECT_EQ(fs::file_size(dir_.File("1.log")), offsets.back());
}

TEST_F(LogStoreRecoveryTest, IncompleteBatchIsDroppedWhole) {
  {
    auto store = OpenOk();
    ASSERT_TRUE(store->Set("before", "1").ok());
  }
  // A three-record batch whose last record never reached the disk.
  std::string batch;
  AppendRecord(&batch, 10, Kind::kPut, kBatchStart, "a", "1");
  AppendRecord(&batch, 11, Kind::kPut, 0, "b", "2");
  Append(dir_.File("1.log"), batch);
  auto store = OpenOk();
  EXPECT_EQ(GetOr(*store, "before"), "1");
  EXPECT_TRUE(store->Get("a").status().IsNotFound());
  EXPECT_TRUE(store->Get("b").status().IsNotFound());
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], HasSubstr("cut short"));
}

TEST_F(LogStoreRecoveryTest, HoleInsideTheLastBatchIsATornTail) {
  {
    auto store = OpenOk();
    ASSERT_TRUE(store->Set("before", "1").ok());
  }
  // Pages of the last write reached the disk out of order: its middle is zeros, its end
  // record is intact. It was never acknowledged, so it goes.
  std::string batch;
  AppendRecord(&batch, 10, Kind::kPut, kBatchStart, "a", std::string(100, 'a'));
  AppendRecord(&batch, 11, Kind::kPut, 0, "b", std::string(100, 'b'));
  AppendRecord(&batch, 12, Kind::kPut, kBatchEnd, "c", std::string(100, 'c'));
  std::fill(batch.begin() + 50, batch.begin() + 200, '\0');
  Append(dir_.File("1.log"), batch);
  auto store = OpenOk();
  EXPECT_EQ(GetOr(*store, "before"), "1");
  EXPECT_TRUE(store->Get("c").status().IsNotFound());
  EXPECT_EQ(warnings_.size(), 1u);
}

TEST_F(LogStoreRecoveryTest, FlippedByteInAnOlderSegmentRefusesToOpen) {
  Options o = MakeOptions(dir_.path());
  o.segment_bytes = 4096;
  {
    auto store = OpenOk(o);
    for (int i = 0; i < 200; ++i)
      ASSERT_TRUE(store->Set("k" + std::to_string(i), std::string(50, 'v')).ok());
  }
  const uint64_t offset = RecordSize(2, 50) * 3 + 30;  // inside the 4th record's value
  RemoveHints(dir_.path());
  Corrupt(dir_.File("1.log"), offset);
  auto r = LogStore::Open(o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption());
  EXPECT_THAT(r.status().ToString(), HasSubstr("1.log"));
  EXPECT_THAT(r.status().ToString(), HasSubstr("offset " + std::to_string(RecordSize(2, 50) * 3)));
  EXPECT_THAT(r.status().ToString(), HasSubstr("--repair"));
}

TEST_F(LogStoreRecoveryTest, FlippedByteBeforeALaterBatchOfTheActiveSegmentRefusesToOpen) {
  std::vector<uint64_t> offsets = WriteRecords(5, dir_.path());
  Corrupt(dir_.File("1.log"), offsets[1] + 22);  // k1's key: k2..k4 follow intact
  auto r = LogStore::Open(MakeOptions(dir_.path()));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption());
  EXPECT_THAT(r.status().ToString(),
              HasSubstr("checksum mismatch at offset " + std::to_string(offsets[1])));
}

TEST_F(LogStoreRecoveryTest, RepairDropsOnlyTheDamagedRecords) {
  Options o = WriteOldValues();
  {
    auto store = OpenOk(o);
    ASSERT_TRUE(store->Set("k5", "new5").ok());  // k5 has a newer copy in a later segment
  }
  // Damage k3's and k5's first records (both in 1.log).
  RemoveHints(dir_.path());
  Corrupt(dir_.File("1.log"), RecordSize(2, 4) * 3 + 23);
  Corrupt(dir_.File("1.log"), RecordSize(2, 4) * 5 + 23);
  ASSERT_FALSE(LogStore::Open(o).ok());
  o.repair = true;
  {
    auto store = OpenOk(o);
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(store->Get("k3").status().IsNotFound());  // gone, never wrong
    EXPECT_EQ(GetOr(*store, "k5"), "new5");
    ExpectOldValues(*store, {3, 5});
    ASSERT_EQ(warnings_.size(), 1u);
    EXPECT_THAT(warnings_[0], HasSubstr("dropped 2 damaged region(s)"));
  }
  o.repair = false;
  auto store = OpenOk(o);  // repaired for good
  EXPECT_EQ(GetOr(*store, "k199"), "old199");
}

TEST_F(LogStoreRecoveryTest, RepairReachesDamageBehindAValidHint) {
  Options o = WriteOldValues();
  { auto store = OpenOk(o); }  // a start writes the hints of closed segments still without one
  ASSERT_TRUE(fs::exists(dir_.File("1.hint")));
  Corrupt(dir_.File("1.log"), RecordSize(2, 4) * 3 + 23);  // k3's value
  {
    auto store = OpenOk(o);  // the hint spares reading the damage...
    ASSERT_NE(store, nullptr);
    Result<std::string> k3 = store->Get("k3");
    EXPECT_TRUE(k3.status().IsCorruption()) << k3.status().ToString();  // ...never served
  }
  warnings_.clear();
  o.repair = true;
  {
    auto store = OpenOk(o);
    ASSERT_NE(store, nullptr);
    EXPECT_TRUE(store->Get("k3").status().IsNotFound());
    ExpectOldValues(*store, {3});
    std::string all;
    for (const std::string& w : warnings_) all += w + "\n";
    EXPECT_THAT(all, HasSubstr("1.log: kept"));
  }
  // No damaged record is left behind: a start that reads every segment finds none.
  o.repair = false;
  RemoveHints(dir_.path());
  auto store = OpenOk(o);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(GetOr(*store, "k4"), "old4");
}

TEST_F(LogStoreRecoveryTest, SequenceNumbersDecideWhateverTheFileOrder) {
  // Segment 1 holds the newer records (seq 10, 11), segment 2 older ones (seq 5, 6): as
  // compaction output can be ordered.
  std::string one, two;
  AppendRecord(&one, 10, Kind::kPut, kBatchStart | kBatchEnd, "a", "new-a");
  AppendRecord(&one, 11, Kind::kTombstone, kBatchStart | kBatchEnd, "b", "");
  AppendRecord(&two, 5, Kind::kPut, kBatchStart | kBatchEnd, "a", "old-a");
  AppendRecord(&two, 6, Kind::kPut, kBatchStart | kBatchEnd, "b", "old-b");
  Append(dir_.File("1.log"), one);
  Append(dir_.File("2.log"), two);
  auto store = OpenOk();
  EXPECT_EQ(GetOr(*store, "a"), "new-a");
  EXPECT_TRUE(store->Get("b").status().IsNotFound());  // the tombstone wins
  // New writes continue above the highest sequence number seen.
  ASSERT_TRUE(store->Set("a", "newest").ok());
  store.reset();
  store = OpenOk();
  EXPECT_EQ(GetOr(*store, "a"), "newest");
}

TEST_F(LogStoreRecoveryTest, StaleRepairFileIsRemoved) {
  WriteRecords(2, dir_.path());
  Append(dir_.File("1.log.repair"), "half-written repair output");
  auto store = OpenOk();
  EXPECT_FALSE(fs::exists(dir_.File("1.log.repair")));
  EXPECT_EQ(GetOr(*store, "k1"), "v1");
}

// ---- Group commit API ------------------------------------------------------------------

// The LogWriter tests below run without the zero-filler: it may hold the very blocks a
// first batch goes to (then Prepare says WouldBlock; zero_filler_test.cc covers that).
TEST_F(LogStoreTest, PreparedBatchBecomesVisibleOnlyAtCommit) {
  Options o = MakeOptions(dir_.path());
  o.zero_fill_ahead_bytes = 0;
  auto store = OpenOk(o);
  WriteBatch batch;
  batch.Put("a", "1");
  batch.Put("b", "2");
  auto prepared = store->Prepare(batch, [] { ADD_FAILURE() << "nothing to wait for"; });
  ASSERT_TRUE(prepared.ok());
  EXPECT_TRUE(prepared->needs_sync);
  EXPECT_FALSE(prepared->empty());
  EXPECT_EQ(prepared->bytes.size(), RecordSize(1, 1) * 2);
  // The loop's own I/O, done on this thread.
  ASSERT_TRUE(store->WriteInline(*prepared).ok());
  EXPECT_TRUE(store->Get("a").status().IsNotFound());  // not acknowledged yet
  ASSERT_TRUE(store->Commit(std::move(prepared).value(), Status::Ok()).ok());
  EXPECT_EQ(GetOr(*store, "a"), "1");
  store.reset();
  store = OpenOk();
  EXPECT_EQ(GetOr(*store, "b"), "2");
}

TEST_F(LogStoreTest, PrepareSaysWouldBlockWhileABatchIsOutstandingAndCallsBackAtCommit) {
  Options o = MakeOptions(dir_.path());
  o.zero_fill_ahead_bytes = 0;
  auto store = OpenOk(o);
  WriteBatch first;
  first.Put("a", "1");
  auto prepared = store->Prepare(first, [] {});
  ASSERT_TRUE(prepared.ok());
  WriteBatch second;
  second.Put("b", "2");
  int ready = 0;
  auto refused = store->Prepare(second, [&] { ++ready; });
  ASSERT_TRUE(refused.status().IsWouldBlock()) << refused.status().ToString();
  EXPECT_EQ(ready, 0);
  ASSERT_TRUE(store->WriteInline(*prepared).ok());
  ASSERT_TRUE(store->Commit(std::move(prepared).value(), Status::Ok()).ok());
  EXPECT_EQ(ready, 1);  // called by Commit, on this thread
  auto again = store->Prepare(second, [] {});
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_TRUE(store->WriteInline(*again).ok());
  ASSERT_TRUE(store->Commit(std::move(again).value(), Status::Ok()).ok());
  EXPECT_EQ(GetOr(*store, "b"), "2");
}

TEST_F(LogStoreTest, PrepareNeverWaitsForASegmentRoll) {
  // The roll (truncate, fsync, create, fallocate, directory fsync) runs on the roller
  // thread; here its directory fsync is held at a gate. The writer is refused at once, and
  // called back once the roll is done.
  testing::GatedEnv env;
  Options o = MakeOptions(dir_.path());
  o.segment_bytes = 4096;
  o.zero_fill_ahead_bytes = 0;
  auto store = OpenOk(o, &env);
  ASSERT_TRUE(store->Set("a", std::string(3000, 'a')).ok());
  env.CloseDirSyncs();
  WriteBatch batch;
  batch.Put("b", std::string(3000, 'b'));
  std::atomic<int> ready{0};
  auto refused = store->Prepare(batch, [&] { ++ready; });
  ASSERT_TRUE(refused.status().IsWouldBlock()) << refused.status().ToString();
  ASSERT_TRUE(env.AwaitWaiting(1));  // the roller is inside the roll
  EXPECT_EQ(ready.load(), 0);
  EXPECT_EQ(GetOr(*store, "a"), std::string(3000, 'a'));  // reads go on meanwhile
  EXPECT_TRUE(store->Prepare(batch, [&] { ++ready; }).status().IsWouldBlock());
  env.Open();
  for (int i = 0; i < 3000 && ready.load() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(ready.load(), 2);  // every refused writer is called back
  auto placed = store->Prepare(batch, [] {});
  ASSERT_TRUE(placed.ok()) << placed.status().ToString();
  EXPECT_EQ(placed->segment, 2u);
  EXPECT_EQ(placed->offset, 0u);
  ASSERT_TRUE(store->WriteInline(*placed).ok());
  ASSERT_TRUE(store->Commit(std::move(placed).value(), Status::Ok()).ok());
  EXPECT_EQ(GetOr(*store, "b"), std::string(3000, 'b'));
  EXPECT_EQ(store->Stats().segments, 2u);
}

TEST_F(LogStoreTest, AFailedRollTurnsTheStoreReadOnlyAndCallsTheWritersBack) {
  FaultInjectionEnv env;
  Options o = MakeOptions(dir_.path());
  o.segment_bytes = 4096;
  auto store = OpenOk(o, &env);
  ASSERT_TRUE(store->Set("a", std::string(3000, 'a')).ok());
  env.FailSyncs(EIO);  // the roll's fsync of the closed segment
  // The writer waits for the roller and gets the roll's own error, as if it had rolled.
  Status s = store->Set("b", std::string(3000, 'b'));
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(s.err_no(), EIO);
  env.Clear();
  EXPECT_TRUE(store->Set("c", "1").IsReadOnly());
  EXPECT_EQ(GetOr(*store, "a"), std::string(3000, 'a'));
}

TEST_F(LogStoreTest, FailedCommitTurnsTheStoreReadOnly) {
  auto store = OpenOk();
  ASSERT_TRUE(store->Set("kept", "1").ok());
  WriteBatch batch;
  batch.Put("lost", "2");
  auto prepared = store->Prepare(batch, [] {});
  ASSERT_TRUE(prepared.ok());
  Status io = Status::FromErrno("fdatasync 1.log", EIO);
  EXPECT_TRUE(store->Commit(std::move(prepared).value(), io).IsIOError());
  EXPECT_TRUE(store->Get("lost").status().IsNotFound());
  EXPECT_EQ(GetOr(*store, "kept"), "1");  // reads go on
  Status s = store->Set("x", "y");
  EXPECT_TRUE(s.IsReadOnly());
  EXPECT_THAT(s.ToString(), HasSubstr("Input/output error"));
  EXPECT_TRUE(store->Stats().read_only);
}

// ---- Disk faults through the Env seam ----------------------------------------------------

TEST_F(LogStoreTest, FailedFsyncIsReportedAndNeverRetried) {
  FaultInjectionEnv env;
  auto store = OpenOk(MakeOptions(dir_.path()), &env);
  ASSERT_TRUE(store->Set("a", "1").ok());
  env.FailSyncs(EIO);
  Status s = store->Set("b", "2");
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.err_no(), EIO);
  env.Clear();
  // The fault is gone, but the data of the failed sync may be too: stay read-only.
  EXPECT_TRUE(store->Set("c", "3").IsReadOnly());
  EXPECT_TRUE(store->Sync().IsReadOnly());
  EXPECT_EQ(GetOr(*store, "a"), "1");
  EXPECT_TRUE(store->Get("b").status().IsNotFound());
  store.reset();
  store = OpenOk();  // a restart recovers everything acknowledged
  EXPECT_EQ(GetOr(*store, "a"), "1");
  EXPECT_TRUE(store->Set("c", "3").ok());
}

TEST_F(LogStoreTest, FailedWriteIsReportedWithItsErrno) {
  FaultInjectionEnv env;
  auto store = OpenOk(MakeOptions(dir_.path()), &env);
  env.FailWrites(ENOSPC);
  Status s = store->Set("a", "1");
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.err_no(), ENOSPC);
  EXPECT_THAT(s.ToString(), HasSubstr("No space left on device"));
  EXPECT_TRUE(store->Remove("a").IsReadOnly());
  EXPECT_TRUE(store->Stats().read_only);
}

TEST_F(LogStoreTest, PeriodicPolicyAcknowledgesAndSyncsOnDemand) {
  Options o = MakeOptions(dir_.path());
  o.fsync = FsyncPolicy::kPeriodic;
  o.sync_interval_ms = 10;
  auto store = OpenOk(o);
  ASSERT_TRUE(store->Set("a", "1").ok());
  ASSERT_TRUE(store->Sync().ok());
  EXPECT_GE(store->Stats().fsyncs, 1u);
  store.reset();
  store = OpenOk(o);
  EXPECT_EQ(GetOr(*store, "a"), "1");
}

// ---- Concurrency -------------------------------------------------------------------------

TEST(LogStoreConcurrencyTest, ReadersAndWritersOnOverlappingKeys) {
  TempDir dir;
  Options o;
  o.data_dir = dir.path();
  o.fsync = FsyncPolicy::kNever;  // the interleavings matter here, not the disk
  o.segment_bytes = 64 * 1024;    // rolls happen under the readers' feet
  auto opened = LogStore::Open(o);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<LogStore> store = std::move(opened).value();
  constexpr int kThreads = 8, kOps = 1500, kKeys = 50;
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kOps; ++i) {
        const int k = static_cast<int>(rng() % kKeys);
        const std::string key = "key" + std::to_string(k);
        switch (rng() % 4) {
          case 0:
          case 1:
            if (!store->Set(key, key + "=" + std::to_string(t) + "." + std::to_string(i)).ok())
              ++bad;
            break;
          case 2: {
            Status s = store->Remove(key);
            if (!s.ok() && !s.IsNotFound()) ++bad;
            break;
          }
          default: {
            auto r = store->Get(key);
            // Every value read is one some thread wrote for this very key.
            if (r.ok() ? r.value().rfind(key + "=", 0) != 0 : !r.status().IsNotFound()) ++bad;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  // What the index says is what the disk says.
  std::map<std::string, std::string> before;
  for (int k = 0; k < kKeys; ++k) {
    auto r = store->Get("key" + std::to_string(k));
    if (r.ok()) before["key" + std::to_string(k)] = r.value();
  }
  store.reset();
  store = std::move(LogStore::Open(o)).value();
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = "key" + std::to_string(k);
    auto r = store->Get(key);
    if (before.count(key)) {
      EXPECT_EQ(r.ok() ? r.value() : "<none>", before[key]);
    } else {
      EXPECT_TRUE(r.status().IsNotFound());
    }
  }
}

}  // namespace
}  // namespace kvs
