// Parsing is Redis's own rules on top of glibc's strtold (the reader Redis uses, so hex
// floats, "inf" and rounding come out the same); printing is the same printf formats.
// The C locale is pinned with the *_l variants rather than assumed, so a library that calls
// setlocale() cannot turn "1.5" into an error.
#include "proto/redis_number.h"

#include <locale.h>
#include <stdlib.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace kvs::proto {

namespace {

// Redis LONG_STR_SIZE: string2ll refuses this many bytes or more, before looking at them.
constexpr size_t kMaxInt64Bytes = 21;
// Redis MAX_LONG_DOUBLE_CHARS: string2ld copies into a buffer this big and refuses input
// that does not fit with its NUL.
constexpr size_t kLongDoubleBufferBytes = size_t{5} * 1024;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// isspace() in the C locale: what strtold would skip and Redis refuses.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

locale_t CLocale() {
  // Never freed: process lifetime, and thread-safe once made (C++ static initialisation).
  static const locale_t c_locale = newlocale(LC_ALL_MASK, "C", static_cast<locale_t>(nullptr));
  return c_locale;
}

// The C locale for this thread while in scope, so snprintf prints '.' whatever the process's
// locale (glibc has no snprintf_l; uselocale is per thread and cheap).
class ScopedCLocale {
 public:
  ScopedCLocale() : previous_(uselocale(CLocale())) {}
  ScopedCLocale(const ScopedCLocale&) = delete;
  ScopedCLocale& operator=(const ScopedCLocale&) = delete;
  ~ScopedCLocale() { uselocale(previous_); }

 private:
  const locale_t previous_;
};

}  // namespace

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() >= kMaxInt64Bytes) return false;
  if (s == "0") {
    *out = 0;
    return true;
  }
  size_t i = 0;
  const bool negative = s[0] == '-';
  if (negative) ++i;
  // The first digit is 1-9: no leading zeros, and so no "-0".
  if (i == s.size() || s[i] < '1' || s[i] > '9') return false;
  // 20 digits are at least 10^19, past int64 either way; 19 cannot wrap a uint64.
  if (s.size() - i > 19) return false;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (!IsDigit(s[i])) return false;
    v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  }
  constexpr uint64_t kMaxPositive = uint64_t{INT64_MAX};
  if (negative) {
    if (v > kMaxPositive + 1) return false;
    // Two's complement negation in unsigned, so INT64_MIN needs no special case.
    *out = static_cast<int64_t>(uint64_t{0} - v);
  } else {
    if (v > kMaxPositive) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

bool ParseLongDouble(std::string_view s, long double* out) {
  if (s.empty() || s.size() >= kLongDoubleBufferBytes) return false;
  // strtold skips leading whitespace; Redis refuses it.
  if (IsSpace(s[0])) return false;
  char buf[kLongDoubleBufferBytes];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  char* end = nullptr;
  errno = 0;
  const long double value = strtold_l(buf, &end, CLocale());
  // Everything read: a NUL inside `s` stops strtold short, and so is refused too.
  if (end != buf + s.size()) return false;
  // Out of range: overflow to ±inf or underflow to zero. A subnormal result also sets ERANGE
  // but is kept, as Redis keeps it.
  if (errno == ERANGE && (std::isinf(value) || value == 0)) return false;
  if (errno == EINVAL || std::isnan(value)) return false;
  *out = value;
  return true;
}

std::string FormatLongDouble(long double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  // The widest finite long double is 4933 integer digits; with the sign, '.', 17 decimals
  // and the NUL this stays under Redis's 5120-byte buffer, so Redis never truncates either.
  char buf[kLongDoubleBufferBytes];
  const ScopedCLocale c_locale;
  const int n = std::snprintf(buf, sizeof(buf), "%.17Lf", v);
  // Unreachable (see above); Redis would store an empty string.
  if (n < 0 || static_cast<size_t>(n) >= sizeof(buf)) return {};
  std::string_view text(buf, static_cast<size_t>(n));
  if (text.find('.') != std::string_view::npos) {
    while (text.back() == '0') text.remove_suffix(1);
    if (text.back() == '.') text.remove_suffix(1);
  }
  // A negative that rounds to zero at 17 decimals (and -0.0) would print "-0".
  if (text == "-0") return "0";
  return std::string(text);
}

std::string FormatDouble(double d) {
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];  // "%.17g" is at most 24 bytes ("-1.2345678901234567e-308").
  const ScopedCLocale c_locale;
  const int n = std::snprintf(buf, sizeof(buf), "%.17g", d);
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

std::string FormatInt64(int64_t v) {
  char buf[24];
  const char* end = std::to_chars(buf, buf + sizeof(buf), v).ptr;  // 20 digits and '-' fit.
  return std::string(buf, static_cast<size_t>(end - buf));
}

}  // namespace kvs::proto
