// LogStore over data written by an earlier kvs, before Redis databases: records without
// kKeyHasDb and version 1 hints hold bare user keys, which must be served as db 0's engine
// keys ("\x00" + key) by every path that reads them (scan, hints, repair, compaction,
// lookups), and be rewritten in the current form by compaction and repair.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "store/db_key.h"
#include "store/hint_file.h"
#include "store/legacy_format.h"
#include "store/log_store.h"
#include "store/record.h"
#include "store/segment_reader.h"
#include "store/test_util.h"

namespace kvs {
namespace {

namespace fs = std::filesystem;
using log_format::kBatchEnd;
using log_format::kBatchStart;
using log_format::Kind;
using testing::AppendLegacyRecord;
using ::testing::HasSubstr;
using testing::ReadWholeFile;
using testing::TempDir;

constexpr uint8_t kWhole = kBatchStart | kBatchEnd;

std::string Db0(std::string_view user_key) { return EncodeDbKey(0, user_key); }

// A record as stored in a segment.
struct Stored {
  uint64_t offset;
  Kind kind;
  bool key_has_db;
  std::string key;
};

std::vector<Stored> RecordsOf(const std::string& path) {
  std::vector<Stored> out;
  auto file = Env::Default()->Open(path, OpenMode::kRead);
  EXPECT_TRUE(file.ok());
  if (!file.ok()) return out;
  SegmentReader reader(**file, fs::file_size(path));
  for (uint64_t off = 0;;) {
    Result<SegmentReader::Item> item = reader.ReadAt(off);
    if (!item.ok() || item->outcome != SegmentReader::Outcome::kRecord) break;
    const RecordHeader& h = item->record.header;
    out.push_back(Stored{off, h.kind(), h.key_has_db(), std::string(item->record.key)});
    off += h.record_size();
  }
  return out;
}

class LegacyStoreTest : public ::testing::Test {
 protected:
  // The data directory of an earlier kvs: closed segment 1.log (exactly as long as its
  // records) and active segment 2.log, with batches, overwrites, removals, a key of the old
  // 64 KiB limit and one that starts with a zero byte.
  void WriteLegacyStore() {
    std::string one;
    auto add = [&](uint64_t seq, Kind kind, uint8_t flags, std::string_view key,
                   std::string_view value) {
      offsets_[std::string(key) + "@" + std::to_string(seq)] = one.size();
      AppendLegacyRecord(&one, seq, kind, flags, key, value);
    };
    add(1, Kind::kPut, kWhole, "a", "1");
    add(2, Kind::kPut, kWhole, "b", "2");
    add(3, Kind::kPut, kBatchStart, "c", "3");  // a batch of three
    add(4, Kind::kPut, 0, "d", "4");
    add(5, Kind::kTombstone, kBatchEnd, "b", "");
    add(6, Kind::kPut, kWhole, "e", "5");
    add(7, Kind::kPut, kWhole, big_key_, "big");
    add(8, Kind::kPut, kWhole, std::string("\0x", 2), "nul");
    add(9, Kind::kPut, kWhole, "z", "last");  // the segment's last bytes
    std::string two;
    AppendLegacyRecord(&two, 10, Kind::kPut, kWhole, "a", "11");
    AppendLegacyRecord(&two, 11, Kind::kTombstone, kWhole, "e", "");
    std::ofstream(dir_.File("1.log"), std::ios::binary) << one;
    std::ofstream(dir_.File("2.log"), std::ios::binary) << two;
    expected_ = {{Db0("a"), "11"},       {Db0("c"), "3"},          {Db0("d"), "4"},
                 {Db0(big_key_), "big"}, {Db0({"\0x", 2}), "nul"}, {Db0("z"), "last"}};
  }

  Options MakeOptions() {
    Options o;
    o.data_dir = dir_.path();
    o.segment_bytes = 1 << 20;
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

  // Every key the store has, through ForEach, and each one's Get.
  static std::map<std::string, std::string> Contents(LogStore& store) {
    std::map<std::string, std::string> got;
    EXPECT_TRUE(store
                    .ForEach([&](std::string_view k, std::string_view v, int64_t) {
                      got.emplace(k, v);
                      return Status::Ok();
                    })
                    .ok());
    for (const auto& [key, value] : got) {
      Result<std::string> r = store.Get(key);
      EXPECT_TRUE(r.ok() && *r == value) << key.size() << " bytes: " << r.status().ToString();
    }
    return got;
  }

  void ExpectEverythingInTheCurrentForm() {
    for (const auto& e : fs::directory_iterator(dir_.path())) {
      const std::string name = e.path().filename().string();
      if (name.ends_with(".log")) {
        for (const Stored& r : RecordsOf(e.path().string())) {
          EXPECT_TRUE(r.kind == Kind::kMeta || r.key_has_db) << name << " @" << r.offset;
        }
      } else if (name.ends_with(".hint")) {
        EXPECT_TRUE(ReadWholeFile(e.path().string()).starts_with(log_format::kHintMagic)) << name;
      }
    }
  }

  TempDir dir_;
  const std::string big_key_ = std::string(kMaxUserKeyBytes, 'K');
  std::map<std::string, uint64_t> offsets_;  // "key@seq" -> offset in 1.log
  std::map<std::string, std::string> expected_;
  std::vector<std::string> warnings_;
};

TEST_F(LegacyStoreTest, RecordsOfAnEarlierKvsAreServedAsDb0Keys) {
  WriteLegacyStore();
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Contents(*store), expected_);
  EXPECT_EQ(store->Stats().keys, expected_.size());
  // The bare key is not an engine key of anything that was written.
  EXPECT_TRUE(store->Get("a").status().IsNotFound());
  EXPECT_TRUE(store->Get(Db0("b")).status().IsNotFound());  // removed
  EXPECT_TRUE(store->Get(Db0("e")).status().IsNotFound());  // removed in the other segment
  // From the page cache too (or WouldBlock, never a wrong answer).
  Result<std::string> cached = store->GetCached(Db0("z"));
  EXPECT_TRUE(cached.ok() ? *cached == "last" : cached.status().IsWouldBlock())
      << cached.status().ToString();
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(LegacyStoreTest, NewWritesReplaceAndRemoveKeysOfAnEarlierKvs) {
  WriteLegacyStore();
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Set(Db0("a"), "new-a").ok());
    ASSERT_TRUE(store->Remove(Db0("c")).ok());
    EXPECT_TRUE(store->Remove(Db0("b")).IsNotFound());
    ASSERT_TRUE(store->Set(EncodeDbKey(1, "a"), "db1").ok());
    EXPECT_EQ(store->Get(Db0("a")).value(), "new-a");
  }
  // 2.log, the active segment, now holds records of both forms.
  std::vector<Stored> two = RecordsOf(dir_.File("2.log"));
  ASSERT_EQ(two.size(), 5u);
  EXPECT_FALSE(two[0].key_has_db);
  EXPECT_TRUE(two[2].key_has_db);
  EXPECT_EQ(two[2].key, Db0("a"));

  auto store = Open();
  ASSERT_NE(store, nullptr);
  expected_[Db0("a")] = "new-a";
  expected_.erase(Db0("c"));
  expected_[EncodeDbKey(1, "a")] = "db1";
  EXPECT_EQ(Contents(*store), expected_);
}

TEST_F(LegacyStoreTest, Version1HintOfAnEarlierKvsIsUsed) {
  WriteLegacyStore();
  {
    auto segment = Env::Default()->Open(dir_.File("1.log"), OpenMode::kRead);
    auto hint = Env::Default()->Open(dir_.File("1.hint"), OpenMode::kCreateNew);
    ASSERT_TRUE(segment.ok() && hint.ok());
    ASSERT_TRUE(WriteSegmentHint(**segment, std::move(hint).value()).ok());
  }
  testing::MakeHintVersion1(dir_.File("1.hint"));
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->recovery_stats().segments_from_hints, 1u);
  EXPECT_EQ(Contents(*store), expected_);
  EXPECT_TRUE(warnings_.empty()) << warnings_.front();
}

TEST_F(LegacyStoreTest, HintWrittenForASegmentOfAnEarlierKvsKeepsItsKeys) {
  WriteLegacyStore();
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->recovery_stats().segments_scanned, 2u);
    ASSERT_TRUE(store->WriteHints().ok());  // 1.log had none
  }
  ASSERT_TRUE(fs::exists(dir_.File("1.hint")));
  EXPECT_TRUE(ReadWholeFile(dir_.File("1.hint")).starts_with(log_format::kHintMagic));
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->recovery_stats().segments_from_hints, 1u);
  EXPECT_EQ(Contents(*store), expected_);
}

TEST_F(LegacyStoreTest, CompactionKeepsEveryKeyAndRewritesThemInTheCurrentForm) {
  WriteLegacyStore();
  {
    auto store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->Set(Db0("new"), "n").ok());
    ASSERT_TRUE(store->Set(Db0("d"), "new-d").ok());  // a legacy key overwritten
    ASSERT_TRUE(store->Set(EncodeDbKey(3, ""), "empty key of db 3").ok());
    expected_[Db0("new")] = "n";
    expected_[Db0("d")] = "new-d";
    expected_[EncodeDbKey(3, "")] = "empty key of db 3";
    ASSERT_TRUE(store->Compact().ok());
    EXPECT_EQ(Contents(*store), expected_);
    // Every live byte is accounted for again: the copies are of the exact size planned.
    const EngineStats stats = store->Stats();
    EXPECT_EQ(stats.dead_bytes, 0u);
  }
  EXPECT_FALSE(fs::exists(dir_.File("1.log")));
  EXPECT_FALSE(fs::exists(dir_.File("2.log")));
  ExpectEverythingInTheCurrentForm();
  auto store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Contents(*store), expected_);
  EXPECT_TRUE(warnings_.empty()) << warnings_.front();
}

TEST_F(LegacyStoreTest, RepairKeepsRecordsOfAnEarlierKvsAsDb0Keys) {
  WriteLegacyStore();
  // Damage d's value: the middle record of a batch in the closed segment.
  {
    std::fstream f(dir_.File("1.log"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(offsets_.at("d@4") + log_format::kHeaderSize + 1));
    f.put('X');
  }
  auto refused = LogStore::Open(MakeOptions());
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsCorruption());
  Options o = MakeOptions();
  o.repair = true;
  {
    auto store = Open(o);
    ASSERT_NE(store, nullptr);
    expected_.erase(Db0("d"));  // its only record was damaged
    EXPECT_EQ(Contents(*store), expected_);
    ASSERT_EQ(warnings_.size(), 1u);
    EXPECT_THAT(warnings_[0], HasSubstr("kept 8 records"));
  }
  // The repaired segment holds its records in the current form, the tombstone of b too.
  std::vector<Stored> one = RecordsOf(dir_.File("1.log"));
  ASSERT_EQ(one.size(), 8u);
  for (const Stored& r : one) EXPECT_TRUE(r.key_has_db) << r.offset;
  EXPECT_EQ(one[3].kind, Kind::kTombstone);
  EXPECT_EQ(one[3].key, Db0("b"));
  auto store = Open();  // no repair needed any more
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(Contents(*store), expected_);
}

}  // namespace
}  // namespace kvs
