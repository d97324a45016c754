#include "store/key_table.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

namespace kvs {
namespace {

IndexEntry At(uint64_t seq) { return IndexEntry{seq, seq * 10, 1, 7}; }

// Every key in one probe sequence: lookups must compare keys, not trust hashes.
uint64_t SameHash(std::string_view) { return 42; }
// A handful of hash values: long clusters that wrap around the end of the slot array.
uint64_t FewHashes(std::string_view key) { return KeyTable::DefaultHash(key) % 5 * 0x33333333u; }

class Model {
 public:
  explicit Model(KeyTable::HashFn fn) : fn_(fn), table_(fn) {}

  void Put(const std::string& key, uint64_t seq) {
    auto [e, inserted] = table_.Emplace(key, fn_(key), At(seq));
    if (!inserted) *e = At(seq);
    want_[key] = seq;
  }
  void Erase(const std::string& key) {
    EXPECT_EQ(table_.Erase(key, fn_(key)), want_.erase(key) == 1) << key;
  }
  void Check() const {
    ASSERT_EQ(table_.size(), want_.size());
    for (const auto& [k, seq] : want_) {
      const IndexEntry* e = table_.Find(k, fn_(k));
      ASSERT_NE(e, nullptr) << k;
      EXPECT_EQ(e->seq, seq) << k;
    }
    std::map<std::string, uint64_t> seen;
    table_.ForEach([&](std::string_view k, const IndexEntry& e) { seen[std::string(k)] = e.seq; });
    EXPECT_EQ(seen, want_);
  }
  KeyTable& table() { return table_; }

 private:
  const KeyTable::HashFn fn_;
  KeyTable table_;
  std::map<std::string, uint64_t> want_;
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
  EXPECT_EQ(t.Find("a", KeyTable::DefaultHash("a")), nullptr);
  EXPECT_FALSE(t.Erase("a", KeyTable::DefaultHash("a")));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.MemoryBytes(), 0u);
}

TEST(KeyTableTest, EmplaceKeepsTheExistingEntry) {
  KeyTable t;
  const uint64_t h = KeyTable::DefaultHash("k");
  EXPECT_TRUE(t.Emplace("k", h, At(1)).second);
  auto [e, inserted] = t.Emplace("k", h, At(2));
  EXPECT_FALSE(inserted);
  EXPECT_EQ(e->seq, 1u);
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
    const IndexEntry* e = t.Find(KeyFor(i), FewHashes(KeyFor(i)));
    if (i % 2 == 1) {
      EXPECT_EQ(e, nullptr) << i;
    } else {
      ASSERT_NE(e, nullptr) << i;
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
