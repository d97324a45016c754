// Unit tests of the cluster's log-entry and snapshot formats and of --peers parsing.

#include "raft/entry.h"

#include <gtest/gtest.h>

#include <map>

#include "raft/peers.h"
#include "store/db_key.h"

namespace kvs::raft {
namespace {

TEST(EntryTest, BatchRoundTripsAndIsPaddedTo8Bytes) {
  WriteBatch batch;
  batch.Put("k", "value");
  batch.Delete("gone");
  batch.Put(std::string("\0bin\xff", 5), std::string(1000, 'x'));
  const std::string bytes = EncodeBatchEntry(7, 42, batch);
  EXPECT_EQ(bytes.size() % 8, 0u);
  Result<Entry> e = DecodeEntry(bytes);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->type, EntryType::kBatchV2);
  EXPECT_EQ(e->proposer, 7u);
  EXPECT_EQ(e->token, 42u);
  ASSERT_EQ(e->batch.size(), 3u);
  EXPECT_EQ(e->batch.ops()[0].kind, WriteBatch::OpKind::kPut);
  EXPECT_EQ(e->batch.ops()[0].value, "value");
  EXPECT_EQ(e->batch.ops()[1].kind, WriteBatch::OpKind::kDelete);
  EXPECT_EQ(e->batch.ops()[1].key, "gone");
  EXPECT_EQ(e->batch.ops()[2].key, std::string("\0bin\xff", 5));
}

TEST(EntryTest, MemberRoundTrips) {
  Result<Entry> e = DecodeEntry(EncodeMemberEntry(1, 2, 4, "127.0.0.1:4004"));
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->type, EntryType::kMember);
  EXPECT_EQ(e->member_id, 4u);
  EXPECT_EQ(e->member_address, "127.0.0.1:4004");
}

TEST(EntryTest, EveryTruncationAndTrailingGarbageIsCorruption) {
  WriteBatch batch;
  batch.Put("key", "value");
  const std::string bytes = EncodeBatchEntry(1, 1, batch);
  const size_t unpadded = 1 + 8 + 8 + 4 + 9 + 3 + 5;
  for (size_t n = 0; n < unpadded; ++n) {
    EXPECT_TRUE(DecodeEntry(bytes.substr(0, n)).status().IsCorruption()) << n;
  }
  std::string garbage = bytes;
  garbage.back() = 'x';
  EXPECT_TRUE(DecodeEntry(garbage).status().IsCorruption());
  EXPECT_TRUE(DecodeEntry(bytes + std::string(8, '\0')).status().IsCorruption());
  std::string bad_type = bytes;
  bad_type[0] = 9;
  EXPECT_TRUE(DecodeEntry(bad_type).status().IsCorruption());
}

TEST(EntryTest, SnapshotRoundTripsMembersAndPairs) {
  MemberAddresses members{{1, "127.0.0.1:1"}, {3, "127.0.0.1:3"}};
  std::map<std::string, std::string> pairs{{"a", "1"}, {"b", ""}, {std::string(300, 'k'), "v"}};
  Result<std::string> snap = EncodeSnapshot(members, [&](const auto& fn) {
    for (const auto& [k, v] : pairs) KVS_RETURN_IF_ERROR(fn(k, v));
    return Status::Ok();
  });
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->size() % 8, 0u);
  MemberAddresses got_members;
  std::map<std::string, std::string> got;
  ASSERT_TRUE(DecodeSnapshot(*snap, &got_members, [&](std::string_view k, std::string_view v) {
                got.emplace(k, v);
                return Status::Ok();
              }).ok());
  EXPECT_EQ(got_members, members);
  EXPECT_EQ(got, pairs);
  for (size_t n : {size_t{0}, size_t{7}, size_t{20}, snap->size() - 9}) {
    EXPECT_TRUE(DecodeSnapshot(snap->substr(0, n), &got_members,
                               [](std::string_view, std::string_view) { return Status::Ok(); })
                    .IsCorruption())
        << n;
  }
}

// Entries and snapshots of an earlier version have the same layout (type 1, "KVSSNAP1") and
// bare user keys, which mean database 0.
TEST(EntryTest, PrefixDeletesRoundTripButNeverInAnEarlierVersionsBatch) {
  WriteBatch batch;
  batch.DeletePrefix(DbKeyPrefix(3));  // FLUSHDB
  batch.DeletePrefix("");              // FLUSHALL
  std::string bytes = EncodeBatchEntry(7, 42, batch);
  Result<Entry> e = DecodeEntry(bytes);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  ASSERT_EQ(e->batch.size(), 2u);
  EXPECT_EQ(e->batch.ops()[0].kind, WriteBatch::OpKind::kDeletePrefix);
  EXPECT_EQ(e->batch.ops()[0].key, DbKeyPrefix(3));
  EXPECT_EQ(e->batch.ops()[1].kind, WriteBatch::OpKind::kDeletePrefix);
  EXPECT_EQ(e->batch.ops()[1].key, "");
  bytes[0] = static_cast<char>(EntryType::kBatch);  // versions before databases had none
  EXPECT_TRUE(DecodeEntry(bytes).status().IsCorruption());
}

TEST(EntryTest, BatchOfAnEarlierVersionDecodesToDb0Keys) {
  WriteBatch batch;
  batch.Put("k", "value");
  batch.Delete(std::string("\0bin", 4));
  std::string bytes = EncodeBatchEntry(7, 42, batch);
  ASSERT_EQ(bytes[0], static_cast<char>(EntryType::kBatchV2));
  bytes[0] = static_cast<char>(EntryType::kBatch);
  Result<Entry> e = DecodeEntry(bytes);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->type, EntryType::kBatch);
  EXPECT_EQ(e->proposer, 7u);
  ASSERT_EQ(e->batch.size(), 2u);
  EXPECT_EQ(e->batch.ops()[0].kind, WriteBatch::OpKind::kPut);
  EXPECT_EQ(e->batch.ops()[0].key, EncodeDbKey(0, "k"));
  EXPECT_EQ(e->batch.ops()[0].value, "value");
  EXPECT_EQ(e->batch.ops()[1].kind, WriteBatch::OpKind::kDelete);
  EXPECT_EQ(e->batch.ops()[1].key, EncodeDbKey(0, std::string("\0bin", 4)));
}

TEST(EntryTest, BatchKeysAreEngineKeysAsTheyAre) {
  WriteBatch batch;
  batch.Put(EncodeDbKey(3, ""), "empty key of db 3");
  Result<Entry> e = DecodeEntry(EncodeBatchEntry(1, 1, batch));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->type, EntryType::kBatchV2);
  EXPECT_EQ(e->batch.ops()[0].key, EncodeDbKey(3, ""));
}

TEST(EntryTest, SnapshotOfAnEarlierVersionDecodesToDb0Keys) {
  const MemberAddresses members{{2, "127.0.0.1:2"}};
  const std::map<std::string, std::string> pairs{{"a", "1"}, {std::string(300, 'k'), ""}};
  Result<std::string> snap = EncodeSnapshot(members, [&](const auto& fn) {
    for (const auto& [k, v] : pairs) KVS_RETURN_IF_ERROR(fn(k, v));
    return Status::Ok();
  });
  ASSERT_TRUE(snap.ok());
  ASSERT_TRUE(snap->starts_with("KVSSNAP2"));
  for (const bool legacy : {false, true}) {
    std::string bytes = *snap;
    if (legacy) bytes.replace(0, 8, "KVSSNAP1");
    MemberAddresses got_members;
    std::map<std::string, std::string> got;
    ASSERT_TRUE(DecodeSnapshot(bytes, &got_members, [&](std::string_view k, std::string_view v) {
                  got.emplace(k, v);
                  return Status::Ok();
                }).ok());
    EXPECT_EQ(got_members, members);
    std::map<std::string, std::string> want;
    for (const auto& [k, v] : pairs) want[legacy ? EncodeDbKey(0, k) : k] = v;
    EXPECT_EQ(got, want) << legacy;
  }
  std::string unknown = *snap;
  unknown[7] = '3';
  MemberAddresses m;
  EXPECT_TRUE(DecodeSnapshot(unknown, &m, [](std::string_view, std::string_view) {
                return Status::Ok();
              }).IsCorruption());
}

TEST(PeersTest, ParsesAndRejectsWithClearErrors) {
  Result<std::vector<Peer>> p = ParsePeers("1=127.0.0.1:4001/127.0.0.1:5001,2=h:1/h:2");
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0], (Peer{1, "127.0.0.1:4001", "127.0.0.1:5001"}));
  EXPECT_EQ((*p)[1].ToString(), "2=h:1/h:2");
  EXPECT_TRUE(ParsePeers("").status().IsInvalidArgument());
  EXPECT_NE(ParsePeers("0=h:1/h:2").status().message().find("above 0"), std::string_view::npos);
  EXPECT_NE(ParsePeers("1=h:1").status().message().find("expected"), std::string_view::npos);
  EXPECT_NE(ParsePeers("1=h:1/h:0").status().message().find("HOST:PORT"), std::string_view::npos);
  EXPECT_NE(ParsePeers("1=h:1/h:2,1=h:3/h:4").status().message().find("twice"),
            std::string_view::npos);
  EXPECT_NE(ParsePeers("1=h:1/h:2,2=h:1/h:4").status().message().find("twice"),
            std::string_view::npos);
}

}  // namespace
}  // namespace kvs::raft
