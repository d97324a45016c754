// Unit tests of the cluster's log-entry and snapshot formats and of --peers parsing.

#include "raft/entry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "raft/peers.h"
#include "store/coding.h"
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
    for (const auto& [k, v] : pairs) KVS_RETURN_IF_ERROR(fn(k, v, kNoExpiry));
    return Status::Ok();
  });
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(snap->size() % 8, 0u);
  MemberAddresses got_members;
  std::map<std::string, std::string> got;
  ASSERT_TRUE(
      DecodeSnapshot(*snap, &got_members, [&](std::string_view k, std::string_view v, int64_t) {
        got.emplace(k, v);
        return Status::Ok();
      }).ok());
  EXPECT_EQ(got_members, members);
  EXPECT_EQ(got, pairs);
  for (size_t n : {size_t{0}, size_t{7}, size_t{20}, snap->size() - 9}) {
    EXPECT_TRUE(
        DecodeSnapshot(snap->substr(0, n), &got_members,
                       [](std::string_view, std::string_view, int64_t) { return Status::Ok(); })
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

// A snapshot as versions before expiry wrote it: `magic` ("KVSSNAP1" or "KVSSNAP2"), pairs
// without expiry times.
std::string LegacySnapshot(std::string_view magic, const MemberAddresses& members,
                           const std::map<std::string, std::string>& pairs) {
  std::string out(magic);
  char b[8];
  PutFixed32(b, static_cast<uint32_t>(members.size()));
  out.append(b, 4);
  for (const auto& [id, address] : members) {
    PutFixed64(b, id);
    out.append(b, 8);
    out.push_back(static_cast<char>(address.size() & 0xff));
    out.push_back(static_cast<char>(address.size() >> 8));
    out.append(address);
  }
  PutFixed64(b, pairs.size());
  out.append(b, 8);
  for (const auto& [k, v] : pairs) {
    PutFixed32(b, static_cast<uint32_t>(k.size()));
    out.append(b, 4);
    PutFixed32(b, static_cast<uint32_t>(v.size()));
    out.append(b, 4);
    out.append(k);
    out.append(v);
  }
  out.resize((out.size() + 7) / 8 * 8, '\0');
  return out;
}

struct Pair {
  std::string value;
  int64_t expire_at_ms = kNoExpiry;
  friend bool operator==(const Pair&, const Pair&) = default;
};

Status DecodeInto(std::string_view bytes, MemberAddresses* members,
                  std::map<std::string, Pair>* got) {
  got->clear();
  return DecodeSnapshot(bytes, members, [&](std::string_view k, std::string_view v, int64_t t) {
    got->emplace(k, Pair{std::string(v), t});
    return Status::Ok();
  });
}

TEST(EntryTest, SnapshotOfAnEarlierVersionDecodesWithoutExpiry) {
  const MemberAddresses members{{2, "127.0.0.1:2"}};
  const std::map<std::string, std::string> pairs{{"a", "1"}, {std::string(300, 'k'), ""}};
  for (const bool v1 : {false, true}) {
    const std::string bytes = LegacySnapshot(v1 ? "KVSSNAP1" : "KVSSNAP2", members, pairs);
    MemberAddresses got_members;
    std::map<std::string, Pair> got;
    ASSERT_TRUE(DecodeInto(bytes, &got_members, &got).ok()) << v1;
    EXPECT_EQ(got_members, members);
    std::map<std::string, Pair> want;
    for (const auto& [k, v] : pairs) want[v1 ? EncodeDbKey(0, k) : k] = Pair{v, kNoExpiry};
    EXPECT_EQ(got, want) << v1;
    for (size_t n : {size_t{0}, size_t{12}, bytes.size() - 9}) {
      EXPECT_TRUE(DecodeInto(bytes.substr(0, n), &got_members, &got).IsCorruption()) << n;
    }
  }
  std::string unknown = LegacySnapshot("KVSSNAP9", members, pairs);
  MemberAddresses m;
  std::map<std::string, Pair> got;
  EXPECT_TRUE(DecodeInto(unknown, &m, &got).IsCorruption());
}

// ---- Expiry -------------------------------------------------------------------------------

TEST(EntryTest, BatchWithExpiryRoundTripsAsV3) {
  WriteBatch batch;
  batch.Put("ttl", "v", 1'700'000'000'123);
  batch.Put("plain", "w");
  batch.Delete("gone");
  batch.DeletePrefix(DbKeyPrefix(2));
  batch.Put("far", "x", INT64_MAX);
  const std::string bytes = EncodeBatchEntry(3, 9, batch);
  EXPECT_EQ(bytes.size() % 8, 0u);
  Result<Entry> e = DecodeEntry(bytes);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(e->type, EntryType::kBatchV3);
  EXPECT_EQ(e->proposer, 3u);
  EXPECT_EQ(e->token, 9u);
  ASSERT_EQ(e->batch.size(), 5u);
  const std::vector<WriteBatch::Op>& ops = e->batch.ops();
  EXPECT_EQ(ops[0].kind, WriteBatch::OpKind::kPut);
  EXPECT_EQ(ops[0].key, "ttl");
  EXPECT_EQ(ops[0].value, "v");
  EXPECT_EQ(ops[0].expire_at_ms, 1'700'000'000'123);
  EXPECT_EQ(ops[1].value, "w");
  EXPECT_EQ(ops[1].expire_at_ms, kNoExpiry);
  EXPECT_EQ(ops[2].kind, WriteBatch::OpKind::kDelete);
  EXPECT_EQ(ops[2].key, "gone");
  EXPECT_EQ(ops[2].expire_at_ms, kNoExpiry);
  EXPECT_EQ(ops[3].kind, WriteBatch::OpKind::kDeletePrefix);
  EXPECT_EQ(ops[3].key, DbKeyPrefix(2));
  EXPECT_EQ(ops[4].expire_at_ms, INT64_MAX);
}

// Batches without TTLs keep the earlier encoding: a node not yet upgraded applies them.
TEST(EntryTest, BatchWithoutExpiryIsStillV2) {
  WriteBatch batch;
  batch.Put("k", "v");
  batch.Delete("d");
  const std::string bytes = EncodeBatchEntry(1, 1, batch);
  EXPECT_EQ(bytes[0], static_cast<char>(EntryType::kBatchV2));
  EXPECT_EQ(bytes.size(), (1 + 8 + 8 + 4 + 9 + 1 + 1 + 9 + 1 + 7) / 8 * 8);
}

TEST(EntryTest, EveryTruncationOfAV3BatchIsCorruption) {
  WriteBatch batch;
  batch.Put("key", "value", 42);
  batch.Delete("k2");
  const std::string bytes = EncodeBatchEntry(1, 1, batch);
  const size_t unpadded = 1 + 8 + 8 + 4 + (9 + 3 + 5 + 8) + (9 + 2);
  ASSERT_EQ(bytes.size(), (unpadded + 7) / 8 * 8);
  for (size_t n = 0; n < unpadded; ++n) {
    EXPECT_TRUE(DecodeEntry(bytes.substr(0, n)).status().IsCorruption()) << n;
  }
  EXPECT_TRUE(DecodeEntry(bytes + std::string(8, '\0')).status().IsCorruption());
  // The same bytes read as a V2 batch: the expiry time is taken for the next op's header.
  std::string as_v2 = bytes;
  as_v2[0] = static_cast<char>(EntryType::kBatchV2);
  EXPECT_TRUE(DecodeEntry(as_v2).status().IsCorruption());
}

TEST(EntryTest, V3ExpiryTimeAbove2To63IsCorruption) {
  WriteBatch batch;
  batch.Put("key", "value", 1);
  std::string bytes = EncodeBatchEntry(1, 1, batch);
  const size_t expire_at = 1 + 8 + 8 + 4 + 9 + 3 + 5;
  ASSERT_EQ(bytes[expire_at], 1);
  bytes[expire_at + 7] = static_cast<char>(0x80);  // the top bit of the u64
  Result<Entry> e = DecodeEntry(bytes);
  EXPECT_TRUE(e.status().IsCorruption());
  EXPECT_THAT(e.status().ToString(), ::testing::HasSubstr("negative expiry"));
}

TEST(EntryTest, SnapshotCarriesExpiryTimes) {
  const MemberAddresses members{{1, "127.0.0.1:1"}};
  const std::map<std::string, Pair> pairs{{"a", {"1", 1'700'000'000'000}},
                                          {"b", {"", kNoExpiry}},
                                          {std::string(300, 'k'), {"v", INT64_MAX}}};
  Result<std::string> snap = EncodeSnapshot(members, [&](const SnapshotPairFn& fn) {
    for (const auto& [k, p] : pairs) KVS_RETURN_IF_ERROR(fn(k, p.value, p.expire_at_ms));
    return Status::Ok();
  });
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  ASSERT_TRUE(snap->starts_with("KVSSNAP3"));
  EXPECT_EQ(snap->size() % 8, 0u);
  MemberAddresses got_members;
  std::map<std::string, Pair> got;
  ASSERT_TRUE(DecodeInto(*snap, &got_members, &got).ok());
  EXPECT_EQ(got_members, members);
  EXPECT_EQ(got, pairs);
  // Up to the last pair's value: every cut is Corruption.
  const size_t unpadded = 8 + 4 + (8 + 2 + 11) + 8 + 3 * 16 + (1 + 1) + 1 + (300 + 1);
  ASSERT_EQ(snap->size(), (unpadded + 7) / 8 * 8);
  for (size_t n = 0; n < unpadded; ++n) {
    EXPECT_TRUE(DecodeInto(snap->substr(0, n), &got_members, &got).IsCorruption()) << n;
  }
}

TEST(EntryTest, SnapshotExpiryAbove2To63IsCorruptionAndNegativeIsRefused) {
  Result<std::string> snap =
      EncodeSnapshot({}, [](const SnapshotPairFn& fn) { return fn("k", "v", 5); });
  ASSERT_TRUE(snap.ok());
  std::string bytes = *snap;
  const size_t expire_at = 8 + 4 + 8 + 4 + 4;
  ASSERT_EQ(bytes[expire_at], 5);
  bytes[expire_at + 7] = static_cast<char>(0xff);
  MemberAddresses m;
  std::map<std::string, Pair> got;
  EXPECT_TRUE(DecodeInto(bytes, &m, &got).IsCorruption());
  EXPECT_TRUE(EncodeSnapshot({}, [](const SnapshotPairFn& fn) { return fn("k", "v", -1); })
                  .status()
                  .IsInvalidArgument());
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
