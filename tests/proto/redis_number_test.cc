// The number conversions against redis-server 7.0.15 (Debian 12). Each table row is a
// command sent to that server and its reply, quoted verbatim: SET k <stored> (or no key),
// then INCRBYFLOAT k <arg> / INCRBY k <arg>. The tests replay each command through the
// functions as Redis's command does (t_string.c), so they check parsing, arithmetic limits,
// formatting and the error texts together.
#include "proto/redis_number.h"

#include <gtest/gtest.h>

#include <clocale>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

namespace kvs::proto {
namespace {

using std::string_view_literals::operator""sv;

// A reply as text: "-ERR ..." for an error, "$bytes" for a bulk string, ":n" for an integer.
std::string Err(std::string_view text) { return "-" + std::string(text); }
std::string Bulk(std::string_view s) { return "$" + std::string(s); }
std::string Int(int64_t n) { return ":" + std::to_string(n); }

constexpr std::optional<std::string_view> kMissing;  // No key: the value counts as 0.

struct Row {
  std::optional<std::string_view> stored;
  std::string_view arg;
  std::string reply;
};

// INCRBYFLOAT as incrbyfloatCommand runs it: the stored value is parsed first, then the
// increment; the sum is checked, then printed.
std::string IncrByFloat(std::optional<std::string_view> stored, std::string_view arg) {
  long double value = 0;
  long double incr = 0;
  if ((stored && !ParseLongDouble(*stored, &value)) || !ParseLongDouble(arg, &incr)) {
    return Err(errors::kNotFloat);
  }
  value += incr;
  if (std::isnan(value) || std::isinf(value)) return Err(errors::kNanOrInfinity);
  return Bulk(FormatLongDouble(value));
}

// INCRBY as incrDecrCommand runs it: the stored value, then the increment, then overflow.
std::string IncrBy(std::optional<std::string_view> stored, std::string_view arg) {
  int64_t value = 0;
  int64_t incr = 0;
  if (stored && !ParseInt64(*stored, &value)) return Err(errors::kNotInteger);
  if (!ParseInt64(arg, &incr)) return Err(errors::kNotInteger);
  if ((incr < 0 && value < 0 && incr < INT64_MIN - value) ||
      (incr > 0 && value > 0 && incr > INT64_MAX - value)) {
    return Err(errors::kIncrDecrOverflow);
  }
  return Int(value + incr);
}

// INCRBYFLOAT k 1e308 on a missing key
constexpr std::string_view kOneE308 =
    "9999999999999999999668587965584564566056009984741556720779704799492173486883806187210012"
    "6921888539320446747225054013223152134749593960583597420814430196418767959100019603190778"
    "6631096045071066679391533957889389145605435630612683649016186302170865892534448816237913"
    "00855757318142424510452728255046343928578048";

// INCRBYFLOAT k 1e308 on the value "1e308"
constexpr std::string_view kTwoE308 =
    "1999999999999999999933717593116912913211201996948311344155940959898434697376761237442002"
    "5384377707864089349445010802644630426949918792116719484162886039283753591820003920638155"
    "7326219209014213335878306791577877829121087126122536729803237260434173178506889763247582"
    "601711514636284849020905456510092687857156096";

// INCRBYFLOAT k -1e308 on a missing key
constexpr std::string_view kMinusOneE308 =
    "-999999999999999999966858796558456456605600998474155672077970479949217348688380618721001"
    "2692188853932044674722505401322315213474959396058359742081443019641876795910001960319077"
    "8663109604507106667939153395788938914560543563061268364901618630217086589253444881623791"
    "300855757318142424510452728255046343928578048";

// "1" followed by 5000 zeros: too large for a long double (not the 5120-byte limit).
const std::string kOneE5000 = "1" + std::string(5000, '0');

// clang-format off
const Row kIncrByFloat[] = {
    {kMissing, "10.5", Bulk("10.5")},
    {"10.5", "0.1", Bulk("10.6")},
    {kMissing, "3.0e3", Bulk("3000")},
    {kMissing, "5.0e3", Bulk("5000")},
    {kMissing, "1e5", Bulk("100000")},
    {kMissing, "0.1", Bulk("0.1")},
    {"0.1", "0.2", Bulk("0.3")},
    {kMissing, "1.5e-7", Bulk("0.00000015")},
    {kMissing, "123456789.123456789", Bulk("123456789.12345678899873747")},
    {kMissing, "1.23456789012345678901234567890", Bulk("1.23456789012345679")},
    {kMissing, "3.14159265358979323846", Bulk("3.14159265358979324")},
    {kMissing, "1e-17", Bulk("0.00000000000000001")},
    {kMissing, "5e-18", Bulk("0")},
    {kMissing, "6e-18", Bulk("0.00000000000000001")},
    {kMissing, "-5e-18", Bulk("0")},
    {kMissing, "-6e-18", Bulk("-0.00000000000000001")},
    {kMissing, "-1e-20", Bulk("0")},
    {kMissing, "-0", Bulk("0")},
    {kMissing, "-0.0", Bulk("0")},
    {"5", "-5", Bulk("0")},
    {"-5", "2.5", Bulk("-2.5")},
    {kMissing, "+1", Bulk("1")},
    {kMissing, ".5", Bulk("0.5")},
    {kMissing, "5.", Bulk("5")},
    {kMissing, "0x1p3", Bulk("8")},
    {kMissing, "0X1P-2", Bulk("0.25")},
    {kMissing, "0x1.8p1", Bulk("3")},
    {"007", "1", Bulk("8")},
    {kMissing, "9223372036854775807", Bulk("9223372036854775807")},
    {"9223372036854775807", "1", Bulk("9223372036854775808")},
    {"-9223372036854775808", "-1", Bulk("-9223372036854775809")},
    {kMissing, "1e308", Bulk(kOneE308)},
    {"1e308", "1e308", Bulk(kTwoE308)},
    {kMissing, "-1e308", Bulk(kMinusOneE308)},
    {kMissing, "1e-4940", Bulk("0")},
    {kMissing, "-1e-4940", Bulk("0")},
    {kMissing, "inf", Err(errors::kNanOrInfinity)},
    {kMissing, "-inf", Err(errors::kNanOrInfinity)},
    {kMissing, "infinity", Err(errors::kNanOrInfinity)},
    {kMissing, "INF", Err(errors::kNanOrInfinity)},
    {"inf", "1", Err(errors::kNanOrInfinity)},
    {"inf", "-inf", Err(errors::kNanOrInfinity)},
    {"1e4932", "1e4932", Err(errors::kNanOrInfinity)},
    {kMissing, "nan", Err(errors::kNotFloat)},
    {kMissing, "-nan", Err(errors::kNotFloat)},
    {kMissing, "nan(123)", Err(errors::kNotFloat)},
    {kMissing, "NaN", Err(errors::kNotFloat)},
    {kMissing, "1e5000", Err(errors::kNotFloat)},
    {kMissing, "-1e5000", Err(errors::kNotFloat)},
    {kMissing, "1e-5000", Err(errors::kNotFloat)},
    {kMissing, kOneE5000, Err(errors::kNotFloat)},
    {kMissing, "", Err(errors::kNotFloat)},
    {kMissing, " 1", Err(errors::kNotFloat)},
    {kMissing, "  1", Err(errors::kNotFloat)},
    {kMissing, "\x09" "1", Err(errors::kNotFloat)},
    {kMissing, "\x0a" "1", Err(errors::kNotFloat)},
    {kMissing, "1 ", Err(errors::kNotFloat)},
    {kMissing, "1\x00"sv, Err(errors::kNotFloat)},
    {kMissing, "\x00" "1"sv, Err(errors::kNotFloat)},
    {kMissing, "1,5", Err(errors::kNotFloat)},
    {kMissing, "1_000", Err(errors::kNotFloat)},
    {kMissing, "0x", Err(errors::kNotFloat)},
    {kMissing, "e5", Err(errors::kNotFloat)},
    {kMissing, "1e", Err(errors::kNotFloat)},
    {kMissing, "-", Err(errors::kNotFloat)},
    {kMissing, "+", Err(errors::kNotFloat)},
    {kMissing, ".", Err(errors::kNotFloat)},
    {kMissing, "abc", Err(errors::kNotFloat)},
    {"abc", "1", Err(errors::kNotFloat)},
    {"1", "abc", Err(errors::kNotFloat)},
    {" 1", "1", Err(errors::kNotFloat)},
    {"1 ", "1", Err(errors::kNotFloat)},
    {"", "1", Err(errors::kNotFloat)},
};

const Row kIncrBy[] = {
    {kMissing, "0", Int(0)},
    {kMissing, "1", Int(1LL)},
    {kMissing, "-1", Int(-1LL)},
    {kMissing, "10", Int(10LL)},
    {kMissing, "-0", Err(errors::kNotInteger)},
    {kMissing, "+1", Err(errors::kNotInteger)},
    {kMissing, "01", Err(errors::kNotInteger)},
    {kMissing, "-01", Err(errors::kNotInteger)},
    {kMissing, "00", Err(errors::kNotInteger)},
    {kMissing, " 1", Err(errors::kNotInteger)},
    {kMissing, "1 ", Err(errors::kNotInteger)},
    {kMissing, "", Err(errors::kNotInteger)},
    {kMissing, "-", Err(errors::kNotInteger)},
    {kMissing, "9223372036854775807", Int(9223372036854775807LL)},
    {kMissing, "9223372036854775808", Err(errors::kNotInteger)},
    {kMissing, "-9223372036854775808", Int(INT64_MIN)},
    {kMissing, "-9223372036854775809", Err(errors::kNotInteger)},
    {kMissing, "18446744073709551615", Err(errors::kNotInteger)},
    {kMissing, "18446744073709551616", Err(errors::kNotInteger)},
    {kMissing, "99999999999999999999", Err(errors::kNotInteger)},
    {kMissing, "-99999999999999999999", Err(errors::kNotInteger)},
    {kMissing, "-00000000000000000001", Err(errors::kNotInteger)},
    {kMissing, "1.0", Err(errors::kNotInteger)},
    {kMissing, "1e3", Err(errors::kNotInteger)},
    {kMissing, "0x10", Err(errors::kNotInteger)},
    {kMissing, "\x00" "1"sv, Err(errors::kNotInteger)},
    {kMissing, "1\x00"sv, Err(errors::kNotInteger)},
    {kMissing, "\xd9\xa3", Err(errors::kNotInteger)},
    {"abc", "1", Err(errors::kNotInteger)},
    {"-0", "1", Err(errors::kNotInteger)},
    {"01", "1", Err(errors::kNotInteger)},
    {" 1", "1", Err(errors::kNotInteger)},
    {"1.0", "1", Err(errors::kNotInteger)},
    {"", "1", Err(errors::kNotInteger)},
    {"9223372036854775808", "0", Err(errors::kNotInteger)},
    {"9223372036854775807", "1", Err(errors::kIncrDecrOverflow)},
    {"9223372036854775807", "0", Int(9223372036854775807LL)},
    {"9223372036854775807", "-1", Int(9223372036854775806LL)},
    {"-9223372036854775808", "-1", Err(errors::kIncrDecrOverflow)},
    {"-9223372036854775808", "1", Int(-9223372036854775807LL)},
    {"-9223372036854775808", "9223372036854775807", Int(-1LL)},
    {"9223372036854775807", "-9223372036854775808", Int(-1LL)},
    {"-1", "-9223372036854775808", Err(errors::kIncrDecrOverflow)},
    {"1", "9223372036854775807", Err(errors::kIncrDecrOverflow)},
    {"-2", "-9223372036854775807", Err(errors::kIncrDecrOverflow)},
};
// clang-format on

TEST(RedisNumberTest, IncrByFloatAnswersAsRedis) {
  for (const Row& row : kIncrByFloat) {
    EXPECT_EQ(IncrByFloat(row.stored, row.arg), row.reply)
        << "SET k " << row.stored.value_or("(none)") << "; INCRBYFLOAT k " << row.arg.substr(0, 40);
  }
}

TEST(RedisNumberTest, IncrByAnswersAsRedis) {
  for (const Row& row : kIncrBy) {
    EXPECT_EQ(IncrBy(row.stored, row.arg), row.reply)
        << "SET k " << row.stored.value_or("(none)") << "; INCRBY k " << row.arg;
  }
}

TEST(RedisNumberTest, IncrByFloatAtLongDoubleLimits) {
  // INCRBYFLOAT k 1.18e4932: all 4933 integer digits, as redis-server replied.
  const std::string big = IncrByFloat(kMissing, "1.18e4932");
  EXPECT_EQ(big.size(), 1 + 4933u);
  EXPECT_EQ(big.substr(0, 21), "$11800000000000000000");
  // "1." and 5117 zeros (5119 bytes) is 1; one more zero reaches Redis's 5120-byte buffer.
  EXPECT_EQ(IncrByFloat(kMissing, "1." + std::string(5117, '0')), Bulk("1"));
  EXPECT_EQ(IncrByFloat(kMissing, "1." + std::string(5118, '0')), Err(errors::kNotFloat));
}

TEST(RedisNumberTest, ParseInt64Limits) {
  int64_t v = 42;
  EXPECT_TRUE(ParseInt64("-9223372036854775808", &v));
  EXPECT_EQ(v, INT64_MIN);
  EXPECT_TRUE(ParseInt64("9223372036854775807", &v));
  EXPECT_EQ(v, INT64_MAX);
  EXPECT_TRUE(ParseInt64("0", &v));
  EXPECT_EQ(v, 0);
  // A refusal leaves the output alone.
  v = 42;
  EXPECT_FALSE(ParseInt64("-0", &v));
  EXPECT_FALSE(ParseInt64("12a", &v));
  EXPECT_FALSE(ParseInt64("100000000000000000000", &v));  // 21 bytes: refused unread.
  EXPECT_EQ(v, 42);
}

TEST(RedisNumberTest, DecrByMinimumIsItsOwnError) {
  // DECRBY k -9223372036854775808 → "ERR decrement would overflow" (the increment cannot be
  // negated), while DECRBY k -9223372036854775807 on 0 is 9223372036854775807.
  int64_t decr = 0;
  ASSERT_TRUE(ParseInt64("-9223372036854775808", &decr));
  EXPECT_EQ(decr, INT64_MIN);
  EXPECT_EQ(errors::kDecrementOverflow, "ERR decrement would overflow");
  EXPECT_EQ(IncrBy("0", "9223372036854775807"), Int(9223372036854775807));
}

// SELECT as selectCommand runs it (16 databases), then redis-server's replies.
std::string Select(std::string_view arg) {
  int64_t id = 0;
  if (!ParseInt64(arg, &id)) return Err(errors::kNotInteger);
  if (id < INT32_MIN || id > INT32_MAX) return Err(errors::kIntOutOfRange);
  if (id < 0 || id >= 16) return Err(errors::kDbIndexOutOfRange);
  return "+OK";
}

TEST(RedisNumberTest, SelectAnswersAsRedis) {
  EXPECT_EQ(Select("0"), "+OK");
  EXPECT_EQ(Select("15"), "+OK");
  EXPECT_EQ(Select("16"), "-ERR DB index is out of range");
  EXPECT_EQ(Select("-1"), "-ERR DB index is out of range");
  EXPECT_EQ(Select("2147483647"), "-ERR DB index is out of range");
  EXPECT_EQ(Select("2147483648"),
            "-ERR value is out of range, value must between -2147483648 and 2147483647");
  EXPECT_EQ(Select("-2147483649"),
            "-ERR value is out of range, value must between -2147483648 and 2147483647");
  EXPECT_EQ(Select("abc"), "-ERR value is not an integer or out of range");
  EXPECT_EQ(Select("01"), "-ERR value is not an integer or out of range");
  EXPECT_EQ(Select("9223372036854775808"), "-ERR value is not an integer or out of range");
}

TEST(RedisNumberTest, OtherErrorTextsAsRedis) {
  // SETRANGE s2 -1 x, and SETRANGE s2 536870912 x (past proto-max-bulk-len).
  EXPECT_EQ(errors::kOffsetOutOfRange, "ERR offset is out of range");
  EXPECT_EQ(errors::kStringTooLong, "ERR string exceeds maximum allowed size (proto-max-bulk-len)");
}

TEST(RedisNumberTest, FormatDoubleAsZscore) {
  // ZADD z <score> m; ZSCORE z m — the same text in RESP2 ($) and RESP3 (,). ZADD reads the
  // score with strtod, as here. "-0" was observed with the skiplist encoding (a listpack
  // stores the score as text and gives back 0).
  const struct {
    const char* score;
    std::string_view text;
  } kCases[] = {
      {"1.5", "1.5"},
      {"0.1", "0.10000000000000001"},
      {"1", "1"},
      {"100", "100"},
      {"1e20", "1e+20"},
      {"1e17", "1e+17"},
      {"1e16", "10000000000000000"},
      {"1e15", "1000000000000000"},
      {"123456789012345678", "1.2345678901234568e+17"},
      {"0", "0"},
      {"-0", "-0"},
      {"1e308", "1e+308"},
      {"5e-324", "4.9406564584124654e-324"},
      {"inf", "inf"},
      {"-inf", "-inf"},
      {"+inf", "inf"},
      {"3.0e3", "3000"},
      {"0.30000000000000004", "0.30000000000000004"},
      {"1e-5", "1.0000000000000001e-05"},
      {"2.5e-7", "2.4999999999999999e-07"},
      {"1e-4", "0.0001"},
      {"-1.25", "-1.25"},
      {"-1e-300", "-1e-300"},
      {"9007199254740993", "9007199254740992"},
      {"4503599627370496.5", "4503599627370496"},
      {"1.7976931348623157e308", "1.7976931348623157e+308"},
      {"2.2250738585072014e-308", "2.2250738585072014e-308"},
  };
  for (const auto& c : kCases) {
    EXPECT_EQ(FormatDouble(std::strtod(c.score, nullptr)), c.text) << "ZADD z " << c.score << " m";
  }
}

TEST(RedisNumberTest, FormatInt64) {
  EXPECT_EQ(FormatInt64(0), "0");
  EXPECT_EQ(FormatInt64(-1), "-1");
  EXPECT_EQ(FormatInt64(INT64_MAX), "9223372036854775807");
  EXPECT_EQ(FormatInt64(INT64_MIN), "-9223372036854775808");
}

TEST(RedisNumberTest, FormatLongDoubleEdges) {
  EXPECT_EQ(FormatLongDouble(-0.0L), "0");
  EXPECT_EQ(FormatLongDouble(INFINITY), "inf");
  EXPECT_EQ(FormatLongDouble(-INFINITY), "-inf");
  EXPECT_EQ(FormatLongDouble(100), "100");  // Zeros before the '.' stay.
}

TEST(RedisNumberTest, IgnoresProcessLocale) {
  // A locale whose decimal point is ',' must not change what is read or printed.
  const char* const kCommaLocales[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "fr_FR"};
  const char* set = nullptr;
  for (const char* name : kCommaLocales) {
    if ((set = std::setlocale(LC_NUMERIC, name)) != nullptr) break;
  }
  if (set == nullptr) GTEST_SKIP() << "no locale with a ',' decimal point installed";
  long double v = 0;
  const bool parsed = ParseLongDouble("1.5", &v);
  const std::string printed = FormatLongDouble(2.25L);
  const std::string printed_double = FormatDouble(0.5);
  std::setlocale(LC_NUMERIC, "C");
  EXPECT_TRUE(parsed);
  EXPECT_EQ(v, 1.5L);
  EXPECT_EQ(printed, "2.25");
  EXPECT_EQ(printed_double, "0.5");
}

}  // namespace
}  // namespace kvs::proto
