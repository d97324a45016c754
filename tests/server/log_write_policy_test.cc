// LogWritePolicy: which way the loop writes a LogWriter batch, for each --log-write value.

#include "server/log_write_policy.h"

#include <gtest/gtest.h>

namespace kvs {
namespace {

using How = LogWritePolicy::How;

TEST(LogWritePolicyTest, AutoWritesInlineWhenNoLookupWaits) {
  EXPECT_EQ(LogWritePolicy(LogWritePath::kAuto).Choose(/*lookups_in_flight=*/false), How::kInline);
}

TEST(LogWritePolicyTest, AutoGoesThroughUringBesideLookups) {
  // Their replies go out during the fsync instead of waiting behind it.
  EXPECT_EQ(LogWritePolicy(LogWritePath::kAuto).Choose(/*lookups_in_flight=*/true), How::kUring);
}

TEST(LogWritePolicyTest, InlineAndUringAreAlwaysThemselves) {
  for (bool lookups : {false, true}) {
    EXPECT_EQ(LogWritePolicy(LogWritePath::kInline).Choose(lookups), How::kInline);
    EXPECT_EQ(LogWritePolicy(LogWritePath::kUring).Choose(lookups), How::kUring);
  }
}

TEST(LogWritePolicyTest, ParsesTheFlagsWords) {
  EXPECT_EQ(ParseLogWritePath("auto"), LogWritePath::kAuto);
  EXPECT_EQ(ParseLogWritePath("inline"), LogWritePath::kInline);
  EXPECT_EQ(ParseLogWritePath("uring"), LogWritePath::kUring);
  EXPECT_EQ(ParseLogWritePath("Inline"), std::nullopt);
  EXPECT_EQ(ParseLogWritePath(""), std::nullopt);
}

}  // namespace
}  // namespace kvs
