#include "store/index.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace kvs {
namespace {

IndexEntry At(uint64_t seq, uint32_t segment = 1, uint64_t offset = 0) {
  return IndexEntry{seq, offset, segment, 10};
}

TEST(IndexTest, FindMissing) {
  Index index;
  EXPECT_FALSE(index.Find("nope").has_value());
  EXPECT_EQ(index.size(), 0u);
}

TEST(IndexTest, HigherSequenceWins) {
  Index index;
  EXPECT_TRUE(index.Upsert("k", At(5, 1, 100)));
  std::optional<IndexEntry> replaced;
  EXPECT_FALSE(index.Upsert("k", At(3, 2, 200), &replaced));  // older: ignored
  EXPECT_EQ(index.Find("k")->offset, 100u);
  EXPECT_TRUE(index.Upsert("k", At(8, 3, 300), &replaced));
  ASSERT_TRUE(replaced.has_value());
  EXPECT_EQ(replaced->seq, 5u);
  EXPECT_EQ(index.Find("k")->segment, 3u);
  EXPECT_EQ(index.size(), 1u);
}

TEST(IndexTest, EraseOnlyByNewerSequence) {
  Index index;
  index.Upsert("k", At(5));
  EXPECT_FALSE(index.Erase("k", 4).has_value());
  EXPECT_TRUE(index.Find("k").has_value());
  EXPECT_EQ(index.Erase("k", 6)->seq, 5u);
  EXPECT_FALSE(index.Find("k").has_value());
}

TEST(IndexTest, ReplaceIfChecksLocation) {
  Index index;
  index.Upsert("k", At(5, 1, 100));
  EXPECT_FALSE(index.ReplaceIf("k", At(5, 1, 999), At(5, 9, 0)));  // moved meanwhile
  EXPECT_TRUE(index.ReplaceIf("k", At(5, 1, 100), At(5, 9, 0)));
  EXPECT_EQ(index.Find("k")->segment, 9u);
}

TEST(IndexTest, EraseIfAndForEach) {
  Index index;
  for (int i = 0; i < 100; ++i) index.Upsert("k" + std::to_string(i), At(i + 1));
  EXPECT_EQ(index.EraseIf([](std::string_view, const IndexEntry& e) { return e.seq % 2 == 0; }),
            50u);
  size_t n = 0;
  index.ForEach([&](std::string_view, const IndexEntry& e) {
    EXPECT_EQ(e.seq % 2, 1u);
    ++n;
  });
  EXPECT_EQ(n, 50u);
}

TEST(IndexTest, HeterogeneousKeysWithNul) {
  Index index;
  const std::string a("a\0b", 3), b("a\0c", 3);
  index.Upsert(a, At(1));
  EXPECT_TRUE(index.Find(a).has_value());
  EXPECT_FALSE(index.Find(b).has_value());
}

TEST(IndexTest, ReserveThenFillStaysCompact) {
  Index index;
  constexpr size_t kKeys = 100000;
  index.Reserve(kKeys);
  const size_t reserved = index.MemoryBytes();
  for (size_t i = 0; i < kKeys; ++i) {
    char key[17];
    std::snprintf(key, sizeof key, "key:%012zu", i);  // 16 bytes, like kvs-bench's keys
    ASSERT_TRUE(index.Upsert(key, At(i + 1)));
  }
  EXPECT_EQ(index.size(), kKeys);
  EXPECT_EQ(index.MemoryBytes(), reserved);  // no shard had to grow
  EXPECT_LE(index.MemoryBytes() / kKeys, 64u);
}

TEST(IndexTest, OutgrowingTheReservedBlockKeepsEveryKey) {
  Index index;
  index.Reserve(1000);  // an empty index: one block for every shard
  for (int i = 0; i < 20000; ++i) ASSERT_TRUE(index.Upsert("k" + std::to_string(i), At(i + 1)));
  for (int i = 0; i < 20000; i += 2) ASSERT_TRUE(index.Erase("k" + std::to_string(i), UINT64_MAX));
  EXPECT_EQ(index.size(), 10000u);
  for (int i = 0; i < 20000; ++i) {
    EXPECT_EQ(index.Find("k" + std::to_string(i)).has_value(), i % 2 == 1) << i;
  }
  index.Reserve(50000);  // not empty any more: each shard grows on its own
  EXPECT_EQ(index.Find("k19999")->seq, 20000u);
}

TEST(IndexTest, LongKeysAndChurn) {
  Index index;
  const std::string long_prefix(300, 'p');
  for (uint64_t round = 0; round < 20; ++round) {
    for (int i = 0; i < 500; ++i) {
      index.Upsert(long_prefix + std::to_string(round * 500 + i), At(round * 1000 + i + 1));
    }
    if (round > 0) {
      for (int i = 0; i < 500; ++i) {
        ASSERT_TRUE(index.Erase(long_prefix + std::to_string((round - 1) * 500 + i), UINT64_MAX));
      }
    }
    EXPECT_EQ(index.size(), 500u);
  }
  EXPECT_TRUE(index.Find(long_prefix + std::to_string(19 * 500 + 7)).has_value());
  EXPECT_FALSE(index.Find(long_prefix + std::to_string(18 * 500 + 7)).has_value());
}

TEST(IndexConcurrencyTest, WritersErasersAndScansTogether) {
  Index index;
  constexpr int kKeys = 1000;
  std::atomic<uint64_t> seq{1};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5; ++round) {
        for (int i = t; i < kKeys; i += 2) {
          const std::string key = "key" + std::to_string(i);
          if ((i + round) % 3 == 0) {
            index.Erase(key, seq.fetch_add(1));
          } else {
            index.Upsert(key, At(seq.fetch_add(1)));
          }
        }
      }
    });
  }
  threads.emplace_back([&] {
    for (int round = 0; round < 20; ++round) {
      size_t n = 0;
      index.ForEach([&](std::string_view, const IndexEntry&) { ++n; });
      EXPECT_LE(n, static_cast<size_t>(kKeys));
      EXPECT_LE(index.size(), static_cast<size_t>(kKeys));
    }
  });
  for (auto& th : threads) th.join();
  index.EraseIf([](std::string_view, const IndexEntry& e) { return e.seq % 2 == 0; });
  index.ForEach([](std::string_view, const IndexEntry& e) { EXPECT_EQ(e.seq % 2, 1u); });
}

TEST(IndexTest, LoaderFollowsUpsertRules) {
  Index index;
  index.Upsert("kept", At(50, 1, 1));
  uint64_t tombstones = 0;
  {
    Index::Loader loader(&index);
    loader.Upsert("kept", At(40, 2, 2));  // older than what the index has: ignored
    loader.Upsert("later", At(5, 2, 5));
    loader.Upsert("later", At(7, 3, 7));  // the newer of two in one queue wins
    loader.Upsert("later", At(6, 4, 6));
    loader.Upsert("dead", IndexEntry{9, 0, 2, IndexEntry::kTombstoneLen});
    for (int i = 0; i < 5000; ++i) loader.Upsert("bulk" + std::to_string(i), At(100 + i));
    loader.Flush();
    tombstones = loader.stored_tombstones();
  }
  EXPECT_EQ(tombstones, 1u);
  EXPECT_EQ(index.Find("kept")->segment, 1u);
  EXPECT_EQ(index.Find("later")->seq, 7u);
  EXPECT_TRUE(index.Find("dead")->tombstone());
  EXPECT_EQ(index.size(), 5003u);
  EXPECT_EQ(index.Find("bulk4999")->seq, 5099u);
}

// ---- Expiry times ---------------------------------------------------------------------------

IndexEntry Expiring(uint64_t seq, int64_t at, uint32_t segment = 1, uint64_t offset = 0) {
  IndexEntry e = At(seq, segment, offset);
  e.expire_at_ms = at;
  return e;
}

TEST(IndexTtlTest, UpsertKeepsReplacesAndClearsExpiryTimes) {
  Index index;
  index.Upsert("k", Expiring(1, 500));
  EXPECT_EQ(index.Find("k")->expire_at_ms, 500);
  std::optional<IndexEntry> replaced;
  EXPECT_TRUE(index.Upsert("k", At(2), &replaced));
  EXPECT_EQ(replaced->expire_at_ms, 500);
  EXPECT_EQ(index.Find("k")->expire_at_ms, 0);
  EXPECT_FALSE(index.Upsert("k", Expiring(1, 9)));  // older: ignored, time and all
  EXPECT_EQ(index.Find("k")->expire_at_ms, 0);
  EXPECT_TRUE(index.ReplaceIf("k", At(2), Expiring(2, 700, 5, 50)));
  EXPECT_EQ(index.Find("k")->expire_at_ms, 700);
  EXPECT_EQ(index.Erase("k", 3)->expire_at_ms, 700);
}

TEST(IndexTtlTest, EraseIfAtRemovesOnlyTheEntryStillAtItsPlace) {
  Index index;
  index.Upsert("k", Expiring(1, 5, 1, 100));
  EXPECT_FALSE(index.EraseIfAt("k", At(1, 1, 200)).has_value());
  EXPECT_FALSE(index.EraseIfAt("missing", At(1, 1, 100)).has_value());
  std::optional<IndexEntry> gone = index.EraseIfAt("k", At(1, 1, 100));
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->expire_at_ms, 5);
  EXPECT_FALSE(index.Find("k").has_value());
}

TEST(IndexTtlTest, ForEachExpiredFindsExactlyTheExpiredKeysInEveryShard) {
  Index index;
  std::set<std::string> want;
  for (int i = 0; i < 3000; ++i) {
    const std::string key = "k" + std::to_string(i);
    const int64_t at = i % 3 == 0 ? 0 : 1000 + i;
    index.Upsert(key, Expiring(i + 1, at));
    if (at != 0 && at <= 2000) want.insert(key);
  }
  std::set<std::string> got;
  index.ForEachExpired(2000, [&](std::string_view k, int64_t at) {
    EXPECT_LE(at, 2000);
    got.emplace(k);
  });
  EXPECT_EQ(got, want);
  got.clear();
  index.ForEachExpired(999, [&](std::string_view k, int64_t) { got.emplace(k); });
  EXPECT_TRUE(got.empty());
}

TEST(IndexTtlTest, ScanTtlCoversEveryShardWithACursor) {
  Index index;
  for (int i = 0; i < 5000; ++i) {
    index.Upsert("k" + std::to_string(i), Expiring(i + 1, i % 2 == 0 ? 100 + i : 0));
  }
  Index::TtlCursor cursor;
  std::map<std::string, int> seen;
  size_t total = 0;
  while (total < 2500) {
    const size_t visited = index.ScanTtl(&cursor, 64, [&](std::string_view k, int64_t at) {
      EXPECT_GT(at, 0);
      ++seen[std::string(k)];
    });
    ASSERT_GT(visited, 0u);
    ASSERT_LE(visited, 64u);
    total += visited;
  }
  // One lap's worth of visits saw every TTL key (a lap may end mid-call: a few twice).
  EXPECT_EQ(seen.size(), 2500u);
  Index empty;
  Index::TtlCursor c;
  EXPECT_EQ(empty.ScanTtl(&c, 64, [](std::string_view, int64_t) { FAIL(); }), 0u);
}

TEST(IndexTtlTest, LoaderCountsTheExpiringEntriesItStores) {
  Index index;
  Index::Loader loader(&index);
  loader.Upsert("a", Expiring(1, 10));
  loader.Upsert("a", Expiring(2, 20));
  loader.Upsert("b", At(3));
  loader.Flush();
  EXPECT_EQ(loader.stored_expiring(), 2u);  // both stored in turn
  EXPECT_EQ(index.Find("a")->expire_at_ms, 20);
}

TEST(IndexConcurrencyTest, LoadersOnSeveralThreadsAgreeWithOneThread) {
  // Each key written by every thread, with thread-specific sequence numbers: whatever the
  // interleaving, the highest one wins, as with sequential Upserts.
  Index index;
  constexpr int kThreads = 4, kKeys = 3000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Index::Loader loader(&index);
      for (int i = 0; i < kKeys; ++i) {
        loader.Upsert("key" + std::to_string(i), At(static_cast<uint64_t>(i * kThreads + t + 1)));
        if (i % 1000 == 0) {
          EXPECT_LE(index.size(), static_cast<size_t>(kKeys));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(index.size(), static_cast<size_t>(kKeys));
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(index.Find("key" + std::to_string(i))->seq,
              static_cast<uint64_t>(i * kThreads + kThreads));
  }
}

TEST(IndexConcurrencyTest, ManyWritersAndReaders) {
  Index index;
  constexpr int kThreads = 8, kKeys = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kKeys; ++i) {
        const std::string key = "key" + std::to_string(i);
        if (t % 2 == 0) {
          index.Upsert(key, At(static_cast<uint64_t>(t * kKeys + i + 1)));
        } else if (auto e = index.Find(key)) {
          EXPECT_GE(e->seq, 1u);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(index.size(), static_cast<size_t>(kKeys));
  // The writer with the highest sequence numbers (t = 6) wins every key.
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(index.Find("key" + std::to_string(i))->seq, static_cast<uint64_t>(6 * kKeys + i + 1));
  }
}

}  // namespace
}  // namespace kvs
