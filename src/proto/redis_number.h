// The number conversions of Redis's string commands, answering exactly as redis-server
// 7.0.15 (Debian 12) does: which arguments and stored values count as integers and floats,
// how INCRBYFLOAT and RESP doubles print, and the error lines that go with them. One
// spelling for the whole server: commands take the texts below rather than writing their own.
// tests/proto/redis_number_test.cc holds redis-server's observed answers.
//
// Pure functions; thread-safe. No locale dependence: parsing and printing use the C locale
// whatever the process's locale is, as Redis (which never sets LC_NUMERIC) does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kvs::proto {

// Error lines for ReplyWriter::Error, verified against redis-server 7.0.15.
namespace errors {
// An argument or a stored value that ParseInt64 refuses: INCR/DECR/INCRBY/DECRBY on the
// value or the increment, GETRANGE's start and end, SETRANGE's offset, SELECT's index.
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
// INCRBY/DECRBY/INCR/DECR whose result leaves int64 (the stored value is unchanged).
inline constexpr std::string_view kIncrDecrOverflow = "ERR increment or decrement would overflow";
// DECRBY key -9223372036854775808: its negation does not fit, checked before the sum.
inline constexpr std::string_view kDecrementOverflow = "ERR decrement would overflow";
// An argument or a stored value that ParseLongDouble refuses (INCRBYFLOAT; the stored value
// is checked first, the reply is the same).
inline constexpr std::string_view kNotFloat = "ERR value is not a valid float";
// INCRBYFLOAT whose sum is NaN or ±inf, including an increment of "inf" (which parses).
inline constexpr std::string_view kNanOrInfinity = "ERR increment would produce NaN or Infinity";
// SETRANGE with a negative offset (a non-integer one gets kNotInteger).
inline constexpr std::string_view kOffsetOutOfRange = "ERR offset is out of range";
// SETRANGE (and APPEND) whose result would pass proto-max-bulk-len (512 MiB by default).
inline constexpr std::string_view kStringTooLong =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
// SELECT with an integer outside int32 (an int32 that is not a database: kDbIndexOutOfRange).
inline constexpr std::string_view kIntOutOfRange =
    "ERR value is out of range, value must between -2147483648 and 2147483647";
inline constexpr std::string_view kDbIndexOutOfRange = "ERR DB index is out of range";
// Redis's shared syntaxerr: an option it does not know, or options that exclude each other.
inline constexpr std::string_view kSyntaxError = "ERR syntax error";
}  // namespace errors

// Redis string2ll(): an optional '-' then decimal digits, nothing else — no '+', no spaces,
// no leading zeros ("0" alone is zero; "-0" and "01" are refused), at most 20 bytes, within
// int64. False (and *out untouched) → the caller replies errors::kNotInteger.
[[nodiscard]] bool ParseInt64(std::string_view s, int64_t* out);

// Redis string2ld() as INCRBYFLOAT applies it to the stored value and to the increment:
// whatever strtold() reads in the C locale — "+1", ".5", "5.", "1e5", hex "0x1p3", "inf",
// "infinity" — over the whole of `s`, under 5120 bytes, with no leading whitespace, not NaN,
// and not out of long double range (1e5000 and 1e-5000 are refused; a subnormal 1e-4940 is
// accepted). False → the caller replies errors::kNotFloat.
[[nodiscard]] bool ParseLongDouble(std::string_view s, long double* out);

// Redis ld2string(LD_STR_HUMAN), INCRBYFLOAT's result (stored and replied): "%.17Lf" with
// the trailing zeros and then the '.' removed, and "-0" printed "0". So 10.5+0.1 is "10.6",
// 5.0e3 is "5000", 1e-18 is "0", and 1e308 prints all of its 309 integer digits. ±inf
// prints "inf"/"-inf" (INCRBYFLOAT never stores those).
std::string FormatLongDouble(long double v);

// Redis addReplyDouble()'s text: "%.17g" (0.1 → "0.10000000000000001", 1e20 → "1e+20",
// -0.0 → "-0"), "inf"/"-inf". RESP2 sends it as a bulk string, RESP3 after ','.
std::string FormatDouble(double d);

// Redis ll2string(): plain decimal, '-' for negatives (INCR's replies are integers; this is
// for storing the result as a string).
std::string FormatInt64(int64_t v);

}  // namespace kvs::proto
