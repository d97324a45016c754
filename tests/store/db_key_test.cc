#include "store/db_key.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/engine.h"

namespace kvs {
namespace {

void ExpectRoundTrip(uint32_t db, const std::string& user_key) {
  const std::string key = EncodeDbKey(db, user_key);
  EXPECT_EQ(key.size(), DbKeyPrefixSize(db) + user_key.size());
  uint32_t got_db = 12345;
  std::string_view got_key;
  ASSERT_TRUE(DecodeDbKey(key, &got_db, &got_key)) << db;
  EXPECT_EQ(got_db, db);
  EXPECT_EQ(got_key, user_key);
  EXPECT_TRUE(key.starts_with(DbKeyPrefix(db)));
}

bool Decodes(std::string_view key) {
  uint32_t db = 0;
  std::string_view user_key;
  return DecodeDbKey(key, &db, &user_key);
}

TEST(DbKeyTest, RoundTripsEveryPrefixLength) {
  for (uint32_t db : {0u, 1u, 15u, 127u, 128u, 300u, 16383u, 16384u, 2097151u, 2097152u, 268435455u,
                      268435456u, UINT32_MAX}) {
    ExpectRoundTrip(db, "");
    ExpectRoundTrip(db, "k");
    ExpectRoundTrip(db, std::string("\0\x80\xff", 3));
  }
}

TEST(DbKeyTest, LayoutIsLeb128) {
  EXPECT_EQ(EncodeDbKey(0, ""), std::string(1, '\0'));  // the empty key of db 0
  EXPECT_EQ(EncodeDbKey(0, "abc"), std::string("\0abc", 4));
  EXPECT_EQ(EncodeDbKey(15, "k"), "\x0fk");
  EXPECT_EQ(EncodeDbKey(128, "k"), "\x80\x01k");
  EXPECT_EQ(EncodeDbKey(300, ""), "\xac\x02");
  EXPECT_EQ(EncodeDbKey(UINT32_MAX, ""), "\xff\xff\xff\xff\x0f");
  EXPECT_EQ(DbKeyPrefixSize(127), 1u);
  EXPECT_EQ(DbKeyPrefixSize(128), 2u);
  EXPECT_EQ(DbKeyPrefixSize(UINT32_MAX), kMaxDbPrefixBytes);
}

TEST(DbKeyTest, AppendAddsToWhatIsThere) {
  std::string out = "x";
  AppendDbKey(2, "key", &out);
  EXPECT_EQ(out, "x\x02key");
  AppendDbPrefix(300, &out);
  EXPECT_EQ(out, "x\x02key\xac\x02");
}

TEST(DbKeyTest, MalformedVarintsAreRefused) {
  EXPECT_FALSE(Decodes(""));                               // no prefix at all
  EXPECT_FALSE(Decodes("\x80"));                           // cut short
  EXPECT_FALSE(Decodes("\xff\xff"));                       // cut short
  EXPECT_FALSE(Decodes("\x80\x80\x80\x80\x80\x01"));       // longer than 5 bytes
  EXPECT_FALSE(Decodes("\xff\xff\xff\xff\x10"));           // above UINT32_MAX
  EXPECT_FALSE(Decodes("\xff\xff\xff\xff\x7f"));           // above UINT32_MAX
  EXPECT_FALSE(Decodes(std::string("\x80\x00", 2)));       // 0, not in its shortest form
  EXPECT_FALSE(Decodes(std::string("\x81\x80\x00k", 4)));  // 1, not in its shortest form
  EXPECT_TRUE(Decodes(std::string("\x00", 1)));            // db 0, empty key
  EXPECT_TRUE(Decodes(std::string("\x01\x80\x00", 3)));    // the key's bytes are free
}

TEST(DbKeyTest, ADatabaseIsOneRangeOfKeys) {
  for (uint32_t db : {0u, 1u, 127u, 128u, 255u, 16383u, UINT32_MAX - 1}) {
    const std::string begin = DbKeyPrefix(db);
    const std::string end = DbKeyPrefixEnd(db);
    EXPECT_LT(begin, end);
    for (const std::string& user_key : {std::string(), std::string("a"), std::string(70, '\xff')}) {
      const std::string mine = EncodeDbKey(db, user_key);
      EXPECT_TRUE(begin <= mine && mine < end) << db;
      for (uint32_t other : {db - 1, db + 1}) {
        if (other == UINT32_MAX && db == 0) continue;  // db - 1 wrapped
        const std::string theirs = EncodeDbKey(other, user_key);
        EXPECT_FALSE(begin <= theirs && theirs < end) << db << " vs " << other;
      }
    }
  }
}

TEST(DbKeyTest, LimitsLetAFullUserKeyFitInAnyDatabase) {
  EXPECT_EQ(kMaxUserKeyBytes, 64u * 1024);
  EXPECT_EQ(kMaxKeyBytes, kMaxUserKeyBytes + kMaxDbPrefixBytes);
  EXPECT_LE(EncodeDbKey(UINT32_MAX, std::string(kMaxUserKeyBytes, 'k')).size(), kMaxKeyBytes);
}

}  // namespace
}  // namespace kvs
