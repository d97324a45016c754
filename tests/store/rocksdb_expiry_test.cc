// RocksDbEngine's expiry beyond the shared Engine contract (engine_conformance_test.cc): the
// entity and index format on disk (store/rocksdb_expiry.h), ScanExpired's walk of the index,
// deletes and range deletes of keys with a time, and databases from before expiry.

#include "store/rocksdb_expiry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/wide_columns.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "store/db_key.h"
#include "store/rocksdb_engine.h"
#include "store/rocksdb_key_format.h"
#include "store/test_util.h"

namespace kvs {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

constexpr int64_t kT0 = 1'700'000'000'000;  // the test clock's start, ms since the epoch

class RocksDbExpiryTest : public ::testing::Test {
 protected:
  RocksDbExpiryTest() : clock_(std::make_shared<ExpiryClock>([this] { return now_.load(); })) {}

  std::string RocksPath() const { return dir_.File(std::string(kRocksDbSubdir)); }

  std::unique_ptr<RocksDbEngine> Open() {
    Options o;
    o.data_dir = dir_.path();
    o.clock = clock_;
    auto r = RocksDbEngine::Open(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  static Status Put(Engine& e, std::string_view key, std::string_view value, int64_t expire) {
    WriteBatch batch;
    batch.Put(key, value, expire);
    std::vector<Status> results;
    KVS_RETURN_IF_ERROR(e.Write(batch, &results));
    return results[0];
  }

  static Status DeletePrefix(Engine& e, std::string_view prefix) {
    WriteBatch batch;
    batch.DeletePrefix(prefix);
    std::vector<Status> results;
    return e.Write(batch, &results);
  }

  // Everything ScanExpired reports over `calls` calls of `max_visited`.
  static std::multiset<std::string> Scan(Engine& e, size_t max_visited, int calls) {
    std::multiset<std::string> got;
    for (int i = 0; i < calls; ++i) {
      ExpiredScan scan = e.ScanExpired(max_visited);
      EXPECT_LE(scan.visited, max_visited);
      EXPECT_LE(scan.keys.size(), scan.visited);
      got.insert(scan.keys.begin(), scan.keys.end());
    }
    return got;
  }

  // What RocksDB holds, the engine closed: the default family's keys, and the index's
  // entries as (time, key).
  struct Raw {
    std::set<std::string> keys;
    std::set<std::pair<int64_t, std::string>> index;
  };
  Raw ReadRaw() {
    std::vector<std::string> names;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), RocksPath(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw_db = nullptr;
    EXPECT_TRUE(
        rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), RocksPath(), families, &handles, &raw_db)
            .ok());
    std::unique_ptr<rocksdb::DB> db(raw_db);
    Raw raw;
    for (rocksdb::ColumnFamilyHandle* h : handles) {
      if (h->GetName() == rocksdb::kDefaultColumnFamilyName || h->GetName() == kRocksExpiryFamily) {
        std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), h));
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
          if (h->GetName() == kRocksExpiryFamily) {
            int64_t t = 0;
            std::string_view key;
            EXPECT_TRUE(DecodeExpiryIndexKey(it->key().ToStringView(), &t, &key));
            raw.index.emplace(t, key);
          } else {
            raw.keys.insert(it->key().ToString());
          }
        }
      }
      EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    }
    return raw;
  }

  // Opens RocksDB itself (the engine closed) and calls fn with each column family.
  void WithRawDb(const std::function<void(rocksdb::DB*, rocksdb::ColumnFamilyHandle*)>& fn) {
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), RocksPath(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), RocksPath(), families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (rocksdb::ColumnFamilyHandle* h : handles) {
      fn(db.get(), h);
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    }
  }

  // No key and no index entry left on disk (the engine closed).
  void ExpectNothingStored() {
    Raw raw = ReadRaw();
    EXPECT_TRUE(raw.keys.empty());
    EXPECT_TRUE(raw.index.empty());
  }

  TempDir dir_;
  std::atomic<int64_t> now_{kT0};
  std::shared_ptr<ExpiryClock> clock_;
};

TEST_F(RocksDbExpiryTest, ReopenKeepsExpiryTimes) {
  {
    auto e = Open();
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(Put(*e, "ttl", "v", kT0 + 1000).ok());
    ASSERT_TRUE(Put(*e, "plain", "p", kNoExpiry).ok());
  }
  auto e = Open();
  ASSERT_NE(e, nullptr);
  Result<StoredValue> ttl = e->Read("ttl", false);
  ASSERT_TRUE(ttl.ok()) << ttl.status().ToString();
  EXPECT_EQ(ttl->value, "v");
  EXPECT_EQ(ttl->expire_at_ms, kT0 + 1000);
  EXPECT_EQ(e->Read("plain", false)->expire_at_ms, kNoExpiry);
  now_ = kT0 + 1000;  // its time has come: gone for every read
  EXPECT_TRUE(e->Read("ttl", false).status().IsNotFound());
  EXPECT_FALSE(e->Contains("ttl", false).value());
  std::vector<std::string> keys;
  ASSERT_TRUE(e->ForEach([&](std::string_view k, std::string_view, int64_t) {
                 keys.emplace_back(k);
                 return Status::Ok();
               }).ok());
  EXPECT_EQ(keys, std::vector<std::string>{"plain"});
}

// Wide-column entities (experimental in RocksDB 7.8) through every path that rewrites them.
TEST_F(RocksDbExpiryTest, TimesSurviveFlushCompactionAndRepair) {
  {
    auto e = Open();
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(Put(*e, "ttl", "v", kT0 + 1000).ok());
    ASSERT_TRUE(Put(*e, "plain", "p", kNoExpiry).ok());
    ASSERT_TRUE(Put(*e, "was-ttl", "w", kT0 + 5).ok());
    ASSERT_TRUE(Put(*e, "was-ttl", "w2", kNoExpiry).ok());
  }
  {
    WithRawDb([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
      ASSERT_TRUE(db->Flush(rocksdb::FlushOptions(), h).ok());
      ASSERT_TRUE(db->CompactRange(rocksdb::CompactRangeOptions(), h, nullptr, nullptr).ok());
    });
  }
  for (const bool repair : {false, true}) {
    Options o;
    o.data_dir = dir_.path();
    o.clock = clock_;
    o.repair = repair;
    auto r = RocksDbEngine::Open(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::unique_ptr<RocksDbEngine> e = std::move(r).value();
    Result<StoredValue> ttl = e->Read("ttl", false);
    ASSERT_TRUE(ttl.ok()) << repair;
    EXPECT_EQ(ttl->value, "v");
    EXPECT_EQ(ttl->expire_at_ms, kT0 + 1000);
    EXPECT_EQ(e->Read("plain", false)->expire_at_ms, kNoExpiry);
    EXPECT_EQ(e->Read("was-ttl", false)->value, "w2");
    EXPECT_EQ(e->Read("was-ttl", false)->expire_at_ms, kNoExpiry);
  }
}

TEST_F(RocksDbExpiryTest, CachedReadReturnsTheTimeToo) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(Put(*e, "k", "v", kT0 + 5).ok());
  Result<StoredValue> cached = e->Read("k", /*cached_only=*/true);  // in the memtable
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();
  EXPECT_EQ(cached->expire_at_ms, kT0 + 5);
}

TEST_F(RocksDbExpiryTest, PutWithoutExpiryClearsTheTimeAndItsIndexEntryGoes) {
  {
    auto e = Open();
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(Put(*e, "k", "old", kT0 + 10).ok());
    ASSERT_TRUE(Put(*e, "k", "new", kNoExpiry).ok());
    now_ = kT0 + 10;
    Result<StoredValue> got = e->Read("k", false);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->value, "new");
    EXPECT_EQ(got->expire_at_ms, kNoExpiry);
    // The stale index entry is looked at, reported as nothing, and dropped.
    ExpiredScan scan = e->ScanExpired(10);
    EXPECT_EQ(scan.visited, 1u);
    EXPECT_TRUE(scan.keys.empty());
    EXPECT_EQ(e->ScanExpired(10).visited, 0u);
  }
  Raw raw = ReadRaw();
  EXPECT_EQ(raw.keys, std::set<std::string>{"k"});
  EXPECT_TRUE(raw.index.empty());
}

TEST_F(RocksDbExpiryTest, NewTimeLeavesTheOldEntryStaleUntilItsTimeThenDropsIt) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(Put(*e, "k", "v", kT0 + 10).ok());
  ASSERT_TRUE(Put(*e, "k", "v", kT0 + 20).ok());  // EXPIRE again: no read of the old time
  now_ = kT0 + 15;
  ExpiredScan scan = e->ScanExpired(10);
  EXPECT_EQ(scan.visited, 1u);
  EXPECT_TRUE(scan.keys.empty());
  EXPECT_TRUE(e->Read("k", false).ok());
  now_ = kT0 + 20;
  scan = e->ScanExpired(10);
  EXPECT_EQ(scan.visited, 1u);  // the stale entry went with the first scan
  EXPECT_EQ(scan.keys, std::vector<std::string>{"k"});
  e.reset();
  EXPECT_EQ(ReadRaw().index, (std::set<std::pair<int64_t, std::string>>{{kT0 + 20, "k"}}));
}

TEST_F(RocksDbExpiryTest, ScanExpiredIsBoundedAndSuccessiveCallsCoverEveryDueKey) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  WriteBatch batch;
  std::multiset<std::string> due;
  for (int i = 0; i < 100; ++i) {
    const std::string key = "k" + std::to_string(i);
    batch.Put(key, "v", kT0 + 1 + i);
    if (i < 50) due.insert(key);
  }
  batch.Put("never", "v");
  std::vector<Status> results;
  ASSERT_TRUE(e->Write(batch, &results).ok());
  EXPECT_TRUE(e->ScanExpired(10).keys.empty());  // nothing due yet
  now_ = kT0 + 50;                               // k0..k49
  EXPECT_EQ(Scan(*e, 10, 5), due);
  // Not deleted by the caller: the next calls go round again, from the oldest.
  EXPECT_EQ(Scan(*e, 7, 8).size(), 7u * 8u);
  ExpiredScan all = e->ScanExpired(1000);
  EXPECT_EQ(all.visited, 50u);  // once round at most, however large the budget
  EXPECT_EQ(std::multiset<std::string>(all.keys.begin(), all.keys.end()), due);
}

TEST_F(RocksDbExpiryTest, DeletedExpiredKeysAreNotFoundAgain) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Put(*e, "k" + std::to_string(i), "v", kT0 + 1).ok());
  now_ = kT0 + 1;
  for (int round = 0; round < 4; ++round) {
    ExpiredScan scan = e->ScanExpired(5);
    ASSERT_EQ(scan.keys.size(), 5u) << round;
    WriteBatch deletes;
    for (const std::string& k : scan.keys) deletes.Delete(k);
    std::vector<Status> results;
    ASSERT_TRUE(e->Write(deletes, &results).ok());
    for (const Status& s : results) EXPECT_TRUE(s.IsNotFound());  // expired: did not exist
  }
  ExpiredScan scan = e->ScanExpired(100);
  EXPECT_EQ(scan.visited, 0u);
  e.reset();
  ExpectNothingStored();
}

// The expirer's deletes leave index tombstones that RocksDB steps over one by one: a call
// gives up on a run too long (bounded cost) instead of walking it all, and still finds what
// it can reach.
TEST_F(RocksDbExpiryTest, ScanExpiredGivesUpOnALongRunOfDeletedEntries) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  WriteBatch puts;
  WriteBatch deletes;
  for (int i = 0; i < 3000; ++i) {
    char key[16];
    std::snprintf(key, sizeof key, "k%05d", i);
    puts.Put(key, "v", kT0 + 2);
    deletes.Delete(key);
  }
  std::vector<Status> results;
  ASSERT_TRUE(e->Write(puts, &results).ok());
  ASSERT_TRUE(e->Write(deletes, &results).ok());
  ASSERT_TRUE(Put(*e, "after", "v", kT0 + 3).ok());  // behind the run
  now_ = kT0 + 3;
  ExpiredScan scan = e->ScanExpired(10);
  EXPECT_EQ(scan.visited, 0u);
  EXPECT_TRUE(scan.keys.empty());
  ASSERT_TRUE(Put(*e, "before", "v", kT0 + 1).ok());  // ahead of it: reachable
  scan = e->ScanExpired(10);
  EXPECT_EQ(scan.keys, std::vector<std::string>{"before"});
  EXPECT_TRUE(e->Read("after", false).status().IsNotFound());  // hidden all the same
}

TEST_F(RocksDbExpiryTest, DeleteOfAnExpiredKeyRemovesItAndAnswersNotFound) {
  {
    auto e = Open();
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(Put(*e, "gone", "v", kT0 + 1).ok());
    ASSERT_TRUE(Put(*e, "live", "v", kT0 + 100).ok());
    now_ = kT0 + 1;
    EXPECT_TRUE(e->Remove("gone").IsNotFound());
    EXPECT_TRUE(e->Remove("live").ok());
    EXPECT_TRUE(e->Remove("live").IsNotFound());
  }
  ExpectNothingStored();
}

TEST_F(RocksDbExpiryTest, DeleteAfterAPutInTheSameBatchAnswersByThePutsTime) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  WriteBatch batch;
  batch.Put("past", "v", kT0 - 1);  // expired as written
  batch.Delete("past");
  batch.Put("future", "v", kT0 + 1);
  batch.Delete("future");
  batch.Put("again", "v", kT0 - 1);
  batch.Put("again", "v");  // no time: exists
  batch.Delete("again");
  std::vector<Status> results;
  ASSERT_TRUE(e->Write(batch, &results).ok());
  EXPECT_TRUE(results[1].IsNotFound());
  EXPECT_TRUE(results[3].ok());
  EXPECT_TRUE(results[6].ok());
  e.reset();
  // Each delete took its put's index entry along; "again"'s first one was already stale (a
  // put reads no earlier time), left for ScanExpired to drop.
  Raw raw = ReadRaw();
  EXPECT_TRUE(raw.keys.empty());
  EXPECT_EQ(raw.index, (std::set<std::pair<int64_t, std::string>>{{kT0 - 1, "again"}}));
}

TEST_F(RocksDbExpiryTest, FlushDbRemovesKeysWithTimesAndTheirEntriesGoLater) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(Put(*e, EncodeDbKey(1, "a"), "v", kT0 + 10).ok());
  ASSERT_TRUE(Put(*e, EncodeDbKey(2, "b"), "v", kT0 + 10).ok());
  ASSERT_TRUE(DeletePrefix(*e, DbKeyPrefix(1)).ok());
  EXPECT_TRUE(e->Read(EncodeDbKey(1, "a"), false).status().IsNotFound());
  ASSERT_TRUE(e->Read(EncodeDbKey(2, "b"), false).ok());
  now_ = kT0 + 10;
  ExpiredScan scan = e->ScanExpired(10);
  EXPECT_EQ(scan.visited, 2u);
  EXPECT_EQ(scan.keys, std::vector<std::string>{EncodeDbKey(2, "b")});
  EXPECT_EQ(e->ScanExpired(10).visited, 1u);  // db 1's stale entry was dropped
  e.reset();
  EXPECT_EQ(ReadRaw().index,
            (std::set<std::pair<int64_t, std::string>>{{kT0 + 10, EncodeDbKey(2, "b")}}));
}

TEST_F(RocksDbExpiryTest, FlushAllEmptiesTheIndex) {
  {
    auto e = Open();
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(Put(*e, EncodeDbKey(0, "a"), "v", kT0 + 10).ok());
    ASSERT_TRUE(Put(*e, EncodeDbKey(7, "b"), "v", INT64_MAX).ok());
    ASSERT_TRUE(DeletePrefix(*e, "").ok());
    now_ = kT0 + 10;
    EXPECT_EQ(e->ScanExpired(10).visited, 0u);
  }
  ExpectNothingStored();
}

// A database written before expiry existed: key_format "2", no "kvs_expiry", plain values.
TEST_F(RocksDbExpiryTest, DatabaseFromBeforeExpiryOpensAndReadsTheSame) {
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    o.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> families{
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {std::string(kRocksMetaFamily), rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, RocksPath(), families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[1], std::string(kRocksKeyFormatKey),
                        std::string(kRocksKeyFormatNoExpiry))
                    .ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), EncodeDbKey(0, "old"), "value").ok());
    ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), EncodeDbKey(0, "wal"), "w").ok());
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  }
  {
    auto e = Open();
    ASSERT_NE(e, nullptr);
    Result<StoredValue> old = e->Read(EncodeDbKey(0, "old"), false);
    ASSERT_TRUE(old.ok()) << old.status().ToString();
    EXPECT_EQ(old->value, "value");
    EXPECT_EQ(old->expire_at_ms, kNoExpiry);
    EXPECT_EQ(e->Get(EncodeDbKey(0, "wal")).value(), "w");
    EXPECT_EQ(e->ScanExpired(10).visited, 0u);
    ASSERT_TRUE(Put(*e, EncodeDbKey(0, "old"), "value", kT0 + 1).ok());  // EXPIRE on it
    EXPECT_EQ(e->Read(EncodeDbKey(0, "old"), false)->expire_at_ms, kT0 + 1);
  }
  // Marked "3": a kvs without expiry refuses the database rather than ignore the times.
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), RocksPath(), &names).ok());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"default", "kvs_expiry", "kvs_meta"}));
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (const std::string& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  ASSERT_TRUE(
      rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), RocksPath(), families, &handles, &raw)
          .ok());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string format;
  EXPECT_TRUE(
      db->Get(rocksdb::ReadOptions(), handles[2], std::string(kRocksKeyFormatKey), &format).ok());
  EXPECT_EQ(format, kRocksKeyFormatCurrent);
  for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
}

// Entities this version did not write are Corruption, not a wrong value or time.
TEST_F(RocksDbExpiryTest, DamagedEntityIsCorruption) {
  {
    auto e = Open();
    ASSERT_NE(e, nullptr);
  }
  {
    WithRawDb([](rocksdb::DB* db, rocksdb::ColumnFamilyHandle* h) {
      if (h->GetName() != rocksdb::kDefaultColumnFamilyName) return;
      ASSERT_TRUE(db->PutEntity(rocksdb::WriteOptions(), db->DefaultColumnFamily(), "short",
                                {{rocksdb::kDefaultWideColumnName, "v"}, {"exp", "1234"}})
                      .ok());
      ASSERT_TRUE(db->PutEntity(rocksdb::WriteOptions(), db->DefaultColumnFamily(), "unknown",
                                {{rocksdb::kDefaultWideColumnName, "v"}, {"zzz", "1"}})
                      .ok());
    });
  }
  auto e = Open();
  ASSERT_NE(e, nullptr);
  Result<StoredValue> short_time = e->Read("short", false);
  EXPECT_TRUE(short_time.status().IsCorruption());
  EXPECT_THAT(short_time.status().ToString(), HasSubstr("4 bytes"));
  EXPECT_TRUE(e->Read("unknown", false).status().IsCorruption());
  EXPECT_TRUE(e->ForEach([](std::string_view, std::string_view, int64_t) {
                 return Status::Ok();
               }).IsCorruption());
}

TEST(RocksExpiryFormatTest, IndexKeysSortByTimeAndRejectDamage) {
  std::string a;
  std::string b;
  AppendExpiryIndexKey(255, "zzz", &a);
  AppendExpiryIndexKey(256, "a", &b);
  EXPECT_LT(a, b);
  EXPECT_LT(ExpiryIndexTimeBound(256), b);
  EXPECT_LT(b, std::string(kRocksExpiryIndexEnd));
  std::string max;
  AppendExpiryIndexKey(INT64_MAX, "k", &max);
  EXPECT_LT(max, std::string(kRocksExpiryIndexEnd));
  int64_t t = 0;
  std::string_view key;
  ASSERT_TRUE(DecodeExpiryIndexKey(b, &t, &key));
  EXPECT_EQ(t, 256);
  EXPECT_EQ(key, "a");
  EXPECT_FALSE(DecodeExpiryIndexKey(b.substr(0, 8), &t, &key));  // no key
  std::string negative = b;
  negative[0] = '\x80';
  EXPECT_FALSE(DecodeExpiryIndexKey(negative, &t, &key));
}

}  // namespace
}  // namespace kvs
