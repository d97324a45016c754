// LogStore expiry beyond the Engine contract (engine_expiry_conformance_test.cc): expiry
// times on disk and in hint files, recovery and compaction of expired records (the
// bitcask#82-style resurrection cases), repair, the LogWriter path, space accounting, and
// clocks that jump. The clock is the test's.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "store/db_key.h"
#include "store/log_store.h"
#include "store/record.h"
#include "store/test_util.h"

namespace kvs {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr int64_t kStart = 1'700'000'000'000;

class LogStoreExpiryTest : public ::testing::Test {
 protected:
  Options MakeOptions() {
    Options o;
    o.data_dir = dir_.path();
    o.fsync = FsyncPolicy::kNever;
    o.segment_bytes = 4096;
    o.background_compaction = false;
    o.zero_fill_ahead_bytes = 0;
    o.on_warning = [this](std::string_view w) { warnings_.emplace_back(w); };
    // A fresh ExpiryClock each open: what a restarted server has.
    o.clock = std::make_shared<ExpiryClock>([this] { return now_.load(); });
    return o;
  }
  std::unique_ptr<LogStore> Open(const Options& o) {
    auto r = LogStore::Open(o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::unique_ptr<LogStore> Open() { return Open(MakeOptions()); }

  static std::string K(std::string_view user_key) { return EncodeDbKey(0, user_key); }
  static Status Put(LogStore& s, std::string_view key, std::string_view value, int64_t at) {
    WriteBatch b;
    b.Put(key, value, at);
    std::vector<Status> results;
    return s.Write(b, &results);
  }
  static std::string GetOr(LogStore& s, std::string_view key) {
    auto r = s.Get(key);
    return r.ok() ? r.value() : r.status().IsNotFound() ? "<none>" : r.status().ToString();
  }
  // Fills the active segment with other keys until it rolls: what came before is closed.
  static void Roll(LogStore& s, const std::string& tag) {
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(s.Set(K(tag + std::to_string(i)), std::string(1500, 'f')).ok());
    }
  }

  TempDir dir_;
  std::atomic<int64_t> now_{kStart};
  std::vector<std::string> warnings_;
};

TEST_F(LogStoreExpiryTest, AStartFromHintsKnowsEveryExpiryTime) {
  {
    auto s = Open();
    ASSERT_TRUE(Put(*s, K("a"), "1", kStart + 1000).ok());
    ASSERT_TRUE(Put(*s, K("b"), "2", kStart + 2000).ok());
    ASSERT_TRUE(s->Set(K("c"), "3").ok());
    Roll(*s, "fill");
    ASSERT_TRUE(s->WriteHints().ok());
  }
  auto s = Open();
  EXPECT_GE(s->recovery_stats().segments_from_hints, 1u);
  EXPECT_EQ(s->Read(K("a"), false)->expire_at_ms, kStart + 1000);
  EXPECT_EQ(s->Read(K("b"), false)->expire_at_ms, kStart + 2000);
  EXPECT_EQ(s->Read(K("c"), false)->expire_at_ms, kNoExpiry);
  EXPECT_EQ(s->KeysPerDb()->at(0), (DbKeyCount{6, 2}));
  // The scan of the same segments agrees.
  s.reset();
  for (const auto& e : fs::directory_iterator(dir_.path())) {
    if (e.path().extension() == ".hint") fs::remove(e.path());
  }
  s = Open();
  EXPECT_EQ(s->recovery_stats().segments_from_hints, 0u);
  EXPECT_EQ(s->Read(K("a"), false)->expire_at_ms, kStart + 1000);
  EXPECT_EQ(s->Read(K("c"), false)->expire_at_ms, kNoExpiry);
}

TEST_F(LogStoreExpiryTest, AnExpiredPutShadowsOlderValuesAtRecovery) {
  // Old value in an early segment, newer value with a TTL in a later one: once the TTL has
  // passed, a start must not let the old value reappear, from hints or from a scan.
  for (bool hints : {true, false}) {
    SCOPED_TRACE(hints ? "hints" : "scan");
    TempDir fresh;
    Options o = MakeOptions();
    o.data_dir = fresh.path();
    now_ = kStart;
    {
      auto s = Open(o);
      ASSERT_TRUE(s->Set(K("k"), "old").ok());
      Roll(*s, "a");
      ASSERT_TRUE(Put(*s, K("k"), "new", kStart + 100).ok());
      Roll(*s, "b");
      if (hints) {
        ASSERT_TRUE(s->WriteHints().ok());
      }
    }
    now_ = kStart + 200;
    {
      auto s = Open(o);
      EXPECT_EQ(GetOr(*s, K("k")), "<none>");
      EXPECT_EQ(s->Stats().keys, 6u);  // dropped from the index, not only hidden
    }
  }
}

TEST_F(LogStoreExpiryTest, CompactionKeepsExpiryTimesInRecordsAndHints) {
  {
    auto s = Open();
    ASSERT_TRUE(Put(*s, K("ttl"), "v", kStart + 5000).ok());
    ASSERT_TRUE(s->Set(K("plain"), "p").ok());
    Roll(*s, "x");
    ASSERT_TRUE(s->Compact().ok());
    EXPECT_EQ(s->Read(K("ttl"), false)->expire_at_ms, kStart + 5000);
    EXPECT_EQ(s->Read(K("plain"), false)->expire_at_ms, kNoExpiry);
  }
  auto s = Open();
  EXPECT_GE(s->recovery_stats().segments_from_hints, 1u);  // the output's hint
  EXPECT_EQ(s->Read(K("ttl"), false)->expire_at_ms, kStart + 5000);
  EXPECT_EQ(*s->Get(K("ttl")), "v");
  now_ = kStart + 5000;
  EXPECT_EQ(GetOr(*s, K("ttl")), "<none>");
}

// bitcask#82 with TTLs: the old value sits in an early segment, a newer value with a TTL in
// a later one. Once the TTL passed, compaction must drop the expired put without letting
// the old value come back, now or after a restart, even one whose clock went back.
TEST_F(LogStoreExpiryTest, ResurrectionAfterExpiryCompactionAndRestart) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Set(K("k"), "old").ok());
    Roll(*s, "a");
    ASSERT_TRUE(Put(*s, K("k"), "new", kStart + 100).ok());
    Roll(*s, "b");
    now_ = kStart + 200;  // expired; the server's expirer has not deleted it yet
    const uint64_t keys_before = s->Stats().keys;
    ASSERT_TRUE(s->Compact().ok());
    EXPECT_EQ(GetOr(*s, K("k")), "<none>");
    EXPECT_EQ(s->Stats().keys, keys_before - 1);  // its entry went with its segment
    EXPECT_EQ(s->KeysPerDb()->at(0).keys, 6u);
    EXPECT_TRUE(s->Remove(K("k")).IsNotFound());
  }
  {
    auto s = Open();
    EXPECT_EQ(GetOr(*s, K("k")), "<none>");
  }
  now_ = kStart;  // a restart on a clock stepped back before the TTL
  auto s = Open();
  EXPECT_EQ(GetOr(*s, K("k")), "<none>");
  EXPECT_EQ(s->Stats().keys, 6u);
}

// The same with the old value in an earlier compaction's output and the expired put written
// after that compaction.
TEST_F(LogStoreExpiryTest, AnExpiredPutOverAValueInACompactionOutput) {
  {
    auto s = Open();
    ASSERT_TRUE(s->Set(K("k"), "old").ok());
    Roll(*s, "a");
    ASSERT_TRUE(s->Compact().ok());  // "old" now lives in a compaction output
    ASSERT_TRUE(Put(*s, K("k"), "new", kStart + 100).ok());
    now_ = kStart + 200;
    ASSERT_TRUE(s->Compact().ok());
    EXPECT_EQ(GetOr(*s, K("k")), "<none>");
  }
  auto s = Open();
  EXPECT_EQ(GetOr(*s, K("k")), "<none>");
  ASSERT_TRUE(s->Compact().ok());
  EXPECT_EQ(GetOr(*s, K("k")), "<none>");
}

TEST_F(LogStoreExpiryTest, AWriteRacingTheCompactionOfAnExpiredKeyIsKept) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, K("k"), "v", kStart + 100).ok());
  Roll(*s, "a");
  now_ = kStart + 200;
  // Written after the expiry, before the compaction: the entry is no longer the expired
  // one, so the compaction leaves it.
  ASSERT_TRUE(s->Set(K("k"), "fresh").ok());
  ASSERT_TRUE(s->Compact().ok());
  EXPECT_EQ(GetOr(*s, K("k")), "fresh");
  s.reset();
  s = Open();
  EXPECT_EQ(GetOr(*s, K("k")), "fresh");
}

TEST_F(LogStoreExpiryTest, DeletingAnExpiredKeyWritesATombstoneAndCountsItsBytesDead) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, K("k"), std::string(100, 'v'), kStart + 100).ok());
  const EngineStats before = s->Stats();
  now_ = kStart + 200;
  EXPECT_TRUE(s->Remove(K("k")).IsNotFound());
  const EngineStats after = s->Stats();
  EXPECT_EQ(after.keys, 0u);
  EXPECT_EQ(after.live_bytes, 0u);
  EXPECT_EQ(after.batches, before.batches + 1);  // the tombstone's
  const uint64_t tombstone = RecordSize(K("k").size(), 0);
  EXPECT_EQ(after.dead_bytes, before.dead_bytes + before.live_bytes + tombstone);
  // A truly missing key still writes nothing.
  EXPECT_TRUE(s->Remove(K("never")).IsNotFound());
  EXPECT_EQ(s->Stats().batches, after.batches);
}

TEST_F(LogStoreExpiryTest, PrepareAndCommitAgreeWithWrite) {
  auto s = Open();
  ASSERT_TRUE(Put(*s, K("k"), "v", kStart + 100).ok());
  now_ = kStart + 200;
  LogWriter* w = s->log_writer();
  WriteBatch b;
  b.Delete(K("k"));
  b.Delete(K("missing"));
  b.Put(K("t"), "v", kStart + 1000);
  Result<LogWriter::Prepared> p = w->Prepare(b, [] {});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->op_results.size(), 3u);
  EXPECT_TRUE(p->op_results[0].IsNotFound());
  EXPECT_TRUE(p->op_results[1].IsNotFound());
  EXPECT_TRUE(p->op_results[2].ok());
  EXPECT_EQ(p->placed.size(), 2u);  // the expired key's tombstone and the put
  Status io = w->WriteInline(*p);
  ASSERT_TRUE(w->Commit(std::move(*p), io).ok());
  EXPECT_EQ(s->Stats().keys, 1u);
  EXPECT_EQ(s->Read(K("t"), false)->expire_at_ms, kStart + 1000);
  s.reset();
  now_ = kStart;  // stepped back: the tombstone keeps "k" dead
  s = Open();
  EXPECT_EQ(GetOr(*s, K("k")), "<none>");
  EXPECT_EQ(GetOr(*s, K("t")), "v");
}

TEST_F(LogStoreExpiryTest, WithoutATombstoneAStepBackAtRestartRevivesAnExpiredKey) {
  // The documented limit: an expired key whose delete was never written is decided again
  // by the next start's clock (Redis behaves the same with an RDB of a later time).
  {
    auto s = Open();
    ASSERT_TRUE(Put(*s, K("k"), "v", kStart + 100).ok());
    now_ = kStart + 200;
    EXPECT_EQ(GetOr(*s, K("k")), "<none>");
  }
  now_ = kStart + 50;
  auto s = Open();
  EXPECT_EQ(GetOr(*s, K("k")), "v");
}

TEST_F(LogStoreExpiryTest, RepairKeepsExpiryTimes) {
  {
    auto s = Open();
    ASSERT_TRUE(Put(*s, K("a"), "1", kStart + 1000).ok());
    ASSERT_TRUE(s->Set(K("b"), "2").ok());
    Roll(*s, "x");
  }
  // Damage the tail of the first (closed) segment's last record.
  const std::string seg = dir_.File("1.log");
  {
    std::fstream f(seg, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(seg) - 3));
    f.put('\xff');
  }
  Options o = MakeOptions();
  o.repair = true;
  auto s = Open(o);
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->Read(K("a"), false)->expire_at_ms, kStart + 1000);
  EXPECT_EQ(s->Read(K("b"), false)->expire_at_ms, kNoExpiry);
}

TEST_F(LogStoreExpiryTest, KeysWithoutTtlLeaveTheExpirerNothingToVisit) {
  auto s = Open();
  for (int i = 0; i < 2000; ++i) ASSERT_TRUE(s->Set(K(std::to_string(i)), "v").ok());
  EXPECT_EQ(s->ScanExpired(100).visited, 0u);
  EXPECT_EQ(s->KeysPerDb()->at(0), (DbKeyCount{2000, 0}));
}

TEST_F(LogStoreExpiryTest, ClockJumpsBothWaysAcrossCompactionsAndRestarts) {
  std::map<std::string, int64_t> ttl;  // key -> expiry time
  {
    auto s = Open();
    for (int i = 0; i < 60; ++i) {
      const int64_t at = i % 3 == 0 ? kNoExpiry : kStart + 1000 * i;
      ASSERT_TRUE(Put(*s, K(std::to_string(i)), std::string(100, 'v'), at).ok());
      ttl[K(std::to_string(i))] = at;
    }
    now_ = kStart + 30'500;  // forward: keys 1 .. 30 with a TTL expire
    ASSERT_TRUE(s->Compact().ok());
    now_ = kStart;  // back: the store's clock stays where it was
    for (const auto& [key, at] : ttl) {
      const bool alive = at == kNoExpiry || at > kStart + 30'500;
      EXPECT_EQ(GetOr(*s, key) != "<none>", alive) << key;
    }
  }
  // Restart on the stepped-back clock: compaction dropped the expired records, so they stay
  // gone though the new clock is earlier than their times.
  auto s = Open();
  for (const auto& [key, at] : ttl) {
    const bool alive = at == kNoExpiry || at > kStart + 30'500;
    EXPECT_EQ(GetOr(*s, key) != "<none>", alive) << key;
    if (alive) {
      EXPECT_EQ(s->Read(key, false)->expire_at_ms, at) << key;
    }
  }
}

TEST(LogStoreExpiryConcurrencyTest, ReadersScannersAndWritersWithAMovingClock) {
  TempDir dir;
  std::atomic<int64_t> now{kStart};
  Options o;
  o.data_dir = dir.path();
  o.fsync = FsyncPolicy::kNever;
  o.segment_bytes = 64 * 1024;
  o.background_compaction = false;
  o.clock = std::make_shared<ExpiryClock>([&now] { return now.load(); });
  auto opened = LogStore::Open(o);
  ASSERT_TRUE(opened.ok());
  std::unique_ptr<LogStore> s = std::move(opened).value();
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {  // the writer: TTL keys, plain keys, deletes
    for (int i = 0; i < 4000; ++i) {
      const std::string key = EncodeDbKey(0, std::to_string(i % 300));
      WriteBatch b;
      if (i % 5 == 0) {
        b.Delete(key);
      } else {
        b.Put(key, "v", i % 2 == 0 ? kStart + i : kNoExpiry);
      }
      std::vector<Status> results;
      ASSERT_TRUE(s->Write(b, &results).ok());
      now.fetch_add(1);
    }
    stop = true;
  });
  threads.emplace_back([&] {  // the expirer
    while (!stop) {
      ExpiredScan scan = s->ScanExpired(20);
      EXPECT_LE(scan.visited, 20u);
      WriteBatch b;
      for (const std::string& k : scan.keys) b.Delete(k);
      std::vector<Status> results;
      if (!b.empty()) {
        ASSERT_TRUE(s->Write(b, &results).ok());
      }
    }
  });
  threads.emplace_back([&] {  // readers and counters
    while (!stop) {
      for (int k = 0; k < 300; k += 7) (void)s->Get(EncodeDbKey(0, std::to_string(k)));
      (void)s->KeysPerDb();
    }
  });
  threads.emplace_back([&] {  // compaction
    while (!stop) ASSERT_TRUE(s->Compact().ok());
  });
  for (auto& t : threads) t.join();
  // Quiet now: the counts agree with a walk.
  uint64_t keys = 0, expires = 0;
  ASSERT_TRUE(s->ForEach([&](std::string_view, std::string_view, int64_t at) {
                 ++keys;
                 if (at != kNoExpiry) ++expires;
                 return Status::Ok();
               }).ok());
  auto counts = s->KeysPerDb();
  const DbKeyCount want{keys, expires};
  EXPECT_EQ(counts->empty() ? DbKeyCount{} : counts->at(0), want);
}

}  // namespace
}  // namespace kvs
