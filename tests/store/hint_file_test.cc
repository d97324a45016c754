#include "store/hint_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "store/test_util.h"

namespace kvs {
namespace {

using log_format::Kind;
using ::testing::HasSubstr;

struct Owned {
  std::string key;
  Kind kind;
  uint64_t seq, offset;
  uint32_t value_len;
};

class HintFileTest : public ::testing::Test {
 protected:
  void WriteHint(uint64_t segment_size, int entries) {
    auto f = Env::Default()->Open(path_, OpenMode::kCreateNew);
    ASSERT_TRUE(f.ok());
    HintWriter w(std::move(f).value());
    for (int i = 0; i < entries; ++i) {
      const std::string key = "key" + std::to_string(i);
      ASSERT_TRUE(w.Add(HintEntry{key, Kind::kPut, 100u + i, 30u * i, 7}).ok());
    }
    EXPECT_EQ(w.count(), static_cast<uint64_t>(entries));
    ASSERT_TRUE(w.Finish(segment_size).ok());
  }
  Status Read(uint64_t segment_size, std::vector<Owned>* out) {
    auto f = Env::Default()->Open(path_, OpenMode::kRead);
    if (!f.ok()) return f.status();
    return ReadHintFile(**f, segment_size, [&](const HintEntry& e) {
      out->push_back(Owned{std::string(e.key), e.kind, e.seq, e.offset, e.value_len});
    });
  }

  testing::TempDir dir_;
  const std::string path_ = dir_.File("7.hint");
};

TEST_F(HintFileTest, RoundTrips) {
  WriteHint(5000, 100);
  std::vector<Owned> got;
  ASSERT_TRUE(Read(5000, &got).ok());
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got[42].key, "key42");
  EXPECT_EQ(got[42].seq, 142u);
  EXPECT_EQ(got[42].offset, 30u * 42);
  EXPECT_EQ(got[42].value_len, 7u);
  EXPECT_EQ(got[42].kind, Kind::kPut);
}

TEST_F(HintFileTest, EmptyHintRoundTrips) {
  WriteHint(40, 0);
  std::vector<Owned> got;
  EXPECT_TRUE(Read(40, &got).ok());
  EXPECT_TRUE(got.empty());
}

TEST_F(HintFileTest, EveryFlippedByteIsCorruptionAndYieldsNothing) {
  WriteHint(5000, 5);
  const std::string good = *ReadFile(Env::Default(), path_);
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x20);
    ASSERT_TRUE(WriteFileAtomic(Env::Default(), dir_.path(), "7.hint", bad).ok());
    std::vector<Owned> got;
    Status s = Read(5000, &got);
    EXPECT_TRUE(s.IsCorruption()) << "byte " << i;
    EXPECT_TRUE(got.empty()) << "byte " << i;
  }
}

TEST_F(HintFileTest, TruncatedHintIsCorruption) {
  WriteHint(5000, 5);
  std::filesystem::resize_file(path_, std::filesystem::file_size(path_) - 1);
  std::vector<Owned> got;
  Status s = Read(5000, &got);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_THAT(s.ToString(), HasSubstr("7.hint"));
}

TEST_F(HintFileTest, HintOfADifferentSegmentSizeIsRejected) {
  WriteHint(5000, 5);
  std::vector<Owned> got;
  Status s = Read(5001, &got);
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_THAT(s.ToString(), HasSubstr("5000"));
  EXPECT_TRUE(got.empty());
}

}  // namespace
}  // namespace kvs
