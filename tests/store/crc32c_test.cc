#include "store/crc32c.h"

#include <string>

#include <gtest/gtest.h>

namespace kvs::crc32c {
namespace {

TEST(Crc32cTest, StandardCheckValue) {
  // The published check value of CRC-32C (iSCSI, RFC 3720).
  EXPECT_EQ(Value("123456789"), 0xe3069283u);
}

TEST(Crc32cTest, Rfc3720Vectors) {
  EXPECT_EQ(Value(std::string(32, '\0')), 0x8a9136aau);
  EXPECT_EQ(Value(std::string(32, '\xff')), 0x62a8ab43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(Value(ascending), 0x46dd794eu);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  std::string data = "hello, durable world: a record of some length";
  for (size_t split = 0; split <= data.size(); ++split) {
    uint32_t part = Extend(0, data.data(), split);
    EXPECT_EQ(Extend(part, data.data() + split, data.size() - split), Value(data)) << split;
  }
}

TEST(Crc32cTest, MaskRoundTripsAndDiffers) {
  uint32_t crc = Value("foo");
  EXPECT_NE(Mask(crc), crc);
  EXPECT_NE(Mask(Mask(crc)), crc);
  EXPECT_EQ(Unmask(Mask(crc)), crc);
  EXPECT_EQ(Unmask(Unmask(Mask(Mask(crc)))), crc);
}

}  // namespace
}  // namespace kvs::crc32c
