#include "store/hint_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "store/engine.h"
#include "store/legacy_format.h"
#include "store/record.h"
#include "store/test_util.h"

namespace kvs {
namespace {

using log_format::kBatchEnd;
using log_format::kBatchStart;
using log_format::Kind;
using ::testing::HasSubstr;
using testing::ReadWholeFile;

struct Owned {
  std::string key;
  Kind kind;
  uint64_t seq, offset;
  uint32_t value_len;
  bool key_has_db;
  int64_t expire_at_ms = 0;
};

class HintFileTest : public ::testing::Test {
 protected:
  void WriteHint(uint64_t segment_size, int entries) {
    auto f = Env::Default()->Open(path_, OpenMode::kCreateNew);
    ASSERT_TRUE(f.ok());
    HintWriter w(std::move(f).value());
    for (int i = 0; i < entries; ++i) {
      const std::string key = "key" + std::to_string(i);
      ASSERT_TRUE(w.Add(HintEntry{key, Kind::kPut, 100u + i, 30u * i, 7}).ok());
    }
    EXPECT_EQ(w.count(), static_cast<uint64_t>(entries));
    ASSERT_TRUE(w.Finish(segment_size).ok());
  }
  // Replaces the hint with one holding only `e`, describing a 1 MiB segment.
  void WriteOne(const HintEntry& e) {
    std::filesystem::remove(path_);
    auto f = Env::Default()->Open(path_, OpenMode::kCreateNew);
    ASSERT_TRUE(f.ok());
    HintWriter w(std::move(f).value());
    ASSERT_TRUE(w.Add(e).ok());
    ASSERT_TRUE(w.Finish(1 << 20).ok());
  }
  Status Read(uint64_t segment_size, std::vector<Owned>* out) {
    auto f = Env::Default()->Open(path_, OpenMode::kRead);
    if (!f.ok()) return f.status();
    return ReadHintFile(**f, segment_size, [&](const HintEntry& e) {
      out->push_back(Owned{std::string(e.key), e.kind, e.seq, e.offset, e.value_len, e.key_has_db,
                           e.expire_at_ms});
    });
  }

  testing::TempDir dir_;
  const std::string path_ = dir_.File("7.hint");
};

TEST_F(HintFileTest, RoundTrips) {
  WriteHint(5000, 100);
  std::vector<Owned> got;
  ASSERT_TRUE(Read(5000, &got).ok());
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got[42].key, "key42");
  EXPECT_EQ(got[42].seq, 142u);
  EXPECT_EQ(got[42].offset, 30u * 42);
  EXPECT_EQ(got[42].value_len, 7u);
  EXPECT_EQ(got[42].kind, Kind::kPut);
}

TEST_F(HintFileTest, PrefixTombstoneEntriesRoundTrip) {
  {
    auto f = Env::Default()->Open(path_, OpenMode::kCreateNew);
    ASSERT_TRUE(f.ok());
    HintWriter w(std::move(f).value());
    HintEntry flush_all{"", Kind::kTombstone, 5, 0, 0};
    flush_all.key_is_prefix = true;
    HintEntry flush_db{"\x02", Kind::kTombstone, 6, 21, 0};
    flush_db.key_is_prefix = true;
    ASSERT_TRUE(w.Add(flush_all).ok());
    ASSERT_TRUE(w.Add(flush_db).ok());
    ASSERT_TRUE(w.Add(HintEntry{"\x02k", Kind::kTombstone, 7, 43, 0}).ok());
    ASSERT_TRUE(w.Finish(100).ok());
  }
  auto f = Env::Default()->Open(path_, OpenMode::kRead);
  ASSERT_TRUE(f.ok());
  std::vector<std::pair<std::string, bool>> got;
  ASSERT_TRUE(ReadHintFile(**f, 100, [&](const HintEntry& e) {
                got.emplace_back(std::string(e.key), e.key_is_prefix);
              }).ok());
  EXPECT_EQ(got, (std::vector<std::pair<std::string, bool>>{
                     {"", true}, {"\x02", true}, {"\x02k", false}}));
}

TEST_F(HintFileTest, EmptyHintRoundTrips) {
  WriteHint(40, 0);
  std::vector<Owned> got;
  EXPECT_TRUE(Read(40, &got).ok());
  EXPECT_TRUE(got.empty());
}

TEST_F(HintFileTest, EveryFlippedByteIsCorruptionAndYieldsNothing) {
  WriteHint(5000, 5);
  const std::string good = *ReadFile(Env::Default(), path_);
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    ASSERT_TRUE(WriteFileAtomic(Env::Default(), dir_.path(), "7.hint", bad).ok());
    std::vector<Owned> got;
    Status s = Read(5000, &got);
    EXPECT_TRUE(s.IsCorruption()) << "byte " << i;
    EXPECT_TRUE(got.empty()) << "byte " << i;
  }
}

TEST_F(HintFileTest, TruncatedHintIsCorruption) {
  WriteHint(5000, 5);
  std::filesystem::resize_file(path_, std::filesystem::file_size(path_) - 1);
  std::vector<Owned> got;
  Status s = Read(5000, &got);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_THAT(s.ToString(), HasSubstr("7.hint"));
}

TEST_F(HintFileTest, HintOfADifferentSegmentSizeIsRejected) {
  WriteHint(5000, 5);
  std::vector<Owned> got;
  Status s = Read(5001, &got);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_THAT(s.ToString(), HasSubstr("5000"));
  EXPECT_TRUE(got.empty());
}

TEST_F(HintFileTest, EntriesAcrossManyChunksRoundTrip) {
  // Keys from 1 byte to the 64 KiB limit: ~3 MiB of entries, many of them straddling the
  // reader's 1 MiB chunks.
  auto f = Env::Default()->Open(path_, OpenMode::kCreateNew);
  ASSERT_TRUE(f.ok());
  HintWriter w(std::move(f).value());
  std::vector<std::string> keys;
  for (int i = 0; i < 3000; ++i) {
    const size_t len = i % 100 == 99 ? 65536 : 1 + (i * 37) % 700;
    keys.push_back(std::string(len, static_cast<char>('a' + i % 26)) + std::to_string(i));
    keys.back().resize(len);
    ASSERT_TRUE(w.Add(HintEntry{keys.back(), i % 7 == 0 ? Kind::kTombstone : Kind::kPut, 1u + i,
                                100u * i, i % 7 == 0 ? 0u : 9u})
                    .ok());
  }
  const uint64_t segment_size = uint64_t{1} << 30;
  ASSERT_TRUE(w.Finish(segment_size).ok());
  ASSERT_GT(std::filesystem::file_size(path_), 2u << 20);
  std::vector<Owned> got;
  ASSERT_TRUE(Read(segment_size, &got).ok());
  ASSERT_EQ(got.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ(got[i].key, keys[i]) << i;
    EXPECT_EQ(got[i].seq, 1u + i);
    EXPECT_EQ(got[i].offset, 100u * i);
    EXPECT_EQ(got[i].kind, i % 7 == 0 ? Kind::kTombstone : Kind::kPut);
  }
}

TEST_F(HintFileTest, MalformedLastEntryYieldsNothingEvenAfterMegabytesOfGoodOnes) {
  // A valid checksum over a bad entry (a writer's bug): all or nothing still holds.
  auto f = Env::Default()->Open(path_, OpenMode::kCreateNew);
  ASSERT_TRUE(f.ok());
  HintWriter w(std::move(f).value());
  const std::string key(1000, 'k');
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(w.Add(HintEntry{key, Kind::kPut, 1u + i, 0, 5}).ok());
  }
  ASSERT_TRUE(w.Add(HintEntry{key, Kind::kTombstone, 9999, 0, 5}).ok());  // tombstone with a value
  ASSERT_TRUE(w.Finish(1 << 20).ok());
  std::vector<Owned> got;
  Status s = Read(1 << 20, &got);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_THAT(s.ToString(), HasSubstr("malformed entry"));
  EXPECT_TRUE(got.empty());
}

TEST_F(HintFileTest, EntryCountComesFromTheTrailer) {
  WriteHint(5000, 5);
  auto f = Env::Default()->Open(path_, OpenMode::kRead);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(HintEntryCount(**f).value(), 5u);
  ASSERT_TRUE(WriteFileAtomic(Env::Default(), dir_.path(), "7.hint", "short").ok());
  f = Env::Default()->Open(path_, OpenMode::kRead);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(HintEntryCount(**f).value(), 0u);
}

// Entries of records of an earlier kvs (bare user keys) keep saying so.
TEST_F(HintFileTest, DbKeyFlagRoundTripsPerEntry) {
  {
    auto f = Env::Default()->Open(path_, OpenMode::kCreateNew);
    ASSERT_TRUE(f.ok());
    HintWriter w(std::move(f).value());
    ASSERT_TRUE(w.Add(HintEntry{"\x02new", Kind::kPut, 1, 0, 3}).ok());
    ASSERT_TRUE(w.Add(HintEntry{"old", Kind::kTombstone, 2, 30, 0, /*key_has_db=*/false}).ok());
    ASSERT_TRUE(w.Add(HintEntry{"old2", Kind::kPut, 3, 60, 3, /*key_has_db=*/false}).ok());
    ASSERT_TRUE(w.Finish(5000).ok());
  }
  EXPECT_TRUE(ReadWholeFile(path_).starts_with("KVSHINT2"));
  std::vector<Owned> got;
  ASSERT_TRUE(Read(5000, &got).ok());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[0].key_has_db);
  EXPECT_FALSE(got[1].key_has_db);
  EXPECT_EQ(got[1].kind, Kind::kTombstone);
  EXPECT_FALSE(got[2].key_has_db);
  EXPECT_EQ(got[2].key, "old2");
}

TEST_F(HintFileTest, Version1HintsOfAnEarlierKvsAreRead) {
  {
    auto f = Env::Default()->Open(path_, OpenMode::kCreateNew);
    ASSERT_TRUE(f.ok());
    HintWriter w(std::move(f).value());
    ASSERT_TRUE(w.Add(HintEntry{"a", Kind::kPut, 1, 0, 3, false}).ok());
    ASSERT_TRUE(w.Add(HintEntry{"b", Kind::kTombstone, 2, 30, 0, false}).ok());
    ASSERT_TRUE(w.Finish(5000).ok());
  }
  testing::MakeHintVersion1(path_);
  EXPECT_TRUE(ReadWholeFile(path_).starts_with("KVSHINT1"));
  std::vector<Owned> got;
  ASSERT_TRUE(Read(5000, &got).ok());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key, "a");
  EXPECT_FALSE(got[0].key_has_db);
  EXPECT_EQ(got[1].kind, Kind::kTombstone);
}

TEST_F(HintFileTest, Version1HintWithADbKeyIsMalformed) {
  // No earlier kvs set the flag: a version 1 file that has it was not written by one.
  WriteHint(5000, 3);
  testing::MakeHintVersion1(path_);
  std::vector<Owned> got;
  Status s = Read(5000, &got);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_THAT(s.ToString(), HasSubstr("malformed entry"));
  EXPECT_TRUE(got.empty());
}

TEST_F(HintFileTest, KeyLimitDependsOnTheDbKeyFlag) {
  const std::string user_key_limit(kMaxUserKeyBytes, 'k');
  const std::string over(kMaxUserKeyBytes + 1, 'k');
  std::vector<Owned> got;
  WriteOne(HintEntry{user_key_limit, Kind::kPut, 1, 0, 0, false});
  EXPECT_TRUE(Read(1 << 20, &got).ok());
  WriteOne(HintEntry{over, Kind::kPut, 1, 0, 0, false});  // longer than an earlier kvs allowed
  EXPECT_TRUE(Read(1 << 20, &got).IsCorruption());
  WriteOne(HintEntry{over, Kind::kPut, 1, 0, 0, true});
  EXPECT_TRUE(Read(1 << 20, &got).ok());
}

// An entry with an expiry time: the record's flags and the put's time.
HintEntry Expiring(std::string_view key, uint64_t seq, uint64_t offset, int64_t at) {
  HintEntry e{key, Kind::kPut, seq, offset, 8 + 3};
  e.expire_at_ms = at;
  return e;
}

TEST_F(HintFileTest, ExpiryTimesRoundTripPerEntry) {
  {
    auto f = Env::Default()->Open(path_, OpenMode::kCreateNew);
    ASSERT_TRUE(f.ok());
    HintWriter w(std::move(f).value());
    ASSERT_TRUE(w.Add(Expiring("\x01"
                               "a",
                               1, 0, 1'700'000'000'123))
                    .ok());
    ASSERT_TRUE(w.Add(HintEntry{"\x01"
                                "b",
                                Kind::kPut, 2, 40, 3})
                    .ok());
    ASSERT_TRUE(w.Add(Expiring("\x01"
                               "c",
                               3, 80, 1))
                    .ok());
    ASSERT_TRUE(w.Finish(5000).ok());
  }
  // The magic stays: an earlier kvs rejects the entries by their kind byte instead.
  EXPECT_TRUE(ReadWholeFile(path_).starts_with("KVSHINT2"));
  std::vector<Owned> got;
  ASSERT_TRUE(Read(5000, &got).ok());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].expire_at_ms, 1'700'000'000'123);
  EXPECT_EQ(got[0].value_len, 11u);
  EXPECT_EQ(got[1].expire_at_ms, 0);
  EXPECT_EQ(got[1].key,
            "\x01"
            "b");
  EXPECT_EQ(got[2].expire_at_ms, 1);
  EXPECT_EQ(got[2].offset, 80u);
}

TEST_F(HintFileTest, AnExpiryTimeWhereNoRecordHasOneIsMalformed) {
  std::vector<Owned> got;
  HintEntry tombstone{
      "\x01"
      "k",
      Kind::kTombstone, 1, 0, 0};
  tombstone.expire_at_ms = 5;
  WriteOne(tombstone);
  EXPECT_TRUE(Read(1 << 20, &got).IsCorruption());
  HintEntry bare = Expiring("k", 1, 0, 5);
  bare.key_has_db = false;  // a key of an earlier kvs never had a time
  WriteOne(bare);
  EXPECT_TRUE(Read(1 << 20, &got).IsCorruption());
  HintEntry short_value = Expiring(
      "\x01"
      "k",
      1, 0, 5);
  short_value.value_len = 7;  // no room for the time in the record
  WriteOne(short_value);
  EXPECT_TRUE(Read(1 << 20, &got).IsCorruption());
  WriteOne(
      Expiring("\x01"
               "k",
               1, 0, -1));
  EXPECT_TRUE(Read(1 << 20, &got).IsCorruption());
  EXPECT_TRUE(got.empty());
}

TEST_F(HintFileTest, Version1HintWithAnExpiryTimeIsMalformed) {
  {
    auto f = Env::Default()->Open(path_, OpenMode::kCreateNew);
    ASSERT_TRUE(f.ok());
    HintWriter w(std::move(f).value());
    HintEntry e = Expiring("k", 1, 0, 5);
    e.key_has_db = false;
    ASSERT_TRUE(w.Add(e).ok());
    ASSERT_TRUE(w.Finish(5000).ok());
  }
  testing::MakeHintVersion1(path_);
  std::vector<Owned> got;
  EXPECT_TRUE(Read(5000, &got).IsCorruption());
  EXPECT_TRUE(got.empty());
}

class SegmentHintWriterTest : public HintFileTest {
 protected:
  // Writes `records` as segment 3.log and its hint as 7.hint.
  Status WriteFrom(const std::string& records) {
    EXPECT_TRUE(WriteFileAtomic(Env::Default(), dir_.path(), "3.log", records).ok());
    auto segment = Env::Default()->Open(dir_.File("3.log"), OpenMode::kRead);
    auto out = Env::Default()->Open(path_, OpenMode::kCreateNew);
    EXPECT_TRUE(segment.ok() && out.ok());
    return WriteSegmentHint(**segment, std::move(out).value());
  }
};

TEST_F(SegmentHintWriterTest, ListsEveryRecordOfCompleteBatchesButTheMetaRecord) {
  std::string seg;
  AppendRecord(&seg, log_format::kMetaSeq, Kind::kMeta, kBatchStart | kBatchEnd,
               log_format::kMetaKey, EncodeCompactionMeta(CompactionMeta{3, 0, 1}));
  const uint64_t first = seg.size();
  AppendRecord(&seg, 10, Kind::kPut, kBatchStart, "a", "value-a");
  const uint64_t second = seg.size();
  AppendRecord(&seg, 11, Kind::kTombstone, 0, "b", "");
  AppendRecord(&seg, 12, Kind::kPut, kBatchEnd, "c", "vc");
  ASSERT_TRUE(WriteFrom(seg).ok());
  std::vector<Owned> got;
  ASSERT_TRUE(Read(seg.size(), &got).ok());
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].key, "a");
  EXPECT_EQ(got[0].offset, first);
  EXPECT_EQ(got[0].value_len, 7u);
  EXPECT_EQ(got[1].key, "b");
  EXPECT_EQ(got[1].kind, Kind::kTombstone);
  EXPECT_EQ(got[1].offset, second);
  EXPECT_EQ(got[2].seq, 12u);
}

TEST_F(SegmentHintWriterTest, EntriesOfRecordsOfAnEarlierKvsSaySo) {
  std::string seg;
  testing::AppendLegacyRecord(&seg, 10, Kind::kPut, kBatchStart | kBatchEnd, "old", "1");
  AppendRecord(&seg, 11, Kind::kPut, kBatchStart | kBatchEnd, std::string("\0new", 4), "2");
  ASSERT_TRUE(WriteFrom(seg).ok());
  std::vector<Owned> got;
  ASSERT_TRUE(Read(seg.size(), &got).ok());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].key, "old");  // as stored
  EXPECT_FALSE(got[0].key_has_db);
  EXPECT_TRUE(got[1].key_has_db);
}

TEST_F(SegmentHintWriterTest, EntriesCarryTheRecordsExpiryTimes) {
  std::string seg;
  AppendRecord(&seg, 10, Kind::kPut, kBatchStart, std::string("\0a", 2), "va", 1'234);
  AppendRecord(&seg, 11, Kind::kPut, kBatchEnd, std::string("\0b", 2), "vb");
  ASSERT_TRUE(WriteFrom(seg).ok());
  std::vector<Owned> got;
  ASSERT_TRUE(Read(seg.size(), &got).ok());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].expire_at_ms, 1'234);
  EXPECT_EQ(got[0].value_len, 2u + 8u);  // the record's field
  EXPECT_EQ(got[1].expire_at_ms, 0);
  EXPECT_EQ(got[1].value_len, 2u);
}

TEST_F(SegmentHintWriterTest, RefusesABatchCutShort) {
  std::string seg;
  AppendRecord(&seg, 10, Kind::kPut, kBatchStart | kBatchEnd, "a", "1");
  AppendRecord(&seg, 11, Kind::kPut, kBatchStart, "b", "2");  // its end never came
  Status s = WriteFrom(seg);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_THAT(s.ToString(), HasSubstr("cut short"));
}

TEST_F(SegmentHintWriterTest, RefusesADamagedRecord) {
  std::string seg;
  AppendRecord(&seg, 10, Kind::kPut, kBatchStart | kBatchEnd, "a", "1");
  AppendRecord(&seg, 11, Kind::kPut, kBatchStart | kBatchEnd, "b", "2");
  seg[seg.size() - 1] ^= 1;
  Status s = WriteFrom(seg);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_THAT(s.ToString(), HasSubstr("3.log"));
}

}  // namespace
}  // namespace kvs
