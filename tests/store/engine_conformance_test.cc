// The Engine contract (store/engine.h), run against every engine through OpenEngine.
// Whatever one engine answers, the other must answer the same.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/engine.h"
#include "store/test_util.h"

namespace kvs {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

class EngineConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  Options MakeOptions(FsyncPolicy fsync = FsyncPolicy::kAlways) const {
    Options o;
    o.data_dir = dir_.path();
    o.fsync = fsync;
    return o;
  }
  std::unique_ptr<Engine> OpenOk(FsyncPolicy fsync = FsyncPolicy::kAlways) {
    auto r = OpenEngine(GetParam(), MakeOptions(fsync));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : nullptr;
  }
  std::string OtherEngine() const { return GetParam() == "kvs" ? "rocksdb" : "kvs"; }

  static size_t CountKeys(Engine& e) {
    size_t n = 0;
    EXPECT_TRUE(e.ForEachKey([&](std::string_view) {
                   ++n;
                   return Status::Ok();
                 }).ok());
    return n;
  }
  static std::string GetOr(Engine& e, std::string_view key, std::string fallback = "<none>") {
    auto r = e.Get(key);
    return r.ok() ? r.value() : fallback;
  }

  TempDir dir_;
};

TEST_P(EngineConformanceTest, NameAndEngineFileMatchTheParameter) {
  auto e = OpenOk();
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->name(), GetParam());
  std::ifstream engine_file(dir_.File("ENGINE"));
  std::string word;
  engine_file >> word;
  EXPECT_EQ(word, GetParam());
}

TEST_P(EngineConformanceTest, SetThenGet) {
  auto e = OpenOk();
  ASSERT_TRUE(e->Set("key", "value").ok());
  auto r = e->Get("key");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value(), "value");
}

TEST_P(EngineConformanceTest, GetCachedAnswersLikeGetOrWouldBlock) {
  auto e = OpenOk();
  ASSERT_TRUE(e->Set("key", "one").ok());
  ASSERT_TRUE(e->Set("key", "two").ok());
  ASSERT_TRUE(e->Set("gone", "x").ok());
  ASSERT_TRUE(e->Remove("gone").ok());
  // Just written: in memory or the page cache, so both engines answer without the disk.
  auto r = e->GetCached("key");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value(), "two");
  EXPECT_TRUE(e->GetCached("gone").status().IsNotFound());
  EXPECT_TRUE(e->GetCached("absent").status().IsNotFound());
}

TEST_P(EngineConformanceTest, OverwriteReturnsNewestValue) {
  auto e = OpenOk();
  ASSERT_TRUE(e->Set("key", "one").ok());
  ASSERT_TRUE(e->Set("key", "two").ok());
  EXPECT_EQ(GetOr(*e, "key"), "two");
}

TEST_P(EngineConformanceTest, GetOfMissingKeyIsNotFound) {
  auto e = OpenOk();
  auto r = e->Get("absent");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsNotFound());
  EXPECT_EQ(r.status().message(), "Key not found");
}

TEST_P(EngineConformanceTest, RemoveDeletesTheKey) {
  auto e = OpenOk();
  ASSERT_TRUE(e->Set("key", "value").ok());
  ASSERT_TRUE(e->Remove("key").ok());
  auto r = e->Get("key");
  EXPECT_TRUE(r.status().IsNotFound());
}

TEST_P(EngineConformanceTest, RemoveOfMissingKeyIsNotFound) {
  auto e = OpenOk();
  Status s = e->Remove("absent");
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_EQ(s.message(), "Key not found");
}

TEST_P(EngineConformanceTest, SecondRemoveIsNotFound) {
  auto e = OpenOk();
  ASSERT_TRUE(e->Set("key", "value").ok());
  ASSERT_TRUE(e->Remove("key").ok());
  EXPECT_TRUE(e->Remove("key").IsNotFound());
}

TEST_P(EngineConformanceTest, SetAfterRemoveBringsTheKeyBack) {
  auto e = OpenOk();
  ASSERT_TRUE(e->Set("key", "one").ok());
  ASSERT_TRUE(e->Remove("key").ok());
  ASSERT_TRUE(e->Set("key", "two").ok());
  EXPECT_EQ(GetOr(*e, "key"), "two");
}

TEST_P(EngineConformanceTest, EmptyValueIsAValue) {
  auto e = OpenOk();
  ASSERT_TRUE(e->Set("key", "").ok());
  auto r = e->Get("key");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value(), "");
}

TEST_P(EngineConformanceTest, EmptyKeyIsInvalidArgument) {
  auto e = OpenOk();
  EXPECT_TRUE(e->Set("", "value").IsInvalidArgument());
}

TEST_P(EngineConformanceTest, BinaryKeysAndValuesWithNulBytes) {
  auto e = OpenOk();
  const std::string key("a\0b\xff\x01", 5);
  const std::string other_key("a\0c", 3);  // shares the prefix up to the NUL
  const std::string value("\0\0v\0\xfe", 5);
  ASSERT_TRUE(e->Set(key, value).ok());
  ASSERT_TRUE(e->Set(other_key, "other").ok());
  EXPECT_EQ(GetOr(*e, key), value);
  EXPECT_EQ(GetOr(*e, other_key), "other");
  EXPECT_TRUE(e->Get(std::string("a", 1)).status().IsNotFound());
  ASSERT_TRUE(e->Remove(key).ok());
  EXPECT_TRUE(e->Get(key).status().IsNotFound());
  EXPECT_EQ(GetOr(*e, other_key), "other");
}

TEST_P(EngineConformanceTest, MaxKeySizeIsAcceptedAndOneMoreIsRejected) {
  auto e = OpenOk(FsyncPolicy::kNever);
  const std::string max_key(kMaxKeyBytes, 'k');
  ASSERT_TRUE(e->Set(max_key, "v").ok());
  EXPECT_EQ(GetOr(*e, max_key), "v");
  const std::string too_long(kMaxKeyBytes + 1, 'k');
  Status s = e->Set(too_long, "v");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(std::to_string(kMaxKeyBytes + 1)));
  EXPECT_TRUE(e->Remove(too_long).IsInvalidArgument());
  EXPECT_TRUE(e->Get(too_long).status().IsNotFound());
}

TEST_P(EngineConformanceTest, MaxValueSizeIsAcceptedAndOneMoreIsRejected) {
  auto e = OpenOk(FsyncPolicy::kNever);
  std::string max_value(kMaxValueBytes, 'v');
  max_value.back() = 'z';
  ASSERT_TRUE(e->Set("big", max_value).ok());
  EXPECT_EQ(GetOr(*e, "big"), max_value);
  Status s = e->Set("too-big", std::string(kMaxValueBytes + 1, 'v'));
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_THAT(s.message(), HasSubstr(std::to_string(kMaxValueBytes + 1)));
  EXPECT_TRUE(e->Get("too-big").status().IsNotFound());
}

TEST_P(EngineConformanceTest, BatchReportsEachOpsOutcome) {
  auto e = OpenOk();
  ASSERT_TRUE(e->Set("old", "1").ok());
  WriteBatch batch;
  batch.Put("a", "1");     // 0: OK
  batch.Delete("a");       // 1: OK, "a" exists earlier in the batch
  batch.Delete("a");       // 2: NotFound, deleted by op 1
  batch.Delete("absent");  // 3: NotFound
  batch.Delete("old");     // 4: OK, exists in the engine
  batch.Put("b", "2");     // 5: OK
  batch.Put("b", "3");     // 6: OK, the later put wins
  std::vector<Status> results;
  ASSERT_TRUE(e->Write(batch, &results).ok());
  ASSERT_EQ(results.size(), batch.size());
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
  EXPECT_TRUE(results[2].IsNotFound());
  EXPECT_EQ(results[2].message(), "Key not found");
  EXPECT_TRUE(results[3].IsNotFound());
  EXPECT_EQ(results[3].message(), "Key not found");
  EXPECT_TRUE(results[4].ok());
  EXPECT_TRUE(results[5].ok());
  EXPECT_TRUE(results[6].ok());
  EXPECT_TRUE(e->Get("a").status().IsNotFound());
  EXPECT_TRUE(e->Get("old").status().IsNotFound());
  EXPECT_EQ(GetOr(*e, "b"), "3");
}

TEST_P(EngineConformanceTest, DeletePrefixRemovesExactlyTheKeysThatStartWithIt) {
  auto e = OpenOk();
  for (const char* key : {"a", "a1", "a2", "ab", "b", "b1", "\xff", "\xff\xff" "1"}) {
    ASSERT_TRUE(e->Set(key, std::string("v-") + key).ok());
  }
  WriteBatch batch;
  batch.Put("a3", "before");  // 0: staged before the prefix delete: goes with it
  batch.DeletePrefix("a");    // 1: OK
  batch.Delete("a1");         // 2: NotFound, removed by op 1
  batch.Put("a4", "after");   // 3: written after it: stays
  batch.Delete("b1");         // 4: OK, untouched by the prefix
  batch.DeletePrefix("\xff"); // 5: a prefix of 0xff bytes only has no successor
  std::vector<Status> results;
  ASSERT_TRUE(e->Write(batch, &results).ok());
  ASSERT_EQ(results.size(), batch.size());
  EXPECT_TRUE(results[0].ok());
  EXPECT_TRUE(results[1].ok());
  EXPECT_TRUE(results[2].IsNotFound()) << results[2].ToString();
  EXPECT_TRUE(results[3].ok());
  EXPECT_TRUE(results[4].ok());
  EXPECT_TRUE(results[5].ok());
  for (const char* gone : {"a", "a1", "a2", "a3", "ab", "b1", "\xff", "\xff\xff" "1"}) {
    EXPECT_TRUE(e->Get(gone).status().IsNotFound()) << gone;
  }
  EXPECT_EQ(GetOr(*e, "a4"), "after");
  EXPECT_EQ(GetOr(*e, "b"), "v-b");
  EXPECT_EQ(CountKeys(*e), 2u);
}

TEST_P(EngineConformanceTest, AnEmptyPrefixDeletesEveryKeyAndSurvivesAReopen) {
  {
    auto e = OpenOk();
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(e->Set(EncodeDbKey(static_cast<uint32_t>(i % 3), std::to_string(i)), "v").ok());
    }
    WriteBatch batch;
    batch.DeletePrefix(DbKeyPrefix(1));  // FLUSHDB of db 1
    std::vector<Status> results;
    ASSERT_TRUE(e->Write(batch, &results).ok());
    EXPECT_EQ(CountKeys(*e), 33u);  // 17 + 16 of dbs 0 and 2
  }
  {
    auto e = OpenOk();
    EXPECT_EQ(CountKeys(*e), 33u);  // 17 + 16 of dbs 0 and 2
    EXPECT_TRUE(e->Get(EncodeDbKey(1, "1")).status().IsNotFound());
    EXPECT_EQ(GetOr(*e, EncodeDbKey(0, "0")), "v");
    WriteBatch batch;
    batch.DeletePrefix("");  // FLUSHALL
    batch.Put(EncodeDbKey(2, "new"), "after");
    std::vector<Status> results;
    ASSERT_TRUE(e->Write(batch, &results).ok());
  }
  auto e = OpenOk();
  EXPECT_EQ(CountKeys(*e), 1u);
  EXPECT_EQ(GetOr(*e, EncodeDbKey(2, "new")), "after");
  EXPECT_TRUE(e->Get(EncodeDbKey(0, "0")).status().IsNotFound());
  // Written after the restart: newer than the prefix deletes, whatever they were.
  ASSERT_TRUE(e->Set(EncodeDbKey(1, "1"), "again").ok());
  e.reset();
  e = OpenOk();
  EXPECT_EQ(GetOr(*e, EncodeDbKey(1, "1")), "again");
}

TEST_P(EngineConformanceTest, KeysPerDbWhereKeptAgreeWithAWalkThroughWritesAndReopens) {
  auto walk = [](Engine& e) {
    std::map<uint32_t, DbKeyCount> per_db;
    EXPECT_TRUE(e.ForEach([&](std::string_view key, std::string_view, int64_t expire_at) {
                   uint32_t db;
                   std::string_view user_key;
                   EXPECT_TRUE(DecodeDbKey(key, &db, &user_key));
                   ++per_db[db].keys;
                   if (expire_at != kNoExpiry) ++per_db[db].expires;
                   return Status::Ok();
                 }).ok());
    return per_db;
  };
  std::mt19937_64 rng(7);
  for (int round = 0; round < 3; ++round) {
    auto e = OpenOk(FsyncPolicy::kNever);
    ASSERT_NE(e, nullptr);
    if (std::optional<std::map<uint32_t, DbKeyCount>> counts = e->KeysPerDb()) {
      EXPECT_EQ(*counts, walk(*e)) << "after reopen " << round;
    }
    for (int b = 0; b < 40; ++b) {
      WriteBatch batch;
      for (int op = 0; op < 8; ++op) {
        const auto db = static_cast<uint32_t>(rng() % 4);
        const std::string key = EncodeDbKey(db, std::to_string(rng() % 30));
        switch (rng() % 10) {
          case 0:
            batch.DeletePrefix(DbKeyPrefix(db));
            break;
          case 1:
          case 2:
          case 3:
            batch.Delete(key);
            break;
          default:
            batch.Put(key, "v");
        }
      }
      std::vector<Status> results;
      ASSERT_TRUE(e->Write(batch, &results).ok());
      if (std::optional<std::map<uint32_t, DbKeyCount>> counts = e->KeysPerDb()) {
        ASSERT_EQ(*counts, walk(*e)) << "round " << round << " batch " << b;
      }
    }
  }
}

TEST_P(EngineConformanceTest, BatchOfOnlyMissingDeletesWritesNothing) {
  auto e = OpenOk();
  WriteBatch batch;
  batch.Delete("x");
  batch.Delete("y");
  std::vector<Status> results;
  ASSERT_TRUE(e->Write(batch, &results).ok());
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].IsNotFound());
  EXPECT_TRUE(results[1].IsNotFound());
  EXPECT_EQ(e->Stats().batches, 0u);
}

TEST_P(EngineConformanceTest, EmptyBatchIsOk) {
  auto e = OpenOk();
  WriteBatch batch;
  std::vector<Status> results(3);
  ASSERT_TRUE(e->Write(batch, &results).ok());
  EXPECT_TRUE(results.empty());
}

TEST_P(EngineConformanceTest, BatchWithAnOversizedOpAppliesNothing) {
  auto e = OpenOk();
  WriteBatch batch;
  batch.Put("a", "1");
  batch.Put(std::string(kMaxKeyBytes + 1, 'k'), "v");
  std::vector<Status> results;
  EXPECT_TRUE(e->Write(batch, &results).IsInvalidArgument());
  EXPECT_TRUE(e->Get("a").status().IsNotFound());
}

TEST_P(EngineConformanceTest, StatsCountBatchesAndOps) {
  auto e = OpenOk();
  WriteBatch batch;
  batch.Put("a", "1");
  batch.Put("b", "2");
  batch.Delete("absent");
  std::vector<Status> results;
  ASSERT_TRUE(e->Write(batch, &results).ok());
  ASSERT_TRUE(e->Set("c", "3").ok());
  EngineStats s = e->Stats();
  EXPECT_EQ(s.batches, 2u);
  EXPECT_EQ(s.batched_ops, 3u);
  EXPECT_EQ(s.keys, 3u);
  EXPECT_GT(s.live_bytes, 0u);
  EXPECT_FALSE(s.read_only);
}

TEST_P(EngineConformanceTest, SyncSucceeds) {
  auto e = OpenOk(FsyncPolicy::kNever);
  ASSERT_TRUE(e->Set("a", "1").ok());
  EXPECT_TRUE(e->Sync().ok());
}

TEST_P(EngineConformanceTest, ReopenKeepsEverything) {
  for (FsyncPolicy fsync : {FsyncPolicy::kAlways, FsyncPolicy::kPeriodic, FsyncPolicy::kNever}) {
    SCOPED_TRACE(std::string(FsyncPolicyName(fsync)));
    TempDir dir;
    Options o = MakeOptions(fsync);
    o.data_dir = dir.path();
    const std::string binary_key("k\0ey", 4);
    {
      auto r = OpenEngine(GetParam(), o);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      Engine& e = *r.value();
      for (int i = 0; i < 100; ++i) {
        ASSERT_TRUE(e.Set("key" + std::to_string(i), "value" + std::to_string(i)).ok());
      }
      ASSERT_TRUE(e.Set("key7", "overwritten").ok());
      ASSERT_TRUE(e.Remove("key8").ok());
      ASSERT_TRUE(e.Set(binary_key, std::string("\0v", 2)).ok());
      ASSERT_TRUE(e.Set("empty", "").ok());
    }
    // Reopened with "": the directory's ENGINE file decides.
    auto r = OpenEngine("", o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    Engine& e = *r.value();
    EXPECT_EQ(e.name(), GetParam());
    for (int i = 0; i < 100; ++i) {
      if (i == 7 || i == 8) continue;
      EXPECT_EQ(GetOr(e, "key" + std::to_string(i)), "value" + std::to_string(i));
    }
    EXPECT_EQ(GetOr(e, "key7"), "overwritten");
    EXPECT_TRUE(e.Get("key8").status().IsNotFound());
    EXPECT_TRUE(e.Remove("key8").IsNotFound());
    EXPECT_EQ(GetOr(e, binary_key), std::string("\0v", 2));
    EXPECT_EQ(GetOr(e, "empty"), "");
  }
}

TEST_P(EngineConformanceTest, ConcurrentReadersAndWriters) {
  auto e = OpenOk(FsyncPolicy::kNever);
  constexpr int kWriters = 4;
  constexpr int kReaders = 4;
  constexpr int kKeysPerWriter = 50;
  constexpr int kRounds = 20;
  auto key_of = [](int w, int k) { return "w" + std::to_string(w) + "k" + std::to_string(k); };
  // Every value names its key, so a reader can tell a torn or misplaced value from a good one.
  auto value_of = [](const std::string& key, int round) {
    return key + "@" + std::to_string(round) + std::string(static_cast<size_t>(round) * 7, 'x');
  };

  std::atomic<bool> done{false};
  std::atomic<int> bad_reads{0};
  std::atomic<int> failed_writes{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int round = 0; round < kRounds; ++round) {
        WriteBatch batch;
        for (int k = 0; k < kKeysPerWriter; ++k) {
          const std::string key = key_of(w, k);
          if (k % 5 == 0 && round % 2 == 1) {
            batch.Delete(key);  // odd rounds delete every fifth key
          } else {
            batch.Put(key, value_of(key, round));
          }
        }
        std::vector<Status> results;
        if (!e->Write(batch, &results).ok()) failed_writes.fetch_add(1);
        for (int k = 0; k < kKeysPerWriter; k += 10) {
          const std::string key = key_of(w, k);
          if (!e->Set(key, value_of(key, round)).ok()) failed_writes.fetch_add(1);
        }
      }
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      int i = r;
      while (!done.load()) {
        const std::string key = key_of(i % kWriters, (i / kWriters) % kKeysPerWriter);
        auto got = e->Get(key);
        if (got.ok()) {
          if (got.value().rfind(key + "@", 0) != 0) bad_reads.fetch_add(1);
        } else if (!got.status().IsNotFound()) {
          bad_reads.fetch_add(1);
        }
        i += 7;
      }
    });
  }
  for (int w = 0; w < kWriters; ++w) threads[static_cast<size_t>(w)].join();
  done.store(true);
  for (size_t t = kWriters; t < threads.size(); ++t) threads[t].join();

  EXPECT_EQ(failed_writes.load(), 0);
  EXPECT_EQ(bad_reads.load(), 0);
  const int last = kRounds - 1;  // odd: every fifth key was deleted, then every tenth re-set
  for (int w = 0; w < kWriters; ++w) {
    for (int k = 0; k < kKeysPerWriter; ++k) {
      const std::string key = key_of(w, k);
      if (k % 10 == 5) {
        EXPECT_TRUE(e->Get(key).status().IsNotFound()) << key;
      } else {
        EXPECT_EQ(GetOr(*e, key), value_of(key, last)) << key;
      }
    }
  }
}

TEST_P(EngineConformanceTest, ReopenWithTheOtherEngineNamesBoth) {
  { ASSERT_NE(OpenOk(), nullptr); }
  auto r = OpenEngine(OtherEngine(), MakeOptions());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("'" + GetParam() + "'"));
  EXPECT_THAT(r.status().message(), HasSubstr("'" + OtherEngine() + "'"));
  // The refused open changed nothing.
  EXPECT_NE(OpenOk(), nullptr);
}

TEST_P(EngineConformanceTest, SecondOpenWhileOpenIsBusy) {
  auto first = OpenOk();
  ASSERT_NE(first, nullptr);
  auto same = OpenEngine(GetParam(), MakeOptions());
  EXPECT_TRUE(same.status().IsBusy()) << same.status().ToString();
  auto other = OpenEngine(OtherEngine(), MakeOptions());
  EXPECT_TRUE(other.status().IsBusy()) << other.status().ToString();
  first.reset();
  EXPECT_NE(OpenOk(), nullptr);  // the lock went with the engine
}

INSTANTIATE_TEST_SUITE_P(Engines, EngineConformanceTest, ::testing::Values("kvs", "rocksdb"),
                         [](const ::testing::TestParamInfo<std::string>& param_info) {
                           return param_info.param;
                         });

// ---- OpenEngine's dispatch ---------------------------------------------------------------

TEST(OpenEngineTest, UnknownEngineNamesTheAcceptedOnes) {
  TempDir dir;
  Options o;
  o.data_dir = dir.path();
  auto r = OpenEngine("leveldb", o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument());
  EXPECT_THAT(r.status().message(), HasSubstr("leveldb"));
  EXPECT_THAT(r.status().message(), HasSubstr("kvs"));
  EXPECT_THAT(r.status().message(), HasSubstr("rocksdb"));
}

TEST(OpenEngineTest, NoNameOnAFreshDirectoryMeansKvs) {
  TempDir dir;
  Options o;
  o.data_dir = dir.File("fresh");
  auto r = OpenEngine("", o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()->name(), "kvs");
}

TEST(OpenEngineTest, NoNameFollowsTheEngineFile) {
  TempDir dir;
  Options o;
  o.data_dir = dir.path();
  { ASSERT_TRUE(OpenEngine("rocksdb", o).ok()); }
  auto r = OpenEngine("", o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value()->name(), "rocksdb");
}

}  // namespace
}  // namespace kvs
