#include "store/record.h"

#include <gtest/gtest.h>

#include <string>

#include "store/engine.h"

namespace kvs {
namespace {

using log_format::kBatchEnd;
using log_format::kBatchStart;
using log_format::kHeaderSize;
using log_format::Kind;
using log_format::kKeyHasDb;

RecordView Decode(const std::string& bytes) {
  RecordHeader h;
  EXPECT_EQ(DecodeHeader(bytes, &h), HeaderCheck::kOk);
  EXPECT_EQ(h.record_size(), bytes.size());
  RecordView v;
  EXPECT_TRUE(VerifyRecord(bytes, h, &v));
  return v;
}

TEST(RecordTest, PutRoundTrips) {
  std::string buf;
  AppendRecord(&buf, 42, Kind::kPut, kBatchStart | kBatchEnd, "key", "value");
  ASSERT_EQ(buf.size(), kHeaderSize + 3 + 5);
  RecordView v = Decode(buf);
  EXPECT_EQ(v.header.seq, 42u);
  EXPECT_EQ(v.header.kind(), Kind::kPut);
  EXPECT_TRUE(v.header.batch_start());
  EXPECT_TRUE(v.header.batch_end());
  EXPECT_EQ(v.key, "key");
  EXPECT_EQ(v.value, "value");
}

TEST(RecordTest, TombstoneRoundTrips) {
  std::string buf;
  AppendRecord(&buf, 7, Kind::kTombstone, kBatchStart, "gone", "");
  RecordView v = Decode(buf);
  EXPECT_EQ(v.header.kind(), Kind::kTombstone);
  EXPECT_TRUE(v.header.batch_start());
  EXPECT_FALSE(v.header.batch_end());
  EXPECT_EQ(v.value, "");
}

TEST(RecordTest, PrefixTombstoneRoundTripsWithAnyPrefixEvenAnEmptyOne) {
  for (std::string_view prefix : {std::string_view(""), std::string_view("\x01")}) {
    std::string buf;
    AppendRecord(&buf, 9, Kind::kTombstone, kBatchStart | kBatchEnd | log_format::kKeyIsPrefix,
                 prefix, "");
    RecordView v = Decode(buf);
    EXPECT_EQ(v.header.kind(), Kind::kTombstone);
    EXPECT_TRUE(v.header.key_is_prefix());
    EXPECT_TRUE(v.header.key_has_db());
    EXPECT_EQ(v.key, prefix);
  }
  // An empty key is a prefix tombstone's only.
  std::string put;
  AppendRecord(&put, 9, Kind::kPut, kBatchStart | kBatchEnd, "", "v");
  RecordHeader h;
  EXPECT_EQ(DecodeHeader(put, &h), HeaderCheck::kImplausible);
}

TEST(RecordTest, BinaryKeyAndValue) {
  const std::string key("k\0\xff\n", 4);
  const std::string value("\0\0\x01\x80 v", 6);
  std::string buf;
  AppendRecord(&buf, 1, Kind::kPut, kBatchStart | kBatchEnd, key, value);
  RecordView v = Decode(buf);
  EXPECT_EQ(v.key, key);
  EXPECT_EQ(v.value, value);
}

TEST(RecordTest, LayoutIsLittleEndianAsDocumented) {
  std::string buf;
  AppendRecord(&buf, 0x0102030405060708ull, Kind::kPut, kBatchStart | kBatchEnd, "ab", "xyz");
  EXPECT_EQ(static_cast<unsigned char>(buf[4]), 0x08);  // seq, low byte first
  EXPECT_EQ(static_cast<unsigned char>(buf[11]), 0x01);
  EXPECT_EQ(static_cast<unsigned char>(buf[12]), 0xe1);  // put | key has db | start | end
  EXPECT_EQ(static_cast<unsigned char>(buf[13]), 2);     // key length
  EXPECT_EQ(static_cast<unsigned char>(buf[17]), 3);     // value length
  EXPECT_EQ(buf.substr(21), "abxyz");
}

TEST(RecordTest, ZeroHeaderIsRecognised) {
  std::string zeros(kHeaderSize, '\0');
  RecordHeader h;
  EXPECT_EQ(DecodeHeader(zeros, &h), HeaderCheck::kZero);
}

TEST(RecordTest, ImplausibleHeadersAreRejected) {
  std::string good;
  AppendRecord(&good, 5, Kind::kPut, kBatchStart | kBatchEnd, "k", "v");
  RecordHeader h;
  auto with = [&](size_t pos, char byte) {
    std::string b = good;
    b[pos] = byte;
    return DecodeHeader(b, &h);
  };
  EXPECT_EQ(with(12, 0x00), HeaderCheck::kImplausible);  // type 0 is reserved
  EXPECT_EQ(with(12, 0x03), HeaderCheck::kOk);           // kind 3: a compaction meta record
  EXPECT_EQ(with(12, 0x23), HeaderCheck::kImplausible);  // a meta record has no db key
  EXPECT_EQ(with(12, 0x21), HeaderCheck::kOk);           // put, key with its database
  EXPECT_EQ(with(12, 0x01), HeaderCheck::kOk);           // put of an earlier kvs
  EXPECT_EQ(with(12, 0x31), HeaderCheck::kImplausible);  // unknown flag bit (0x10)
  EXPECT_EQ(with(12, 0x29), HeaderCheck::kImplausible);  // only a tombstone is a prefix (0x08)
  EXPECT_EQ(with(12, 0x2a), HeaderCheck::kImplausible);  // a tombstone with a value
  EXPECT_EQ(with(12, 0x05), HeaderCheck::kImplausible);  // unknown flag bit (0x04)
  EXPECT_EQ(with(13, 0x00), HeaderCheck::kImplausible);  // empty key
  EXPECT_EQ(with(16, 0x7f), HeaderCheck::kImplausible);  // key length past the limit
  EXPECT_EQ(with(20, 0x7f), HeaderCheck::kImplausible);  // value length past the limit

  std::string tomb;
  AppendRecord(&tomb, 5, Kind::kTombstone, kBatchStart | kBatchEnd, "k", "");
  tomb[17] = 1;  // a tombstone with a value
  EXPECT_EQ(DecodeHeader(tomb, &h), HeaderCheck::kImplausible);
}

TEST(RecordTest, PutsAndTombstonesCarryTheDbKeyFlagAndMetaRecordsDoNot) {
  std::string put, tomb, meta;
  AppendRecord(&put, 1, Kind::kPut, kBatchStart | kBatchEnd, "k", "v");
  AppendRecord(&tomb, 1, Kind::kTombstone, 0, "k", "");
  AppendRecord(&meta, log_format::kMetaSeq, Kind::kMeta, kBatchStart | kBatchEnd | kKeyHasDb,
               log_format::kMetaKey, EncodeCompactionMeta(CompactionMeta{1, 0, 1}));
  EXPECT_TRUE(Decode(put).header.key_has_db());
  EXPECT_TRUE(Decode(tomb).header.key_has_db());
  EXPECT_FALSE(Decode(meta).header.key_has_db());
  EXPECT_EQ(static_cast<unsigned char>(meta[12]), 0xc3);
}

// Records of an earlier kvs (no kKeyHasDb) hold bare user keys, at most kMaxUserKeyBytes.
TEST(RecordTest, RecordsOfAnEarlierVersionHaveTheOldKeyLimit) {
  RecordHeader h;
  auto header = [](uint8_t type, uint32_t key_len) {
    std::string b(kHeaderSize, '\0');
    b[4] = 1;  // seq 1
    b[12] = static_cast<char>(type);
    for (int i = 0; i < 4; ++i) b[13 + i] = static_cast<char>(key_len >> (8 * i));
    return b;
  };
  EXPECT_EQ(DecodeHeader(header(0xc1, kMaxUserKeyBytes), &h), HeaderCheck::kOk);
  EXPECT_EQ(DecodeHeader(header(0xc1, kMaxUserKeyBytes + 1), &h), HeaderCheck::kImplausible);
  EXPECT_EQ(DecodeHeader(header(0xe1, kMaxKeyBytes), &h), HeaderCheck::kOk);
  EXPECT_EQ(DecodeHeader(header(0xe1, kMaxKeyBytes + 1), &h), HeaderCheck::kImplausible);
}

TEST(RecordTest, StoredKeysStandForEngineKeys) {
  std::string scratch;
  EXPECT_EQ(EngineKeyOf(true, "\x03k", &scratch), "\x03k");
  EXPECT_EQ(EngineKeyOf(false, "k", &scratch), std::string("\0k", 2));
  EXPECT_TRUE(StoredKeyIs(true, "\x03k", "\x03k"));
  EXPECT_TRUE(StoredKeyIs(false, "k", std::string("\0k", 2)));
  EXPECT_FALSE(StoredKeyIs(false, "k", "k"));
  EXPECT_FALSE(StoredKeyIs(false, "k", "\x01k"));
  EXPECT_FALSE(StoredKeyIs(true, "k", std::string("\0k", 2)));
}

TEST(RecordTest, CompactionMetaRoundTrips) {
  const CompactionMeta meta{17, 2, 5};
  const std::string value = EncodeCompactionMeta(meta);
  ASSERT_EQ(value.size(), log_format::kMetaValueSize);
  CompactionMeta back;
  ASSERT_TRUE(DecodeCompactionMeta(value, &back));
  EXPECT_EQ(back.first_output, 17u);
  EXPECT_EQ(back.output_index, 2u);
  EXPECT_EQ(back.output_count, 5u);
  EXPECT_EQ(back.segment_id(), 19u);
  std::string rec;
  AppendRecord(&rec, log_format::kMetaSeq, Kind::kMeta, kBatchStart | kBatchEnd,
               log_format::kMetaKey, value);
  EXPECT_EQ(rec.size(), kMetaRecordSize);
  EXPECT_EQ(Decode(rec).header.kind(), Kind::kMeta);
}

TEST(RecordTest, MalformedCompactionMetaIsRejected) {
  CompactionMeta out;
  std::string value = EncodeCompactionMeta(CompactionMeta{17, 2, 5});
  EXPECT_FALSE(DecodeCompactionMeta(value.substr(1), &out));                   // short
  EXPECT_FALSE(DecodeCompactionMeta(EncodeCompactionMeta({17, 5, 5}), &out));  // i >= N
  EXPECT_FALSE(DecodeCompactionMeta(EncodeCompactionMeta({0, 0, 1}), &out));   // id 0
  EXPECT_FALSE(DecodeCompactionMeta(EncodeCompactionMeta({17, 0, 0}), &out));  // N = 0
  value[0] = 9;                                                                // version
  EXPECT_FALSE(DecodeCompactionMeta(value, &out));
}

TEST(RecordTest, EveryFlippedBitFailsTheChecksum) {
  std::string good;
  AppendRecord(&good, 9, Kind::kPut, kBatchStart | kBatchEnd, "key", "value");
  for (size_t i = 0; i < good.size() * 8; ++i) {
    std::string b = good;
    b[i / 8] = static_cast<char>(b[i / 8] ^ (1 << (i % 8)));
    RecordHeader h;
    if (DecodeHeader(b, &h) != HeaderCheck::kOk || h.record_size() != b.size()) continue;
    RecordView v;
    EXPECT_FALSE(VerifyRecord(b, h, &v)) << "bit " << i;
  }
}

// ---- Expiry times (log_format::kHasExpiry) --------------------------------------------------

const std::string kKey("\0k", 2);  // db 0's engine key "k"

TEST(RecordExpiryTest, ARecordCarriesItsExpiryTimeBeforeItsValue) {
  std::string buf;
  AppendRecord(&buf, 7, log_format::Kind::kPut, log_format::kBatchStart | log_format::kBatchEnd,
               kKey, "value", 1'700'000'000'005);
  RecordHeader h;
  ASSERT_EQ(DecodeHeader(buf, &h), HeaderCheck::kOk);
  EXPECT_TRUE(h.has_expiry());
  EXPECT_EQ(h.value_len, 5u + 8u);
  RecordView v;
  ASSERT_TRUE(VerifyRecord(buf, h, &v));
  EXPECT_EQ(v.value, "value");
  EXPECT_EQ(v.expire_at_ms, 1'700'000'000'005);
  // Without an expiry time: the record of before, byte for byte.
  std::string plain;
  AppendRecord(&plain, 7, log_format::Kind::kPut, log_format::kBatchStart | log_format::kBatchEnd,
               kKey, "value");
  EXPECT_EQ(plain.size(), buf.size() - 8);
  ASSERT_EQ(DecodeHeader(plain, &h), HeaderCheck::kOk);
  EXPECT_FALSE(h.has_expiry());
}

TEST(RecordExpiryTest, TheExpiryFlagIsImplausibleWhereNoWriterPutsIt) {
  auto with_type = [](uint8_t type, uint32_t value_len) {
    std::string buf;
    AppendRecord(&buf, 1, log_format::Kind::kPut, 0, kKey, std::string(value_len, 'v'));
    buf[log_format::kTypeOffset] = static_cast<char>(type);
    RecordHeader h;
    return DecodeHeader(buf, &h);
  };
  using namespace log_format;  // NOLINT(google-build-using-namespace): the flags
  const uint8_t put = static_cast<uint8_t>(Kind::kPut);
  const uint8_t tomb = static_cast<uint8_t>(Kind::kTombstone);
  EXPECT_EQ(with_type(put | kHasExpiry | kKeyHasDb, 8), HeaderCheck::kOk);
  EXPECT_EQ(with_type(put | kHasExpiry | kKeyHasDb, 7), HeaderCheck::kImplausible);  // no room
  EXPECT_EQ(with_type(put | kHasExpiry, 8), HeaderCheck::kImplausible);  // a bare (old) key
  EXPECT_EQ(with_type(tomb | kHasExpiry | kKeyHasDb, 0), HeaderCheck::kImplausible);
}

TEST(RecordExpiryTest, ARecordWithAnImpossibleExpiryTimeIsDamage) {
  std::string buf;
  AppendRecord(&buf, 1, log_format::Kind::kPut, 0, kKey, "v", -5);
  RecordHeader h;
  ASSERT_EQ(DecodeHeader(buf, &h), HeaderCheck::kOk);
  RecordView v;
  EXPECT_FALSE(VerifyRecord(buf, h, &v));
}

}  // namespace
}  // namespace kvs
