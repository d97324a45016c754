#include "base/status.h"

#include <cerrno>

#include <gtest/gtest.h>

#include "base/result.h"

namespace kvs {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_EQ(s.err_no(), 0);
}

TEST(StatusTest, ErrorCarriesCodeAndMessage) {
  Status s = Status::Corruption("3.log: checksum mismatch at offset 42");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.message(), "3.log: checksum mismatch at offset 42");
  EXPECT_EQ(s.ToString(), "Corruption: 3.log: checksum mismatch at offset 42");
}

TEST(StatusTest, FromErrnoNamesTheCall) {
  Status s = Status::FromErrno("open /nonexistent", ENOENT);
  EXPECT_TRUE(s.IsIOError());
  EXPECT_EQ(s.err_no(), ENOENT);
  EXPECT_EQ(s.message(), "open /nonexistent: No such file or directory");
}

TEST(StatusTest, CopyIsDeep) {
  Status a = Status::Busy("locked");
  Status b = a;
  a = Status::Ok();
  EXPECT_TRUE(a.ok());
  EXPECT_TRUE(b.IsBusy());
  EXPECT_EQ(b.message(), "locked");
}

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  KVS_ASSIGN_OR_RETURN(int half, Half(x));
  return Half(half);
}

TEST(ResultTest, ValueAndError) {
  EXPECT_EQ(Quarter(8).value(), 2);
  Result<int> r = Quarter(6);
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument());
}

}  // namespace
}  // namespace kvs
