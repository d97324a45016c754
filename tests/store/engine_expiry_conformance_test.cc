// The Engine contract on expiry (store/engine.h: expire_at_ms, Read, ScanExpired, KeysPerDb,
// Options::clock), run against every engine through OpenEngine with a clock the test moves.
// Outcomes only: the clock is the test's, never the wall's.

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "store/engine.h"
#include "store/test_util.h"

namespace kvs {
namespace {

using testing::TempDir;

constexpr int64_t kStart = 1'700'000'000'000;  // ms since the epoch: late 2023

class EngineExpiryTest : public ::testing::TestWithParam<std::string> {
 protected:
  // A fresh ExpiryClock (as a restarted server makes) reading now_.
  std::unique_ptr<Engine> Open() {
    Options o;
    o.data_dir = dir_.path();
    o.fsync = FsyncPolicy::kNever;
    o.clock = std::make_shared<ExpiryClock>([this] { return now_.load(); });
    auto r = OpenEngine(GetParam(), o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  static std::string K(std::string_view user_key, uint32_t db = 0) {
    return EncodeDbKey(db, user_key);
  }
  static Status Put(Engine& e, std::string_view key, std::string_view value, int64_t at) {
    WriteBatch b;
    b.Put(key, value, at);
    std::vector<Status> results;
    return e.Write(b, &results);
  }
  static std::set<std::string> Keys(Engine& e) {
    std::set<std::string> keys;
    EXPECT_TRUE(e.ForEachKey([&](std::string_view k) {
                   keys.emplace(k);
                   return Status::Ok();
                 }).ok());
    return keys;
  }
  static std::map<std::string, int64_t> Pairs(Engine& e) {
    std::map<std::string, int64_t> pairs;
    EXPECT_TRUE(e.ForEach([&](std::string_view k, std::string_view, int64_t at) {
                   pairs[std::string(k)] = at;
                   return Status::Ok();
                 }).ok());
    return pairs;
  }

  TempDir dir_;
  std::atomic<int64_t> now_{kStart};
};

TEST_P(EngineExpiryTest, ReadReturnsTheExpiryTimeAndAnOverwriteWithoutOneClearsIt) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(Put(*e, K("k"), "v1", kStart + 1000).ok());
  Result<StoredValue> r = e->Read(K("k"), false);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->value, "v1");
  EXPECT_EQ(r->expire_at_ms, kStart + 1000);
  ASSERT_TRUE(e->Set(K("k"), "v2").ok());
  r = e->Read(K("k"), false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value, "v2");
  EXPECT_EQ(r->expire_at_ms, kNoExpiry);
  ASSERT_TRUE(Put(*e, K("k"), "v3", kStart + 5).ok());
  EXPECT_EQ(e->Read(K("k"), false)->expire_at_ms, kStart + 5);
}

TEST_P(EngineExpiryTest, AnExpiredKeyIsHiddenFromEveryReadTheMomentItsTimeComes) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(Put(*e, K("ttl"), "v", kStart + 100).ok());
  ASSERT_TRUE(e->Set(K("plain"), "p").ok());
  now_ = kStart + 99;
  EXPECT_TRUE(e->Get(K("ttl")).ok());
  EXPECT_TRUE(*e->Contains(K("ttl"), false));
  now_ = kStart + 100;  // expire_at_ms <= now: gone
  EXPECT_TRUE(e->Get(K("ttl")).status().IsNotFound());
  EXPECT_TRUE(e->Read(K("ttl"), false).status().IsNotFound());
  Result<std::string> cached = e->GetCached(K("ttl"));
  EXPECT_TRUE(cached.status().IsNotFound() || cached.status().IsWouldBlock());
  EXPECT_FALSE(*e->Contains(K("ttl"), false));
  EXPECT_EQ(Keys(*e), std::set<std::string>{K("plain")});
  EXPECT_EQ(Pairs(*e), (std::map<std::string, int64_t>{{K("plain"), kNoExpiry}}));
  if (auto counts = e->KeysPerDb()) {
    EXPECT_EQ(*counts, (std::map<uint32_t, DbKeyCount>{{0, DbKeyCount{1, 0}}}));
  }
  EXPECT_EQ(*e->Get(K("plain")), "p");
}

TEST_P(EngineExpiryTest, AClockJumpForwardExpiresThePassedKeysAndNoOthers) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(Put(*e, K("k" + std::to_string(i)), "v", kStart + 1000 * (i + 1)).ok());
  }
  ASSERT_TRUE(e->Set(K("plain"), "p").ok());
  now_ = kStart + 10'500;  // a jump of ten seconds: k0 .. k9 expire
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(e->Get(K("k" + std::to_string(i))).ok(), i >= 10) << i;
  }
  EXPECT_EQ(Keys(*e).size(), 11u);
  if (auto counts = e->KeysPerDb()) {
    EXPECT_EQ(*counts, (std::map<uint32_t, DbKeyCount>{{0, DbKeyCount{11, 10}}}));
  }
}

TEST_P(EngineExpiryTest, AClockSteppedBackRevivesNothing) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(Put(*e, K("k"), "v", kStart + 100).ok());
  now_ = kStart + 200;
  EXPECT_TRUE(e->Get(K("k")).status().IsNotFound());
  now_ = kStart;  // the wall clock stepped back: the engine's clock does not follow
  EXPECT_TRUE(e->Get(K("k")).status().IsNotFound());
  EXPECT_TRUE(Keys(*e).empty());
  if (auto counts = e->KeysPerDb()) {
    EXPECT_TRUE(counts->empty());
  }
}

TEST_P(EngineExpiryTest, DeleteOfAnExpiredKeyAnswersNotFoundAndKeepsItDeadAcrossAStepBack) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(Put(*e, K("k"), "v", kStart + 100).ok());
  now_ = kStart + 200;
  WriteBatch b;
  b.Delete(K("k"));
  std::vector<Status> results;
  ASSERT_TRUE(e->Write(b, &results).ok());
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].IsNotFound());  // the key did not exist
  EXPECT_TRUE(e->Remove(K("k")).IsNotFound());
  // A restart on a clock stepped back before the key's time: its delete was written, so it
  // stays gone.
  e.reset();
  now_ = kStart;
  e = Open();
  ASSERT_NE(e, nullptr);
  EXPECT_TRUE(e->Get(K("k")).status().IsNotFound());
  EXPECT_TRUE(Keys(*e).empty());
}

TEST_P(EngineExpiryTest, ExpiryTimesSurviveAReopen) {
  {
    auto e = Open();
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(Put(*e, K("a"), "1", kStart + 1000).ok());
    ASSERT_TRUE(Put(*e, K("b", 3), "2", kStart + 2000).ok());
    ASSERT_TRUE(e->Set(K("c"), "3").ok());
    ASSERT_TRUE(Put(*e, K("gone"), "4", kStart + 10).ok());
  }
  now_ = kStart + 500;
  auto e = Open();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(Pairs(*e), (std::map<std::string, int64_t>{
                           {K("a"), kStart + 1000}, {K("b", 3), kStart + 2000}, {K("c"), 0}}));
  if (auto counts = e->KeysPerDb()) {
    EXPECT_EQ(*counts,
              (std::map<uint32_t, DbKeyCount>{{0, DbKeyCount{2, 1}}, {3, DbKeyCount{1, 1}}}));
  }
  now_ = kStart + 1500;
  EXPECT_TRUE(e->Get(K("a")).status().IsNotFound());
  EXPECT_EQ(*e->Get(K("b", 3)), "2");
}

TEST_P(EngineExpiryTest, KeysPerDbCountsExpiresAndDropsExpiredKeys) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  for (uint32_t db = 0; db < 3; ++db) {
    for (int i = 0; i < 10; ++i) {
      const std::string key = K(std::to_string(i), db);
      ASSERT_TRUE((i % 2 == 0 ? Put(*e, key, "v", kStart + 100 * (i + 1)) : e->Set(key, "v")).ok());
    }
  }
  if (!e->KeysPerDb()) GTEST_SKIP() << "this engine keeps no counts";
  EXPECT_EQ(*e->KeysPerDb(),
            (std::map<uint32_t, DbKeyCount>{
                {0, DbKeyCount{10, 5}}, {1, DbKeyCount{10, 5}}, {2, DbKeyCount{10, 5}}}));
  now_ = kStart + 300;  // i = 0, 2 expired
  EXPECT_EQ(*e->KeysPerDb(),
            (std::map<uint32_t, DbKeyCount>{
                {0, DbKeyCount{8, 3}}, {1, DbKeyCount{8, 3}}, {2, DbKeyCount{8, 3}}}));
  // Deleting an expired key changes nothing visible; overwriting a TTL key without a TTL
  // moves it from expires to plain keys.
  ASSERT_TRUE(e->Remove(K("0", 1)).IsNotFound());
  ASSERT_TRUE(e->Set(K("4", 2), "v").ok());
  EXPECT_EQ(*e->KeysPerDb(),
            (std::map<uint32_t, DbKeyCount>{
                {0, DbKeyCount{8, 3}}, {1, DbKeyCount{8, 3}}, {2, DbKeyCount{8, 2}}}));
  now_ = kStart + 10'000;  // every TTL key expired
  EXPECT_EQ(*e->KeysPerDb(),
            (std::map<uint32_t, DbKeyCount>{
                {0, DbKeyCount{5, 0}}, {1, DbKeyCount{5, 0}}, {2, DbKeyCount{6, 0}}}));
}

TEST_P(EngineExpiryTest, ScanExpiredVisitsEveryTtlKeyInBoundedSteps) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  std::set<std::string> expired;
  for (int i = 0; i < 600; ++i) {
    const std::string key = K("k" + std::to_string(i));
    if (i % 3 == 0) {
      ASSERT_TRUE(e->Set(key, "v").ok());  // no TTL: never visited
    } else {
      const int64_t at = i % 3 == 1 ? kStart + 10 : kStart + 1'000'000;
      ASSERT_TRUE(Put(*e, key, "v", at).ok());
      if (i % 3 == 1) expired.insert(key);
    }
  }
  now_ = kStart + 100;
  std::set<std::string> found;
  size_t visited = 0;
  for (int call = 0; call < 400 && visited < 2 * 400; ++call) {
    ExpiredScan scan = e->ScanExpired(25);
    EXPECT_LE(scan.visited, 25u);
    EXPECT_LE(scan.keys.size(), scan.visited);
    visited += scan.visited;
    found.insert(scan.keys.begin(), scan.keys.end());
  }
  // Two laps' worth of visits: each of the 400 TTL keys was seen, and only expired ones
  // were returned.
  EXPECT_EQ(found, expired);

  // The expirer deletes what it found; nothing expired is left to find.
  WriteBatch b;
  for (const std::string& key : found) b.Delete(key);
  std::vector<Status> results;
  ASSERT_TRUE(e->Write(b, &results).ok());
  for (const Status& s : results) EXPECT_TRUE(s.IsNotFound());
  for (int call = 0; call < 40; ++call) EXPECT_TRUE(e->ScanExpired(25).keys.empty());
  EXPECT_EQ(Keys(*e).size(), 400u);
}

TEST_P(EngineExpiryTest, ScanExpiredWithNoTtlKeysFindsNothing) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(e->Set(K("a"), "v").ok());
  ExpiredScan scan = e->ScanExpired(100);
  EXPECT_EQ(scan.visited, 0u);
  EXPECT_TRUE(scan.keys.empty());
}

TEST_P(EngineExpiryTest, ABatchDeletingAnExpiredKeyThenWritingItAgain) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(Put(*e, K("k"), "old", kStart + 10).ok());
  now_ = kStart + 20;
  WriteBatch b;
  b.Delete(K("k"));
  b.Put(K("k"), "new");
  b.Delete(K("k"));
  std::vector<Status> results;
  ASSERT_TRUE(e->Write(b, &results).ok());
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].IsNotFound());
  EXPECT_TRUE(results[1].ok());
  EXPECT_TRUE(results[2].ok());
  EXPECT_TRUE(e->Get(K("k")).status().IsNotFound());
}

TEST_P(EngineExpiryTest, DeletePrefixRemovesTtlKeysAndTheirCounts) {
  auto e = Open();
  ASSERT_NE(e, nullptr);
  ASSERT_TRUE(Put(*e, K("a", 1), "v", kStart + 1000).ok());
  ASSERT_TRUE(Put(*e, K("b", 2), "v", kStart + 1000).ok());
  WriteBatch b;
  b.DeletePrefix(DbKeyPrefix(1));
  std::vector<Status> results;
  ASSERT_TRUE(e->Write(b, &results).ok());
  EXPECT_EQ(Keys(*e), std::set<std::string>{K("b", 2)});
  if (auto counts = e->KeysPerDb()) {
    EXPECT_EQ(*counts, (std::map<uint32_t, DbKeyCount>{{2, DbKeyCount{1, 1}}}));
  }
  now_ = kStart + 2000;
  EXPECT_TRUE(e->ScanExpired(10).keys == std::vector<std::string>{K("b", 2)});
}

// The RocksDB engine gets its expiry in the same issue (its own branch): until it lands,
// its instances of these cases are expected to fail.
INSTANTIATE_TEST_SUITE_P(Engines, EngineExpiryTest, ::testing::Values("kvs", "rocksdb"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return param_info.param;
                         });

}  // namespace
}  // namespace kvs
