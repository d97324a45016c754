// Damaged data directories against the real kvs-server (issue 8, docs/FORMAT.md
// "Recovery"): a torn tail of the active segment is cut with a warning and everything before
// it is served; damage anywhere else stops the start with an error naming the file and the
// offset, and --repair drops only the damaged records, never serving wrong data.
//
// A base store is made once through the server (several closed segments, then small records
// in the active one), then each case damages a fresh copy of it. The expected contents are
// computed from the segments with an independent reader of the record format.

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <set>

#include "crash/crash_client.h"
#include "crash/expected_state.h"
#include "e2e/harness.h"
#include "store/db_key.h"
#include "store/log_format.h"
#include "store/test_util.h"

namespace kvs::crash {
namespace {

namespace fs = std::filesystem;
namespace lf = kvs::log_format;
using e2e::FreePort;
using e2e::ServerProcess;
using e2e::WaitForPort;
using ::testing::HasSubstr;

constexpr int kStartTimeoutS = 60;
constexpr char kSegmentBytes[] = "4096";

std::string ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

uint32_t Load32(const std::string& b, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

uint64_t Load64(const std::string& b, size_t at) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

// One record as docs/FORMAT.md lays it out (no checksum check: the base store is sound).
struct Rec {
  uint32_t segment;
  uint64_t offset;
  uint64_t size;
  uint64_t seq;
  bool tombstone;
  std::string key;   // as stored: an engine key (store/db_key.h)
  std::string value;
  std::string name;  // the user key the server serves it under (the writes use db 0)
};

std::vector<Rec> ParseSegment(uint32_t id, const std::string& b) {
  std::vector<Rec> out;
  for (uint64_t off = 0; off + lf::kHeaderSize <= b.size();) {
    const uint8_t type = static_cast<uint8_t>(b[off + lf::kTypeOffset]);
    if (type == 0) break;  // preallocated zeros
    const uint32_t k = Load32(b, off + lf::kKeyLenOffset);
    const uint32_t v = Load32(b, off + lf::kValueLenOffset);
    Rec r{id,
          off,
          lf::kHeaderSize + k + v,
          Load64(b, off + lf::kSeqOffset),
          (type & lf::kKindMask) == static_cast<uint8_t>(lf::Kind::kTombstone),
          b.substr(off + lf::kHeaderSize, k),
          b.substr(off + lf::kHeaderSize + k, v),
          {}};
    uint32_t db = 0;
    std::string_view user = r.key;
    if ((type & lf::kKeyHasDb) != 0 && DecodeDbKey(r.key, &db, &user)) r.name = user;
    else r.name = r.key;
    off += r.size;
    // A compaction output's leading meta record holds no key of the store.
    if ((type & lf::kKindMask) == static_cast<uint8_t>(lf::Kind::kMeta)) continue;
    out.push_back(std::move(r));
  }
  return out;
}

// What the store must serve when the records `dropped` says are lost: replay by sequence.
std::map<std::string, std::string> Replay(const std::vector<Rec>& recs,
                                          const std::function<bool(const Rec&)>& dropped) {
  std::vector<const Rec*> order;
  for (const Rec& r : recs) {
    if (!dropped(r)) order.push_back(&r);
  }
  std::sort(order.begin(), order.end(), [](const Rec* a, const Rec* b) { return a->seq < b->seq; });
  std::map<std::string, std::string> state;
  for (const Rec* r : order) {
    if (r->tombstone) {
      state.erase(r->name);
    } else {
      state[r->name] = r->value;
    }
  }
  return state;
}

class CorruptionTest : public ::testing::Test {
 protected:
  // The base store: big values that fill segments 1..n-1 (one removed again), then small
  // records in the active segment ending in a remove and an overwrite.
  static void SetUpTestSuite() {
    base_ = new kvs::testing::TempDir();
    const std::string data = base_->File("data");
    const int port = FreePort();
    ServerProcess server({"--addr", fmt::format("127.0.0.1:{}", port), "--data-dir", data,
                          "--segment-bytes", kSegmentBytes});
    ASSERT_TRUE(WaitForPort(port, kStartTimeoutS)) << server.Stderr();
    std::mt19937_64 rng(42);
    KvConn c(port, Proto::kResp);
    // One write at a time: each is a batch of its own, so a cut drops whole writes.
    auto one = [&](const std::function<void()>& add) {
      add();
      c.Flush();
      std::optional<Reply> r = c.NextWriteReply();
      ASSERT_TRUE(r && r->ok) << (r ? r->error : "no reply");
    };
    for (int i = 0; i < 6; ++i) {
      one([&] { c.AddSet(fmt::format("big-{}", i), MakeValue(0, i, 1500, rng)); });
    }
    one([&] { c.AddRemove("big-1"); });
    for (int i = 0; i < 8; ++i) {
      one([&] { c.AddSet(fmt::format("k{}", i), MakeValue(1, i, 8, rng)); });
    }
    one([&] { c.AddRemove("k5"); });
    one([&] { c.AddSet("k2", MakeValue(2, 0, 10, rng)); });
    ASSERT_EQ(server.Stop(SIGTERM, 60), 0) << server.Stderr();

    for (const auto& e : fs::directory_iterator(data)) {
      const std::string name = e.path().filename().string();
      if (name.ends_with(".log")) segments_.push_back(std::stoul(name));
    }
    std::sort(segments_.begin(), segments_.end());
    last_segment_ = segments_.empty() ? 0 : segments_.back();
    for (uint32_t id : segments_) {
      std::vector<Rec> recs = ParseSegment(id, ReadBytes(fmt::format("{}/{}.log", data, id)));
      base_records_.insert(base_records_.end(), recs.begin(), recs.end());
    }
  }
  static void TearDownTestSuite() {
    delete base_;
    base_ = nullptr;
    base_records_.clear();
    segments_.clear();
  }

  void SetUp() override {
    ASSERT_GE(segments_.size(), 3u) << "the base store should span several segments";
    fs::copy(base_->File("data"), dir_.File("data"), fs::copy_options::recursive);
    for (const Rec& r : base_records_) universe_.insert(r.name);
  }

  std::string Data() const { return dir_.File("data"); }
  std::string SegmentPath(uint32_t id) const { return fmt::format("{}/{}.log", Data(), id); }
  std::vector<Rec> SegmentRecords(uint32_t id) const {
    std::vector<Rec> out;
    for (const Rec& r : base_records_) {
      if (r.segment == id) out.push_back(r);
    }
    return out;
  }

  std::unique_ptr<ServerProcess> Start(const std::vector<std::string>& extra = {}) {
    port_ = FreePort();
    std::vector<std::string> args{"--addr",          fmt::format("127.0.0.1:{}", port_),
                                  "--data-dir",      Data(),
                                  "--segment-bytes", kSegmentBytes};
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<ServerProcess>(args);
  }

  // Every key ever written reads back exactly as `expected` says (absent when missing).
  void ExpectServes(const std::map<std::string, std::string>& expected, const std::string& ctx) {
    KvConn c(port_, Proto::kResp);
    ASSERT_TRUE(c.ok()) << ctx;
    for (const std::string& key : universe_) c.AddGet(key);
    c.Flush();
    for (const std::string& key : universe_) {
      std::optional<Reply> r = c.NextGetReply();
      ASSERT_TRUE(r && r->ok) << ctx << ": GET " << key;
      auto it = expected.find(key);
      if (it == expected.end()) {
        EXPECT_EQ(r->value, std::nullopt) << ctx << ": " << key << " should be absent";
      } else {
        EXPECT_EQ(r->value, std::optional<std::string>(it->second)) << ctx << ": " << key;
      }
    }
  }

  // Starts, expects `expected` served, writes one new key, restarts and expects both.
  void ExpectServesAndAcceptsWrites(std::map<std::string, std::string> expected,
                                    const std::string& ctx) {
    {
      auto server = Start();
      ASSERT_TRUE(WaitForPort(port_, kStartTimeoutS)) << server->Stderr();
      ExpectServes(expected, ctx);
      KvConn c(port_, Proto::kJson);
      c.AddSet("after-restart", "fresh");
      c.Flush();
      std::optional<Reply> r = c.NextWriteReply();
      ASSERT_TRUE(r && r->ok) << ctx;
      ASSERT_EQ(server->Stop(SIGTERM, 60), 0) << server->Stderr();
    }
    expected["after-restart"] = "fresh";
    universe_.insert("after-restart");
    auto server = Start();
    ASSERT_TRUE(WaitForPort(port_, kStartTimeoutS)) << server->Stderr();
    ExpectServes(expected, ctx + " (second start)");
  }

  static kvs::testing::TempDir* base_;
  static std::vector<Rec> base_records_;
  static std::vector<uint32_t> segments_;  // ids of the base store's segments, ascending
  static uint32_t last_segment_;           // the active one

  kvs::testing::TempDir dir_;
  std::set<std::string> universe_;
  int port_ = 0;
};

kvs::testing::TempDir* CorruptionTest::base_ = nullptr;
std::vector<Rec> CorruptionTest::base_records_;
std::vector<uint32_t> CorruptionTest::segments_;
uint32_t CorruptionTest::last_segment_ = 0;

TEST_F(CorruptionTest, TruncationAtEveryOffsetOfTheLastRecordsKeepsEverythingBefore) {
  const std::vector<Rec> active = SegmentRecords(last_segment_);
  ASSERT_GE(active.size(), 2u);
  const Rec& first_cut = active[active.size() - 2];
  const std::string original = ReadBytes(SegmentPath(last_segment_));
  const uint64_t end = first_cut.offset + first_cut.size + active.back().size;
  ASSERT_EQ(original.size(), end) << "a clean stop trims the preallocated tail";
  int starts = 0;
  for (uint64_t cut = first_cut.offset; cut < end; ++cut) {
    const std::string ctx = fmt::format("{}.log cut at {}", last_segment_, cut);
    WriteBytes(SegmentPath(last_segment_), original.substr(0, cut));
    const Rec& torn = cut < first_cut.offset + first_cut.size ? first_cut : active.back();
    const auto expected = Replay(base_records_, [&](const Rec& r) {
      return r.segment == last_segment_ && r.offset + r.size > cut;
    });
    auto server = Start();
    ASSERT_TRUE(WaitForPort(port_, kStartTimeoutS)) << ctx << "\n" << server->Stderr();
    ++starts;
    ExpectServes(expected, ctx);
    ASSERT_EQ(server->Stop(SIGTERM, 60), 0) << server->Stderr();
    const std::string log = server->Stderr();
    const std::string partial = original.substr(torn.offset, cut - torn.offset);
    if (partial.find_first_not_of('\0') != std::string::npos) {
      // Left-over bytes of a torn record: cut away, with a warning naming file and offset.
      EXPECT_THAT(log, HasSubstr("warning")) << ctx;
      EXPECT_THAT(log, HasSubstr(fmt::format("{}.log: discarding {} bytes", last_segment_,
                                             cut - torn.offset)))
          << ctx << "\n"
          << log;
      EXPECT_THAT(log, HasSubstr(fmt::format("at offset {}", torn.offset))) << ctx;
    } else {
      EXPECT_THAT(log, ::testing::Not(HasSubstr("warning"))) << ctx << "\n" << log;
    }
    if (HasFailure()) return;
  }
  std::cout << fmt::format("[crash] truncation: {} cuts of {}.log, {} keys checked each\n", starts,
                           last_segment_, universe_.size());
}

TEST_F(CorruptionTest, TornTailIsCutBeforeNewWritesGoThere) {
  const Rec last = SegmentRecords(last_segment_).back();
  const std::string original = ReadBytes(SegmentPath(last_segment_));
  WriteBytes(SegmentPath(last_segment_), original.substr(0, last.offset + last.size / 2));
  ExpectServesAndAcceptsWrites(
      Replay(base_records_, [&](const Rec& r) { return r.seq == last.seq; }), "torn tail");
}

TEST_F(CorruptionTest, ZerosAfterTheLastRecordAreACleanEnd) {
  // Zeros are what preallocation leaves after the last record: the normal end of the log.
  const std::string path = SegmentPath(last_segment_);
  WriteBytes(path, ReadBytes(path) + std::string(5000, '\0'));
  ExpectServesAndAcceptsWrites(Replay(base_records_, [](const Rec&) { return false; }),
                               "zeros appended");
}

TEST_F(CorruptionTest, GarbageAfterTheLastRecordIsCutWithAWarning) {
  const std::string path = SegmentPath(last_segment_);
  const std::string original = ReadBytes(path);
  std::mt19937_64 rng(7);
  std::string garbage(3000, '\0');
  for (char& c : garbage) c = static_cast<char>(rng());
  WriteBytes(path, original + garbage);
  auto server = Start();
  ASSERT_TRUE(WaitForPort(port_, kStartTimeoutS)) << server->Stderr();
  ExpectServes(Replay(base_records_, [](const Rec&) { return false; }), "garbage");
  ASSERT_EQ(server->Stop(SIGTERM, 60), 0);
  EXPECT_THAT(
      server->Stderr(),
      HasSubstr(fmt::format("{}.log: discarding {} bytes of an incomplete write at offset {}",
                            last_segment_, garbage.size(), original.size())))
      << server->Stderr();
  ExpectServesAndAcceptsWrites(Replay(base_records_, [](const Rec&) { return false; }),
                               "garbage, restarted");
}

// Sets the value-length field of `r` so that the record claims to run `beyond` bytes past
// the end of its file.
void PointLengthPastEnd(const std::string& path, const Rec& r, uint64_t beyond) {
  std::string b = ReadBytes(path);
  const uint64_t v = b.size() - r.offset - lf::kHeaderSize - r.key.size() + beyond;
  for (int i = 0; i < 4; ++i)
    b[r.offset + lf::kValueLenOffset + i] = static_cast<char>(v >> (8 * i));
  WriteBytes(path, b);
}

TEST_F(CorruptionTest, LengthPastTheEndOfTheActiveSegmentIsATornTail) {
  const Rec last = SegmentRecords(last_segment_).back();
  PointLengthPastEnd(SegmentPath(last_segment_), last, 1000);
  auto server = Start();
  ASSERT_TRUE(WaitForPort(port_, kStartTimeoutS)) << server->Stderr();
  ExpectServes(Replay(base_records_, [&](const Rec& r) { return r.seq == last.seq; }), "length");
  ASSERT_EQ(server->Stop(SIGTERM, 60), 0);
  EXPECT_THAT(server->Stderr(), HasSubstr("warning"));
  EXPECT_THAT(
      server->Stderr(),
      HasSubstr(fmt::format("{}.log: discarding {} bytes of an incomplete write at offset {}",
                            last_segment_, last.size, last.offset)));
}

// A damaged closed segment: the start is refused naming file and offset; --repair then drops
// exactly the damaged record, and later starts need no --repair.
class ClosedSegmentDamage : public CorruptionTest {
 protected:
  void ExpectRefusedThenRepaired(uint32_t segment, const Rec& damaged, const std::string& ctx) {
    // A closed segment has a hint file, and a start trusts a whole hint instead of reading
    // the segment (the damage would surface at the first read of that record). These cases
    // are about reading the segment: its hint goes.
    fs::remove(fmt::format("{}/{}.hint", Data(), segment));
    {
      auto server = Start();
      std::optional<int> code = server->WaitExit(kStartTimeoutS);
      ASSERT_TRUE(code.has_value()) << ctx << ": the server started on a damaged segment";
      EXPECT_NE(*code, 0) << ctx;
      const std::string log = server->Stderr();
      EXPECT_THAT(log, HasSubstr("Corruption")) << ctx << "\n" << log;
      EXPECT_THAT(log, HasSubstr(fmt::format("{}: ", SegmentPath(segment)))) << ctx << "\n" << log;
      EXPECT_THAT(log, HasSubstr(fmt::format("at offset {};", damaged.offset))) << ctx << "\n"
                                                                                << log;
      EXPECT_THAT(log, HasSubstr("--repair")) << ctx;
    }
    const auto expected = Replay(base_records_, [&](const Rec& r) { return r.seq == damaged.seq; });
    {
      auto server = Start({"--repair"});
      ASSERT_TRUE(WaitForPort(port_, kStartTimeoutS)) << ctx << "\n" << server->Stderr();
      ExpectServes(expected, ctx + " after --repair");
      ASSERT_EQ(server->Stop(SIGTERM, 60), 0);
      EXPECT_THAT(server->Stderr(),
                  HasSubstr(fmt::format("repair: {}: kept {} records, dropped 1 damaged region(s)",
                                        SegmentPath(segment), SegmentRecords(segment).size() - 1)))
          << ctx << "\n"
          << server->Stderr();
    }
    auto server = Start();
    ASSERT_TRUE(WaitForPort(port_, kStartTimeoutS)) << ctx << "\n" << server->Stderr();
    ExpectServes(expected, ctx + " after repair, restarted");
  }
};

TEST_F(ClosedSegmentDamage, FlippedByteRefusesStartAndRepairDropsOnlyThatRecord) {
  const uint64_t seed = TestSeed();
  std::cout << fmt::format("[crash] byte flips: seed {} (rerun: KVS_CRASH_SEED={})\n", seed, seed);
  std::mt19937_64 rng(seed);
  const std::string pristine = dir_.File("pristine");
  fs::copy(Data(), pristine, fs::copy_options::recursive);
  constexpr int kFlips = 5;
  for (int i = 0; i < kFlips; ++i) {
    fs::remove_all(Data());
    fs::copy(pristine, Data(), fs::copy_options::recursive);
    const uint32_t segment = segments_[rng() % (segments_.size() - 1)];  // a closed one
    std::string b = ReadBytes(SegmentPath(segment));
    const uint64_t at = rng() % b.size();
    b[at] = static_cast<char>(b[at] ^ (1 + rng() % 255));
    WriteBytes(SegmentPath(segment), b);
    const std::vector<Rec> recs = SegmentRecords(segment);
    const Rec& damaged = *std::find_if(recs.begin(), recs.end(), [&](const Rec& r) {
      return at >= r.offset && at < r.offset + r.size;
    });
    ExpectRefusedThenRepaired(segment, damaged,
                              fmt::format("byte {} of {}.log flipped", at, segment));
    if (HasFailure()) return;
  }
}

TEST_F(ClosedSegmentDamage, LengthPastTheEndOfAClosedSegmentRefusesStart) {
  const uint32_t closed = segments_.front();
  const Rec last = SegmentRecords(closed).back();
  PointLengthPastEnd(SegmentPath(closed), last, 1000);
  ExpectRefusedThenRepaired(closed, last, "length past the end of a closed segment");
}

TEST_F(ClosedSegmentDamage, DamageBeforeValidRecordsOfTheActiveSegmentIsNotATornTail) {
  // A later complete write after the damage cannot come from a crash: refused as well.
  const Rec first = SegmentRecords(last_segment_).front();
  std::string b = ReadBytes(SegmentPath(last_segment_));
  b[first.offset + lf::kHeaderSize] ^= 0x20;  // the key's first byte
  WriteBytes(SegmentPath(last_segment_), b);
  ExpectRefusedThenRepaired(last_segment_, first, "first record of the active segment");
}

}  // namespace
}  // namespace kvs::crash
