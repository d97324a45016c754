#include "store/key_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

namespace kvs {
namespace {

IndexEntry At(uint64_t seq, int64_t expire_at_ms = 0) {
  return IndexEntry{seq, seq * 10, 1, 7, expire_at_ms};
}

// Every key in one probe sequence: lookups must compare keys, not trust hashes.
uint64_t SameHash(std::string_view) { return 42; }
// A handful of hash values: long clusters that wrap around the end of the slot array.
uint64_t FewHashes(std::string_view key) { return KeyTable::DefaultHash(key) % 5 * 0x33333333u; }

class Model {
 public:
  explicit Model(KeyTable::HashFn fn) : fn_(fn), table_(fn) {}

  void Put(const std::string& key, uint64_t seq, int64_t expire_at_ms = 0) {
    auto [pos, inserted] = table_.Emplace(key, fn_(key), At(seq, expire_at_ms));
    if (!inserted) table_.Assign(pos, At(seq, expire_at_ms));
    want_[key] = seq;
    if (expire_at_ms != 0) {
      ttl_[key] = expire_at_ms;
    } else {
      ttl_.erase(key);
    }
  }
  void Erase(const std::string& key) {
    EXPECT_EQ(table_.Erase(key, fn_(key)), want_.erase(key) == 1) << key;
    ttl_.erase(key);
  }
  void Check() const {
    ASSERT_EQ(table_.size(), want_.size());
    for (const auto& [k, seq] : want_) {
      const std::optional<IndexEntry> e = table_.Find(k, fn_(k));
      ASSERT_TRUE(e.has_value()) << k;
      EXPECT_EQ(e->seq, seq) << k;
      auto ttl = ttl_.find(k);
      EXPECT_EQ(e->expire_at_ms, ttl == ttl_.end() ? 0 : ttl->second) << k;
    }
    std::map<std::string, uint64_t> seen;
    table_.ForEach([&](std::string_view k, const IndexEntry& e) { seen[std::string(k)] = e.seq; });
    EXPECT_EQ(seen, want_);
    std::map<std::string, int64_t> seen_ttl;
    table_.ForEachTtl(INT64_MAX,
                      [&](std::string_view k, int64_t at) { seen_ttl[std::string(k)] = at; });
    EXPECT_EQ(seen_ttl, ttl_);
    EXPECT_EQ(table_.ttl_count(), ttl_.size());
  }
  KeyTable& table() { return table_; }

 private:
  const KeyTable::HashFn fn_;
  KeyTable table_;
  std::map<std::string, uint64_t> want_;
  std::map<std::string, int64_t> ttl_;  // the keys that have an expiry time
};

// Short (inline), exactly inline-sized and long keys, some with NUL bytes.
std::string KeyFor(uint32_t n) {
  switch (n % 4) {
    case 0:
      return "k" + std::to_string(n);
    case 1:
      return std::string(KeyTable::kInlineKeyBytes - 6, 'i') + std::to_string(100000 + n);
    case 2:
      return std::string("l\0ng", 4) + std::string(40 + n % 50, 'x') + std::to_string(n);
    default:
      return std::string(KeyTable::kInlineKeyBytes, 'e')
          .replace(0, 8, std::to_string(10000000 + n));
  }
}

TEST(KeyTableTest, EmptyFindsNothing) {
  KeyTable t;
  EXPECT_FALSE(t.Find("a", KeyTable::DefaultHash("a")).has_value());
  EXPECT_EQ(t.Locate("a", KeyTable::DefaultHash("a")), KeyTable::kAbsent);
  EXPECT_FALSE(t.Erase("a", KeyTable::DefaultHash("a")));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.MemoryBytes(), 0u);
}

TEST(KeyTableTest, EmplaceKeepsTheExistingEntry) {
  KeyTable t;
  const uint64_t h = KeyTable::DefaultHash("k");
  EXPECT_TRUE(t.Emplace("k", h, At(1)).second);
  auto [pos, inserted] = t.Emplace("k", h, At(2));
  EXPECT_FALSE(inserted);
  EXPECT_EQ(t.At(pos).seq, 1u);
  EXPECT_EQ(t.size(), 1u);
}

TEST(KeyTableTest, FullHashCollisionsCompareKeys) {
  Model m(&SameHash);
  for (uint32_t i = 0; i < 300; ++i) m.Put(KeyFor(i), i + 1);
  m.Check();
  for (uint32_t i = 0; i < 300; i += 3) m.Erase(KeyFor(i));
  m.Check();
  m.Erase("absent");
  m.Check();
}

TEST(KeyTableTest, RandomOpsMatchAMapWithClusteredHashes) {
  for (KeyTable::HashFn fn : {&FewHashes, &KeyTable::DefaultHash}) {
    Model m(fn);
    std::mt19937 rng(7);
    for (int op = 0; op < 20000; ++op) {
      const std::string key = KeyFor(rng() % 500);
      if (rng() % 3 == 0) {
        m.Erase(key);
      } else {
        m.Put(key, static_cast<uint64_t>(op + 1));
      }
      if (op % 2000 == 0) m.Check();
    }
    m.Check();
  }
}

TEST(KeyTableTest, LongKeysUpToTheLimit) {
  Model m(&KeyTable::DefaultHash);
  const std::string longest(65536, 'z');
  const std::string just_over(KeyTable::kInlineKeyBytes + 1, 'o');
  const std::string just_inline(KeyTable::kInlineKeyBytes, 'o');
  m.Put(longest, 1);
  m.Put(just_over, 2);
  m.Put(just_inline, 3);
  m.Check();
  m.Erase(longest);
  m.Check();
  m.Put(std::string(65536, 'y'), 4);  // reuses the released place
  m.Check();
}

TEST(KeyTableTest, ChurnDoesNotGrowTheTable) {
  for (KeyTable::HashFn fn : {&FewHashes, &KeyTable::DefaultHash}) {
    Model m(fn);
    for (uint32_t i = 0; i < 2000; ++i) m.Put(KeyFor(i), i + 1);
    const size_t full = m.table().MemoryBytes();
    // Remove and add keys never seen before, many times the table's size over.
    for (uint32_t round = 1; round <= 10; ++round) {
      for (uint32_t i = 0; i < 2000; ++i) m.Erase(KeyFor((round - 1) * 2000 + i));
      for (uint32_t i = 0; i < 2000; ++i) m.Put(KeyFor(round * 2000 + i), i + 1);
    }
    m.Check();
    EXPECT_LE(m.table().MemoryBytes(), full + full / 10);
  }
}

TEST(KeyTableTest, EraseIfRemovesWhatThePredicateSelects) {
  KeyTable t(&FewHashes);
  for (uint32_t i = 0; i < 1000; ++i) t.Emplace(KeyFor(i), FewHashes(KeyFor(i)), At(i + 1));
  EXPECT_EQ(t.EraseIf([](std::string_view, const IndexEntry& e) { return e.seq % 2 == 0; }), 500u);
  EXPECT_EQ(t.size(), 500u);
  for (uint32_t i = 0; i < 1000; ++i) {
    const std::optional<IndexEntry> e = t.Find(KeyFor(i), FewHashes(KeyFor(i)));
    if (i % 2 == 1) {
      EXPECT_FALSE(e.has_value()) << i;
    } else {
      ASSERT_TRUE(e.has_value()) << i;
      EXPECT_EQ(e->seq, i + 1u);
    }
  }
}

TEST(KeyTableTest, ReserveAvoidsGrowth) {
  KeyTable t;
  t.Reserve(10000);
  const size_t reserved = t.MemoryBytes();
  EXPECT_GT(reserved, 0u);
  for (uint32_t i = 0; i < 10000; ++i) {
    const std::string key = "key" + std::to_string(i);
    ASSERT_TRUE(t.Emplace(key, KeyTable::DefaultHash(key), At(i + 1)).second);
  }
  EXPECT_EQ(t.MemoryBytes(), reserved);
  EXPECT_EQ(t.size(), 10000u);
  // Slots (at most 5/4 per key) plus one 48-byte entry per key.
  EXPECT_LE(reserved, 10000u * (48 + 11));
}

TEST(KeyTableTest, ReserveInBorrowedStorageThenMoveOut) {
  HugeBlock block = HugeBlock::Map(KeyTable::ReserveBytes(100));
  ASSERT_NE(block.data(), nullptr);
  Model m(&KeyTable::DefaultHash);
  m.table().Reserve(100, block.data());
  for (uint32_t i = 0; i < 100; ++i) m.Put(KeyFor(i), i + 1);
  m.Check();
  for (uint32_t i = 100; i < 1000; ++i) m.Put(KeyFor(i), i + 1);  // outgrows the block
  m.Check();
}

// ---- Expiry times in the side map ------------------------------------------------------------

TEST(KeyTableTtlTest, KeysWithoutTtlPayNothing) {
  KeyTable plain, mixed;
  for (uint32_t i = 0; i < 1000; ++i) {
    const std::string key = KeyFor(i);
    plain.Emplace(key, KeyTable::DefaultHash(key), At(i + 1));
    mixed.Emplace(key, KeyTable::DefaultHash(key), At(i + 1));
  }
  EXPECT_EQ(mixed.MemoryBytes(), plain.MemoryBytes());
  EXPECT_EQ(mixed.earliest_expiry(), INT64_MAX);
  // A TTL on 100 of them costs the side map only: 12-byte slots at most 4/5 full, and grown
  // by half at a time.
  for (uint32_t i = 0; i < 100; ++i) {
    const std::string key = KeyFor(i);
    const size_t pos = mixed.Locate(key, KeyTable::DefaultHash(key));
    mixed.Assign(pos, At(i + 1, 5000 + i));
  }
  EXPECT_EQ(mixed.ttl_count(), 100u);
  EXPECT_GT(mixed.MemoryBytes(), plain.MemoryBytes());
  EXPECT_LE(mixed.MemoryBytes() - plain.MemoryBytes(), 100u * 12 * 2);
  EXPECT_EQ(mixed.earliest_expiry(), 5000);
}

TEST(KeyTableTtlTest, OverwriteWithoutTtlClearsIt) {
  Model m(&KeyTable::DefaultHash);
  m.Put("a", 1, 100);
  m.Put("b", 2, 200);
  m.Check();
  m.Put("a", 3);  // no expiry time any more
  m.Check();
  m.Put("b", 4, 250);  // a new one
  m.Check();
  EXPECT_EQ(m.table().ttl_count(), 1u);
}

TEST(KeyTableTtlTest, EraseMovesTheLastEntrysTtl) {
  // Erase moves the last entry into the hole: its expiry time must follow it, and the erased
  // entry's must not be inherited by whatever takes its place.
  Model m(&KeyTable::DefaultHash);
  m.Put("first", 1, 111);
  m.Put("plain", 2);
  m.Put("last", 3, 333);
  m.Erase("first");  // "last" moves to position 0
  m.Check();
  m.Put("new", 4);  // takes position 2, once "last"'s
  m.Check();
  m.Erase("plain");  // "new" (no TTL) moves to position 1
  m.Check();
  m.Erase("last");
  m.Check();
  EXPECT_EQ(m.table().ttl_count(), 0u);
}

TEST(KeyTableTtlTest, RandomOpsWithTtlsMatchAMap) {
  for (KeyTable::HashFn fn : {&FewHashes, &SameHash, &KeyTable::DefaultHash}) {
    Model m(fn);
    std::mt19937 rng(11);
    for (int op = 0; op < 20000; ++op) {
      const std::string key = KeyFor(rng() % 400);
      switch (rng() % 4) {
        case 0:
          m.Erase(key);
          break;
        case 1:
          m.Put(key, static_cast<uint64_t>(op + 1));
          break;
        default:
          m.Put(key, static_cast<uint64_t>(op + 1), 1000 + static_cast<int64_t>(rng() % 100000));
      }
      if (op % 1000 == 0) m.Check();
    }
    m.Check();
  }
}

TEST(KeyTableTtlTest, ManyTtlKeysThenTheirRemovalGivesTheSideMapBack) {
  Model m(&KeyTable::DefaultHash);
  for (uint32_t i = 0; i < 500; ++i) m.Put(KeyFor(i), i + 1);
  const size_t without = m.table().MemoryBytes();
  for (uint32_t i = 500; i < 20500; ++i) m.Put(KeyFor(i), i + 1, 1000 + i);  // many rehashes
  m.Check();
  for (uint32_t i = 500; i < 20500; ++i) m.Erase(KeyFor(i));
  m.Check();
  EXPECT_EQ(m.table().ttl_count(), 0u);
  // The side map is gone; the entry arrays keep their grown size (as without TTLs).
  KeyTable same;
  for (uint32_t i = 0; i < 20500; ++i) {
    same.Emplace(KeyFor(i), KeyTable::DefaultHash(KeyFor(i)), At(i + 1));
  }
  for (uint32_t i = 500; i < 20500; ++i) same.Erase(KeyFor(i), KeyTable::DefaultHash(KeyFor(i)));
  EXPECT_EQ(m.table().MemoryBytes(), same.MemoryBytes());
  EXPECT_GT(m.table().MemoryBytes(), without);
}

TEST(KeyTableTtlTest, EraseIfSeesAndRemovesTtls) {
  Model m(&FewHashes);
  for (uint32_t i = 0; i < 1000; ++i) m.Put(KeyFor(i), i + 1, i % 3 == 0 ? 0 : 100 + i);
  size_t erased = m.table().EraseIf([](std::string_view, const IndexEntry& e) {
    return e.expire_at_ms != 0 && e.expire_at_ms < 600;
  });
  EXPECT_EQ(erased, 333u);  // 100 + i < 600 for i < 500 with i % 3 != 0
  m.table().ForEach([](std::string_view, const IndexEntry& e) {
    EXPECT_TRUE(e.expire_at_ms == 0 || e.expire_at_ms >= 600);
  });
  EXPECT_EQ(m.table().ttl_count(), 1000u - 334u - 333u);
}

TEST(KeyTableTtlTest, EarliestExpiryIsALowerBoundMadeExactByAWalk) {
  KeyTable t;
  auto put = [&](const std::string& key, int64_t at) {
    auto [pos, inserted] = t.Emplace(key, KeyTable::DefaultHash(key), At(1, at));
    if (!inserted) t.Assign(pos, At(1, at));
  };
  put("a", 500);
  put("b", 300);
  EXPECT_EQ(t.earliest_expiry(), 300);
  EXPECT_TRUE(t.Erase("b", KeyTable::DefaultHash("b")));
  EXPECT_EQ(t.earliest_expiry(), 300);  // stale, still a lower bound
  t.ForEachTtl(INT64_MAX, [](std::string_view, int64_t) {});
  EXPECT_EQ(t.earliest_expiry(), 500);
  put("a", 0);
  t.ForEachTtl(INT64_MAX, [](std::string_view, int64_t) {});
  EXPECT_EQ(t.earliest_expiry(), INT64_MAX);
}

TEST(KeyTableTtlTest, ForEachTtlHandsOutOnlyTimesUpToItsBound) {
  Model m(&KeyTable::DefaultHash);
  for (uint32_t i = 0; i < 100; ++i) m.Put(KeyFor(i), i + 1, i % 2 == 0 ? 1000 + i : 0);
  std::map<std::string, int64_t> got;
  m.table().ForEachTtl(1010, [&](std::string_view k, int64_t at) { got[std::string(k)] = at; });
  EXPECT_EQ(got.size(), 6u);  // 1000, 1002, ..., 1010
  for (const auto& [k, at] : got) EXPECT_LE(at, 1010) << k;
  EXPECT_EQ(m.table().earliest_expiry(), 1000);  // over every time, not only those handed out
}

TEST(KeyTableTtlTest, ScanTtlResumesAndCoversEveryTtlKey) {
  Model m(&KeyTable::DefaultHash);
  for (uint32_t i = 0; i < 3000; ++i) m.Put(KeyFor(i), i + 1, i % 2 == 0 ? 1000 + i : 0);
  std::map<std::string, int> seen;
  size_t cursor = 0;
  int calls = 0;
  for (bool done = false; !done; ++calls) {
    size_t visited = 0, budget = 400;
    done = m.table().ScanTtl(&cursor, 100, &visited, &budget, [&](std::string_view k, int64_t at) {
      ++seen[std::string(k)];
      EXPECT_GT(at, 0);
    });
    EXPECT_LE(visited, 100u);
    ASSERT_LT(calls, 1000);
  }
  EXPECT_EQ(seen.size(), 1500u);
  for (const auto& [k, n] : seen) EXPECT_EQ(n, 1) << k;
  EXPECT_GE(calls, 15);
}

TEST(PodArrayTest, ZeroedReserveAppendAndMove) {
  PodArray<uint64_t> zeros = PodArray<uint64_t>::Zeroed(5000);
  ASSERT_EQ(zeros.size(), 5000u);
  for (uint64_t v : zeros) EXPECT_EQ(v, 0u);
  PodArray<uint64_t> a;
  for (uint64_t i = 0; i < 100; ++i) {
    if (a.size() == a.capacity()) a.reserve(a.size() + 7);
    a.push_back(i * 3);
  }
  a.pop_back();
  ASSERT_EQ(a.size(), 99u);
  EXPECT_EQ(a[98], 294u);
  PodArray<uint64_t> b = std::move(a);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_EQ(b.size(), 99u);
  EXPECT_EQ(b[10], 30u);
}

}  // namespace
}  // namespace kvs

namespace kvs {
namespace {

// A table that loses most of its keys gives the memory back and still finds the rest, with
// their expiry times; growing again works.
TEST(KeyTableShrinkTest, ErasingMostKeysShrinksTheArrays) {
  Model m(&KeyTable::DefaultHash);
  constexpr uint32_t kKeys = 50'000;
  for (uint32_t i = 0; i < kKeys; ++i) m.Put(KeyFor(i), i + 1, i % 3 == 0 ? 1000 + i : 0);
  const size_t full = m.table().MemoryBytes();
  for (uint32_t i = 0; i < kKeys; ++i) {
    if (i % 100 != 0) m.Erase(KeyFor(i));
  }
  m.Check();
  EXPECT_LT(m.table().MemoryBytes(), full / 4);  // long keys keep their vector
  for (uint32_t i = kKeys; i < kKeys + 5000; ++i) m.Put(KeyFor(i), i + 1, 7);
  m.Check();
}

TEST(KeyTableShrinkTest, EraseIfShrinksToo) {
  Model m(&KeyTable::DefaultHash);
  for (uint32_t i = 0; i < 20'000; ++i) m.Put(KeyFor(i), i + 1);
  const size_t full = m.table().MemoryBytes();
  EXPECT_EQ(m.table().EraseIf([](std::string_view, const IndexEntry& e) { return e.seq > 10; }),
            20'000u - 10);
  EXPECT_LT(m.table().MemoryBytes(), full / 4);  // long keys keep their vector
  EXPECT_EQ(m.table().size(), 10u);
  for (uint32_t i = 0; i < 10; ++i)
    EXPECT_TRUE(m.table().Find(KeyFor(i), KeyTable::DefaultHash(KeyFor(i))).has_value());
}

}  // namespace
}  // namespace kvs
