// Redis's matcher is recursive: each "*" tries the rest of the pattern at every later
// position of the string. Since the CVE-2022-36021 fix, once the rest fails from every
// position the whole match fails (a longer match for an earlier "*" could only start the
// rest later still). So only the innermost "*" reached is ever retried, and one backtrack
// point replaces the recursion: same answers, O(pattern × string) work, no stack growth.
#include "proto/glob.h"

#include <cstddef>

namespace kvs::proto {

namespace {

// Redis stops recursing below this many nested "*" (CVE-2024-31228): the "*" reached at
// that depth fails from every position, which fails the whole match.
constexpr int kMaxStarNesting = 1000;

// The C locale's tolower(), which Redis calls on (possibly negative) signed chars: only
// 'A'..'Z' change.
int Lower(int c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

bool SameByte(char a, char b, bool nocase) { return nocase ? Lower(a) == Lower(b) : a == b; }

class Matcher {
 public:
  Matcher(std::string_view pattern, std::string_view s, bool nocase)
      : pattern_(pattern), s_(s), nocase_(nocase) {}

  bool Run() {
    while (true) {
      switch (Step()) {
        case Outcome::kMatch:
          return true;
        case Outcome::kNoMatch:
          return false;
        case Outcome::kMismatch:
          // Retry the rest after the innermost "*" one byte further on. Redis's "*" never
          // tries the rest against the empty remainder (its loop needs a byte), and when it
          // runs out the whole match fails.
          if (!have_star_ || ++star_s_ == s_.size()) return false;
          p_ = star_p_;
          si_ = star_s_;
          break;
      }
    }
  }

 private:
  enum class Outcome { kMatch, kNoMatch, kMismatch };

  // The pattern byte at i, or the NUL that ends Redis's (sds) pattern one past its end:
  // Redis peeks there, and a NUL is what it sees.
  char At(size_t i) const { return i < pattern_.size() ? pattern_[i] : '\0'; }

  // Matches from (p_, si_) until the end of the pattern or string, or a mismatch. Like
  // Redis's loop it runs only while both remain: the empty string matches only the empty
  // pattern, not even "*".
  Outcome Step() {
    while (p_ < pattern_.size() && si_ < s_.size()) {
      switch (pattern_[p_]) {
        case '*':
          while (At(p_ + 1) == '*') ++p_;
          if (p_ + 1 == pattern_.size()) return Outcome::kMatch;
          if (stars_ == kMaxStarNesting) return Outcome::kNoMatch;
          ++stars_;
          have_star_ = true;
          star_p_ = p_ + 1;
          star_s_ = si_;
          p_ = star_p_;
          continue;  // The rest starts here, without the per-element step below.
        case '?':
          ++si_;
          break;
        case '[':
          if (!MatchClass()) return Outcome::kMismatch;
          ++si_;
          break;
        case '\\':
          // A trailing backslash stands for itself.
          if (pattern_.size() - p_ >= 2) ++p_;
          [[fallthrough]];
        default:
          if (!SameByte(pattern_[p_], s_[si_], nocase_)) return Outcome::kMismatch;
          ++si_;
          break;
      }
      ++p_;
      if (si_ == s_.size()) {
        // Trailing stars match the empty rest; anything else left fails below.
        while (At(p_) == '*') ++p_;
        break;
      }
    }
    return p_ == pattern_.size() && si_ == s_.size() ? Outcome::kMatch : Outcome::kMismatch;
  }

  // p_ is on a '['; leaves p_ on the class's ']' (or the last pattern byte when unterminated)
  // and says whether s_[si_] is in the class.
  bool MatchClass() {
    const char c = s_[si_];
    ++p_;
    const bool negate = At(p_) == '^';
    if (negate) ++p_;
    bool match = false;
    while (true) {
      const size_t left = pattern_.size() - p_;
      if (At(p_) == '\\' && left >= 2) {
        ++p_;
        // Escapes compare exactly, even with nocase (as Redis does).
        if (pattern_[p_] == c) match = true;
      } else if (At(p_) == ']') {
        break;
      } else if (left == 0) {
        --p_;  // Unterminated: the caller's step lands on the pattern's end.
        break;
      } else if (left >= 3 && pattern_[p_ + 1] == '-') {
        // Redis compares plain (signed) chars here: on purpose, [a-\xff] is -1..'a'.
        // NOLINTBEGIN(bugprone-signed-char-misuse)
        int start = static_cast<signed char>(pattern_[p_]);
        int end = static_cast<signed char>(pattern_[p_ + 2]);
        int byte = static_cast<signed char>(c);
        // NOLINTEND(bugprone-signed-char-misuse)
        if (start > end) {
          const int t = start;
          start = end;
          end = t;
        }
        if (nocase_) {
          // Lowered after the swap, so [Z-a] becomes the empty z..a.
          start = Lower(start);
          end = Lower(end);
          byte = Lower(byte);
        }
        p_ += 2;
        if (byte >= start && byte <= end) match = true;
      } else if (SameByte(pattern_[p_], c, nocase_)) {
        match = true;
      }
      ++p_;
    }
    return negate ? !match : match;
  }

  const std::string_view pattern_;
  const std::string_view s_;
  const bool nocase_;
  size_t p_ = 0;
  size_t si_ = 0;
  // The innermost "*" reached: the rest of the pattern starts at star_p_, and is being
  // tried from s_[star_s_].
  bool have_star_ = false;
  size_t star_p_ = 0;
  size_t star_s_ = 0;
  int stars_ = 0;  // "*" runs reached so far: Redis's recursion depth.
};

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view s, bool nocase) {
  return Matcher(pattern, s, nocase).Run();
}

}  // namespace kvs::proto
