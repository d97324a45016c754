// RocksDbEngine over a database of an earlier kvs (bare user keys, no "kvs_meta" family):
// the one-time conversion to db 0's engine keys at open, its marker, and its resumption
// after a stop at every step (store/rocksdb_key_format.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <rocksdb/db.h>
#include <rocksdb/metadata.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "store/db_key.h"
#include "store/engine.h"
#include "store/rocksdb_engine.h"
#include "store/rocksdb_key_format.h"
#include "store/test_util.h"

namespace kvs {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;
using Pairs = std::map<std::string, std::string>;

class RocksDbMigrationTest : public ::testing::Test {
 protected:
  std::string RocksPath() const { return dir_.File(std::string(kRocksDbSubdir)); }

  Options MakeOptions() {
    Options o;
    o.data_dir = dir_.path();
    o.on_warning = [this](std::string_view w) { warnings_.emplace_back(w); };
    return o;
  }

  // The database an earlier kvs left: RocksDB opened directly, default family only.
  void WriteOldDatabase(const Pairs& pairs) {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, RocksPath(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    for (const auto& [k, v] : pairs) ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), k, v).ok());
    // Some in table files, some only in the WAL, as a running server leaves them.
    ASSERT_TRUE(db->Flush(rocksdb::FlushOptions()).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "wal-only", "w").ok());
  }

  static Pairs OldPairs() {
    Pairs p;
    for (int i = 0; i < 200; ++i) p["key" + std::to_string(i)] = "value" + std::to_string(i);
    p[std::string("\0starts-with-zero", 17)] = "z";
    p[std::string(kMaxUserKeyBytes, 'K')] = "longest key an earlier kvs took";
    p["empty-value"] = "";
    p["\xff\xff"] = "last in order";
    return p;
  }
  // What the engine must hold after converting OldPairs().
  static Pairs Converted() {
    Pairs p;
    for (const auto& [k, v] : OldPairs()) p[EncodeDbKey(0, k)] = v;
    p[EncodeDbKey(0, "wal-only")] = "w";
    return p;
  }

  static Pairs Contents(Engine& e) {
    Pairs got;
    EXPECT_TRUE(e.ForEach([&](std::string_view k, std::string_view v, int64_t) {
                   got.emplace(k, v);
                   return Status::Ok();
                 }).ok());
    return got;
  }

  // The column families on disk, and kvs_meta's key_format ("" if absent).
  std::pair<std::vector<std::string>, std::string> Meta() {
    std::vector<std::string> names;
    EXPECT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), RocksPath(), &names).ok());
    std::sort(names.begin(), names.end());
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    for (const std::string& n : names) families.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    EXPECT_TRUE(
        rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), RocksPath(), families, &handles, &raw)
            .ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    std::string format;
    for (rocksdb::ColumnFamilyHandle* h : handles) {
      if (h->GetName() == kRocksMetaFamily) {
        (void)db->Get(rocksdb::ReadOptions(), h, std::string(kRocksKeyFormatKey), &format);
      }
      (void)db->DestroyColumnFamilyHandle(h);
    }
    return {names, format};
  }

  // Entries (puts and deletes) in the default family's table files, once flushed.
  uint64_t DataTableEntries() {
    rocksdb::DB* raw = nullptr;
    rocksdb::Options o;
    std::vector<rocksdb::ColumnFamilyDescriptor> families{
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {std::string(kRocksMetaFamily), rocksdb::ColumnFamilyOptions()},
        {std::string(kRocksExpiryFamily), rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    EXPECT_TRUE(rocksdb::DB::Open(o, RocksPath(), families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    EXPECT_TRUE(db->Flush(rocksdb::FlushOptions(), handles[0]).ok());
    rocksdb::ColumnFamilyMetaData meta;
    db->GetColumnFamilyMetaData(handles[0], &meta);
    uint64_t entries = 0;
    for (const rocksdb::LevelMetaData& level : meta.levels) {
      for (const rocksdb::SstFileMetaData& file : level.files) entries += file.num_entries;
    }
    for (auto* h : handles) EXPECT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    return entries;
  }

  std::unique_ptr<RocksDbEngine> OpenOk() {
    auto r = RocksDbEngine::Open(MakeOptions());
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }

  TempDir dir_;
  std::vector<std::string> warnings_;
};

TEST_F(RocksDbMigrationTest, NewDatabaseIsMarkedAndNeverConverted) {
  {
    auto e = OpenOk();
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(e->Set("\x01user", "1").ok());
    ASSERT_TRUE(e->Set("raw", "2").ok());  // opaque bytes: never converted again
  }
  const auto [families, format] = Meta();
  EXPECT_EQ(families, (std::vector<std::string>{"default", "kvs_expiry", "kvs_meta"}));
  EXPECT_EQ(format, kRocksKeyFormatCurrent);
  auto e = OpenOk();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(Contents(*e), (Pairs{{"\x01user", "1"}, {"raw", "2"}}));
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(RocksDbMigrationTest, DatabaseOfAnEarlierKvsIsConvertedOnce) {
  WriteOldDatabase(OldPairs());
  {
    auto e = OpenOk();
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(Contents(*e), Converted());
    EXPECT_EQ(e->Get(EncodeDbKey(0, "key7")).value(), "value7");
    EXPECT_TRUE(e->Get("key7").status().IsNotFound());
    ASSERT_TRUE(e->Set(EncodeDbKey(0, "after"), "a").ok());
  }
  ASSERT_EQ(warnings_.size(), 2u);
  EXPECT_THAT(warnings_[0], HasSubstr("earlier kvs"));
  EXPECT_THAT(warnings_[1], HasSubstr(std::to_string(Converted().size()) + " moved"));
  const auto [families, format] = Meta();
  EXPECT_EQ(families,
            (std::vector<std::string>{"default", "kvs_expiry", "kvs_meta"}));  // kvs_migrate gone
  EXPECT_EQ(format, kRocksKeyFormatCurrent);
  // The old copies were compacted away: the table files hold the converted pairs, and the
  // one written after, only.
  EXPECT_EQ(DataTableEntries(), Converted().size() + 1);

  warnings_.clear();
  auto e = OpenOk();  // the second start converts nothing
  ASSERT_NE(e, nullptr);
  Pairs want = Converted();
  want[EncodeDbKey(0, "after")] = "a";
  EXPECT_EQ(Contents(*e), want);
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(RocksDbMigrationTest, EmptyDatabaseOfAnEarlierKvsIsOnlyMarked) {
  WriteOldDatabase({});
  {
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(rocksdb::Options(), RocksPath(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Delete(rocksdb::WriteOptions(), "wal-only").ok());
  }
  auto e = OpenOk();
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(Contents(*e).empty());
  EXPECT_TRUE(warnings_.empty());
  EXPECT_EQ(Meta().second, kRocksKeyFormatCurrent);
}

// A start stopped (as a crash would stop it) at each point of the conversion: the next start
// finishes it, with every pair converted exactly once.
TEST_F(RocksDbMigrationTest, StoppedConversionIsFinishedByTheNextStart) {
  for (const std::string point : {"rocksdb.migrate.copied_chunk", "rocksdb.migrate.cleared",
                                  "rocksdb.migrate.moved_chunk", "rocksdb.migrate.marked"}) {
    // The chunk points are reached many times; stop at the first and at a later one.
    const bool once = !point.ends_with("_chunk");
    for (int skip : once ? std::vector<int>{0} : std::vector<int>{0, 3}) {
      SCOPED_TRACE(point + " after " + std::to_string(skip) + " hits");
      std::filesystem::remove_all(dir_.File("rocksdb"));
      WriteOldDatabase(OldPairs());
      RocksMigrationOptions migration;
      migration.chunk_bytes = 1000;  // many chunks
      int hits = 0;
      migration.stop_at = [&](std::string_view at) { return at == point && hits++ == skip; };
      rocksdb::Options o;
      o.create_if_missing = true;
      Result<RocksDatabase> stopped =
          OpenRocksDb(o, rocksdb::ColumnFamilyOptions(o), RocksPath(), migration);
      EXPECT_TRUE(stopped.status().IsAborted()) << stopped.status().ToString();
      EXPECT_EQ(hits, skip + 1);
      auto e = OpenOk();
      ASSERT_NE(e, nullptr);
      EXPECT_EQ(Contents(*e), Converted());
      e.reset();
      EXPECT_EQ(Meta(),
                std::make_pair(std::vector<std::string>{"default", "kvs_expiry", "kvs_meta"},
                               std::string(kRocksKeyFormatCurrent)));
    }
  }
}

TEST_F(RocksDbMigrationTest, UnknownKeyFormatIsRefused) {
  {
    auto e = OpenOk();
    ASSERT_NE(e, nullptr);
  }
  {
    std::vector<rocksdb::ColumnFamilyDescriptor> families{
        {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
        {std::string(kRocksMetaFamily), rocksdb::ColumnFamilyOptions()},
        {std::string(kRocksExpiryFamily), rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), RocksPath(), families, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[1], "key_format", "9").ok());
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
  }
  auto r = RocksDbEngine::Open(MakeOptions());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotSupported()) << r.status().ToString();
  EXPECT_THAT(r.status().ToString(), HasSubstr("'9'"));
}

}  // namespace
}  // namespace kvs
