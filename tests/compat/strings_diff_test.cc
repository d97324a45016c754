// Differential cases of the string commands (issue 17): SET's options, the counters, the
// multi-key commands, APPEND/STRLEN/GETRANGE/SETRANGE, SETNX/GETSET/GETDEL, the empty key.
// Each test names the groups of compat/diff_tables.h it exercises (Uses); ExpectRedis pins
// the replies of Debian's Redis 7.0.15 that are easy to get wrong.

#include <gtest/gtest.h>

#include <string>

#include "compat/differential.h"

namespace kvs::compat {
namespace {

using namespace std::string_literals;

class StringsDiffTest : public DifferentialTest {};

constexpr std::string_view kSyntaxError = "-ERR syntax error\r\n";
constexpr std::string_view kNotInteger = "-ERR value is not an integer or out of range\r\n";
constexpr std::string_view kOverflow = "-ERR increment or decrement would overflow\r\n";
constexpr std::string_view kNotFloat = "-ERR value is not a valid float\r\n";

// --- SET's options ----------------------------------------------------------------------

TEST_F(StringsDiffTest, SetNxSetsOnlyAMissingKey) {
  Uses({"set-options"});
  SendBoth({"SET", "k", "v1", "NX"});
  ExpectRedis(SendBoth({"SET", "k", "v2", "NX"}), "$-1\r\n");
  SendBoth({"GET", "k"});
  SendBoth({"SET", "k", "v3", "nx"});
  SendBoth({"SET", "k", "v3", "NX", "NX"});
}

TEST_F(StringsDiffTest, SetXxSetsOnlyAnExistingKey) {
  Uses({"set-options"});
  SendBoth({"SET", "k", "v1", "XX"});
  SendBoth({"EXISTS", "k"});
  SendBoth({"SET", "k", "v1"});
  SendBoth({"SET", "k", "v2", "XX"});
  SendBoth({"GET", "k"});
  SendBoth({"SET", "k", "v3", "xX", "Xx"});
}

TEST_F(StringsDiffTest, SetNxWithXxIsASyntaxErrorInEitherOrder) {
  Uses({"set-options"});
  ExpectRedis(SendBoth({"SET", "k", "v", "NX", "XX"}), kSyntaxError);
  SendBoth({"SET", "k", "v", "XX", "NX"});
  SendBoth({"SET", "k", "v", "NX", "GET", "XX"});
  SendBoth({"EXISTS", "k"});
}

TEST_F(StringsDiffTest, SetGetReturnsTheOldValue) {
  Uses({"set-options"});
  ExpectRedis(SendBoth({"SET", "k", "v1", "GET"}), "$-1\r\n");  // missing: null, and set
  SendBoth({"GET", "k"});
  SendBoth({"SET", "k", "v2", "GET"});
  SendBoth({"SET", "k", "", "get"});
  SendBoth({"SET", "k", "v3", "GET", "GET"});
  SendBoth({"GET", "k"});
}

TEST_F(StringsDiffTest, SetGetWithNxOrXx) {
  // Redis 7 accepts GET with NX: the old value comes back whether or not it set.
  Uses({"set-options"});
  SendBoth({"SET", "k", "v1", "XX", "GET"});
  SendBoth({"EXISTS", "k"});
  SendBoth({"SET", "k", "v1", "NX", "GET"});
  ExpectRedis(SendBoth({"SET", "k", "v2", "NX", "GET"}), "$2\r\nv1\r\n");
  SendBoth({"GET", "k"});
  SendBoth({"SET", "k", "v3", "GET", "XX"});
  SendBoth({"GET", "k"});
}

TEST_F(StringsDiffTest, SetOptionsOfOtherCommandsAreSyntaxErrors) {
  Uses({"set-options"});
  SendBoth({"SET", "k", "v", "NX", "foo"});
  SendBoth({"SET", "k", "v", "GET", "1"});
  SendBoth({"SET", "k", "v", "NX", ""});
  SendBoth({"EXISTS", "k"});
}

// --- INCR, DECR, INCRBY, DECRBY ---------------------------------------------------------

TEST_F(StringsDiffTest, IncrCreatesAndCounts) {
  Uses({"counters"});
  SendBoth({"INCR", "n"});
  SendBoth({"INCR", "n"});
  SendBoth({"DECR", "n"});
  SendBoth({"DECR", "m"});
  SendBoth({"INCRBY", "n", "10"});
  SendBoth({"INCRBY", "n", "-10"});
  SendBoth({"DECRBY", "n", "5"});
  SendBoth({"DECRBY", "n", "-5"});
  SendBoth({"INCRBY", "n", "0"});
  SendBoth({"GET", "n"});
  SendBoth({"SET", "n", "-0"});  // not an integer to INCR: no sign on zero
  SendBoth({"SET", "z", "0"});
  SendBoth({"INCR", "z"});
}

TEST_F(StringsDiffTest, IncrRefusesWhatIsNotACanonicalInteger) {
  Uses({"counters"});
  for (const std::string& v : {"abc"s, " 1"s, "  1"s, "1 "s, "+1"s, "01"s, "-0"s, ""s, "1.0"s,
                               "0x10"s, "1e3"s, "9223372036854775808"s, "1\0"s, "\xff"s}) {
    SendBoth({"SET", "s", v});
    const Replies r = SendBoth({"INCR", "s"});
    ExpectRedis(r, kNotInteger);
    SendBoth({"DECR", "s"});
    SendBoth({"INCRBY", "s", "1"});
    SendBoth({"GET", "s"});
  }
}

TEST_F(StringsDiffTest, IncrByRefusesAnIncrementThatIsNotAnInteger) {
  Uses({"counters"});
  SendBoth({"SET", "n", "10"});
  for (const std::string& by : {"abc"s, "1.5"s, " 1"s, "+1"s, "01"s, ""s, "9223372036854775808"s,
                                "-9223372036854775809"s}) {
    ExpectRedis(SendBoth({"INCRBY", "n", by}), kNotInteger);
    SendBoth({"DECRBY", "n", by});
  }
  SendBoth({"INCRBY", "missing", "x"});
  SendBoth({"EXISTS", "missing"});  // not created by a refused increment
  SendBoth({"GET", "n"});
}

TEST_F(StringsDiffTest, IncrAtTheEdgesOf64Bits) {
  Uses({"counters"});
  SendBoth({"SET", "n", "9223372036854775807"});
  ExpectRedis(SendBoth({"INCR", "n"}), kOverflow);
  SendBoth({"INCRBY", "n", "1"});
  SendBoth({"DECRBY", "n", "-1"});
  SendBoth({"INCRBY", "n", "0"});
  SendBoth({"DECR", "n"});
  SendBoth({"SET", "n", "-9223372036854775808"});
  SendBoth({"DECR", "n"});
  SendBoth({"INCRBY", "n", "-1"});
  SendBoth({"INCR", "n"});
  SendBoth({"SET", "n", "0"});
  SendBoth({"INCRBY", "n", "-9223372036854775808"});
  SendBoth({"INCRBY", "n", "9223372036854775807"});
  // DECRBY of the smallest integer cannot be negated: its own message.
  ExpectRedis(SendBoth({"DECRBY", "n", "-9223372036854775808"}),
              "-ERR decrement would overflow\r\n");
  SendBoth({"DECRBY", "n", "9223372036854775807"});
  SendBoth({"GET", "n"});
}

TEST_F(StringsDiffTest, CounterArity) {
  Uses({"counters"});
  SendBoth({"INCR"});
  SendBoth({"INCR", "a", "b"});
  SendBoth({"DECR"});
  SendBoth({"INCRBY", "a"});
  SendBoth({"INCRBY", "a", "1", "2"});
  SendBoth({"DECRBY", "a"});
  SendBoth({"INCRBYFLOAT", "a"});
  SendBoth({"incrbyfloat", "a", "1", "2"});
}

// --- INCRBYFLOAT: long double arithmetic, printed with %.17Lf, trailing zeros cut ----------

TEST_F(StringsDiffTest, IncrByFloatFormatsLikeRedis) {
  Uses({"counters"});
  SendBoth({"SET", "f", "10.5"});
  ExpectRedis(SendBoth({"INCRBYFLOAT", "f", "0.1"}), "$4\r\n10.6\r\n");
  ExpectRedis(SendBoth({"INCRBYFLOAT", "f", "-5.0e3"}), "$23\r\n-4989.39999999999999991\r\n");
  SendBoth({"INCRBYFLOAT", "f", "5.0e3"});
  SendBoth({"INCRBYFLOAT", "g", "3"});
  SendBoth({"INCRBYFLOAT", "g", "1.0"});
  SendBoth({"INCRBYFLOAT", "h", "0.1"});
  SendBoth({"INCRBYFLOAT", "h", "0.2"});
  SendBoth({"INCRBYFLOAT", "i", "1e20"});
  SendBoth({"INCRBYFLOAT", "j", "1.23456789012345678"});
  SendBoth({"INCRBYFLOAT", "k", "5.0e-3"});
  SendBoth({"INCRBYFLOAT", "l", "1e-20"});  // below %.17Lf's precision: "0"
  SendBoth({"INCRBYFLOAT", "m", "-0"});
  SendBoth({"INCRBYFLOAT", "o", "1."});
  SendBoth({"INCRBYFLOAT", "o", ".5"});
  SendBoth({"INCRBYFLOAT", "p", "0x10"});  // strtold reads hexadecimal
  SendBoth({"SET", "q", "1e10"});
  SendBoth({"INCRBYFLOAT", "q", "0"});
  SendBoth({"SET", "r", "9223372036854775807"});
  SendBoth({"INCRBYFLOAT", "r", "1"});
  SendBoth({"GET", "f"});
  SendBoth({"GET", "l"});
}

TEST_F(StringsDiffTest, IncrByFloatBeyondDoubleRange) {
  // Long double goes past 1e308: these are digits, not errors.
  Uses({"counters"});
  SendBoth({"INCRBYFLOAT", "f", "1e308"});
  SendBoth({"INCRBYFLOAT", "f", "1e308"});
  SendBoth({"INCRBYFLOAT", "g", "1e400"});
  SendBoth({"STRLEN", "g"});
}

TEST_F(StringsDiffTest, IncrByFloatErrors) {
  Uses({"counters"});
  SendBoth({"SET", "f", "1.5"});
  ExpectRedis(SendBoth({"INCRBYFLOAT", "f", "abc"}), kNotFloat);
  ExpectRedis(SendBoth({"INCRBYFLOAT", "f", "nan"}), kNotFloat);
  ExpectRedis(SendBoth({"INCRBYFLOAT", "f", "inf"}),
              "-ERR increment would produce NaN or Infinity\r\n");
  SendBoth({"INCRBYFLOAT", "f", "-inf"});
  SendBoth({"INCRBYFLOAT", "f", ""});
  SendBoth({"INCRBYFLOAT", "f", " 1"});
  SendBoth({"INCRBYFLOAT", "f", "1 "});
  SendBoth({"INCRBYFLOAT", "f", "1e5000"});
  for (const std::string& v : {"abc"s, " 1"s, "1 "s, ""s, "nan"s, "inf"s, "1\0"s}) {
    SendBoth({"SET", "s", v});
    SendBoth({"INCRBYFLOAT", "s", "1"});
  }
  SendBoth({"GET", "f"});
}

// --- MGET, MSET, MSETNX -----------------------------------------------------------------

TEST_F(StringsDiffTest, MgetAnswersNullForMissingKeys) {
  Uses({"multi-key"});
  SendBoth({"SET", "a", "1"});
  SendBoth({"SET", "b", ""});
  ExpectRedis(SendBoth({"MGET", "a", "nokey", "b"}), "*3\r\n$1\r\n1\r\n$-1\r\n$0\r\n\r\n");
  SendBoth({"MGET", "a", "a"});
  SendBoth({"MGET", "nokey"});
  SendBoth({"MGET", ""});
  SendBoth({"MGET"});
}

TEST_F(StringsDiffTest, MsetSetsAllAndLastWins) {
  Uses({"multi-key"});
  SendBoth({"MSET", "a", "1", "b", "2", "a", "3"});
  SendBoth({"MGET", "a", "b"});
  SendBoth({"DBSIZE"});
  SendBoth({"MSET"});
  SendBoth({"MSET", "a"});
  ExpectRedis(SendBoth({"MSET", "a", "1", "b"}),
              "-ERR wrong number of arguments for 'mset' command\r\n");
  SendBoth({"GET", "a"});
}

TEST_F(StringsDiffTest, MsetnxIsAllOrNothing) {
  Uses({"multi-key"});
  SendBoth({"MSETNX", "a", "1", "b", "2"});
  SendBoth({"MSETNX", "b", "x", "c", "3"});  // b exists: nothing set
  SendBoth({"MGET", "a", "b", "c"});
  SendBoth({"MSETNX", "c", "3", "c", "4"});  // the same new key twice: set, last wins
  SendBoth({"GET", "c"});
  SendBoth({"MSETNX", "d"});
  SendBoth({"MSETNX", "d", "1", "e"});
  SendBoth({"MSETNX"});
  SendBoth({"EXISTS", "d", "e"});
}

// --- APPEND, STRLEN, GETRANGE, SETRANGE --------------------------------------------------

TEST_F(StringsDiffTest, AppendCreatesAndGrows) {
  Uses({"string-edit"});
  SendBoth({"APPEND", "k", "abc"});
  SendBoth({"APPEND", "k", "def"});
  SendBoth({"APPEND", "k", ""});
  SendBoth({"GET", "k"});
  ExpectRedis(SendBoth({"APPEND", "e", ""}), ":0\r\n");
  SendBoth({"EXISTS", "e"});  // created, empty
  SendBoth({"APPEND", "k", "\0\r\n"s});
  SendBoth({"STRLEN", "k"});
  SendBoth({"APPEND", "k"});
  SendBoth({"APPEND", "k", "a", "b"});
}

TEST_F(StringsDiffTest, StrlenOfMissingEmptyAndBinary) {
  Uses({"string-edit"});
  SendBoth({"STRLEN", "missing"});
  SendBoth({"SET", "e", ""});
  SendBoth({"STRLEN", "e"});
  SendBoth({"SET", "b", "\0\xff\r\n"s});
  SendBoth({"STRLEN", "b"});
  SendBoth({"STRLEN"});
  SendBoth({"STRLEN", "a", "b"});
}

TEST_F(StringsDiffTest, GetrangeClampsNegativeAndHugeOffsets) {
  Uses({"string-edit"});
  SendBoth({"SET", "s", "Hello World"});
  for (const auto& [start, end] : std::initializer_list<std::pair<std::string, std::string>>{
           {"0", "4"},
           {"-5", "-1"},
           {"-100", "100"},
           {"5", "2"},
           {"-1", "-5"},
           {"100", "200"},
           {"0", "-100"},  // the end clamps to 0: "H"
           {"-100", "-100"},
           {"10", "10"},
           {"11", "11"},
           {"-1", "-1"},
           {"0", "9223372036854775807"},
           {"-9223372036854775808", "9223372036854775807"},
           {"0", "-1"}}) {
    SendBoth({"GETRANGE", "s", start, end});
  }
  ExpectRedis(SendBoth({"GETRANGE", "s", "0", "-100"}), "$1\r\nH\r\n");
  SendBoth({"GETRANGE", "s", "0", "9223372036854775808"});
  SendBoth({"GETRANGE", "s", "a", "1"});
  SendBoth({"GETRANGE", "s", "1", ""});
  ExpectRedis(SendBoth({"GETRANGE", "missing", "0", "-1"}), "$0\r\n\r\n");
  SendBoth({"SET", "e", ""});
  SendBoth({"GETRANGE", "e", "0", "-1"});
  SendBoth({"GETRANGE", "e", "0", "0"});
  SendBoth({"GETRANGE", "s", "0"});
  SendBoth({"GETRANGE", "s", "0", "1", "2"});
}

TEST_F(StringsDiffTest, SetrangeOverwritesAndPadsWithZeros) {
  Uses({"string-edit"});
  SendBoth({"SET", "s", "Hello World"});
  SendBoth({"SETRANGE", "s", "6", "Redis"});
  SendBoth({"GET", "s"});
  SendBoth({"SETRANGE", "s", "20", "x"});
  SendBoth({"GET", "s"});
  SendBoth({"SETRANGE", "s", "0", ""});
  SendBoth({"SETRANGE", "m", "3", "ab"});  // missing: created, zero-padded
  SendBoth({"GET", "m"});
  SendBoth({"SETRANGE", "n", "0", ""});  // missing and empty: :0, not created
  SendBoth({"SETRANGE", "n", "5", ""});
  SendBoth({"EXISTS", "n"});
}

TEST_F(StringsDiffTest, SetrangeOffsetErrors) {
  Uses({"string-edit"});
  SendBoth({"SET", "s", "abc"});
  ExpectRedis(SendBoth({"SETRANGE", "s", "-1", "x"}), "-ERR offset is out of range\r\n");
  SendBoth({"SETRANGE", "s", "-1", ""});
  SendBoth({"SETRANGE", "m", "-1", ""});
  SendBoth({"SETRANGE", "s", "x", "a"});
  SendBoth({"SETRANGE", "s", "9223372036854775808", "a"});
  SendBoth({"SETRANGE", "s", "1"});
  SendBoth({"SETRANGE", "s", "1", "a", "b"});
  SendBoth({"GET", "s"});
}

TEST_F(StringsDiffTest, SetrangePast512MiBIsRefusedBeforeAnyAllocation) {
  // offset + length > 512 MiB (proto-max-bulk-len): refused; with an empty value the key
  // is not touched, so no limit applies. (Never offset 536870911 with a value: Redis would
  // build the 512 MiB string.)
  Uses({"string-edit"});
  const std::string too_big = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
  ExpectRedis(SendBoth({"SETRANGE", "m", "536870912", "x"}), too_big);
  SendBoth({"SETRANGE", "m", "536870911", "xy"});
  SendBoth({"SETRANGE", "m", "9223372036854775807", "x"});
  SendBoth({"SETRANGE", "m", "536870912", ""});
  SendBoth({"EXISTS", "m"});
  SendBoth({"SET", "s", "abc"});
  ExpectRedis(SendBoth({"SETRANGE", "s", "536870912", "x"}), too_big);
  SendBoth({"SETRANGE", "s", "536870912", ""});
  SendBoth({"SETRANGE", "s", "9223372036854775807", ""});
  SendBoth({"GET", "s"});
}

// --- SETNX, GETSET, GETDEL --------------------------------------------------------------

TEST_F(StringsDiffTest, SetnxGetsetGetdel) {
  Uses({"get-and-set"});
  SendBoth({"SETNX", "k", "v1"});
  SendBoth({"SETNX", "k", "v2"});
  SendBoth({"GETSET", "k", "v3"});
  SendBoth({"GETSET", "new", "x"});
  SendBoth({"GET", "new"});
  SendBoth({"GETDEL", "k"});
  SendBoth({"GETDEL", "k"});
  SendBoth({"EXISTS", "k"});
  SendBoth({"SETNX", "e", ""});
  SendBoth({"GETDEL", "e"});
  SendBoth({"DBSIZE"});
}

TEST_F(StringsDiffTest, SetnxGetsetGetdelArity) {
  Uses({"get-and-set"});
  SendBoth({"SETNX"});
  SendBoth({"SETNX", "k"});
  SendBoth({"SETNX", "k", "v", "NX"});
  SendBoth({"GETSET", "k"});
  SendBoth({"GETSET", "k", "v", "x"});
  SendBoth({"GETDEL"});
  SendBoth({"GETDEL", "a", "b"});
}

// --- The empty key ----------------------------------------------------------------------

TEST_F(StringsDiffTest, EmptyKeyIsAKeyLikeAnyOther) {
  Uses({"empty-key"});
  SendBoth({"SET", "", "v"});
  SendBoth({"GET", ""});
  SendBoth({"EXISTS", ""});
  SendBoth({"DBSIZE"});
  SendBoth({"SET", "", "w"});
  SendBoth({"GET", ""});
  SendBoth({"DEL", ""});
  SendBoth({"GET", ""});
}

TEST_F(StringsDiffTest, EmptyKeyWithTheStringCommands) {
  Uses({"empty-key", "counters", "multi-key", "string-edit", "get-and-set"});
  SendBoth({"INCR", ""});
  SendBoth({"INCRBYFLOAT", "", "1.5"});
  SendBoth({"APPEND", "", "x"});
  SendBoth({"STRLEN", ""});
  SendBoth({"SETRANGE", "", "1", "y"});
  SendBoth({"GETRANGE", "", "0", "-1"});
  SendBoth({"MSET", "", "a", "b", "c"});
  SendBoth({"MGET", "", "b"});
  SendBoth({"GETSET", "", "z"});
  SendBoth({"GETDEL", ""});
  SendBoth({"SETNX", "", "1"});
  SendBoth({"GET", ""});
}

}  // namespace
}  // namespace kvs::compat
