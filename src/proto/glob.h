// GlobMatch: Redis's glob-style matcher (KEYS, SCAN MATCH, and nocase for CONFIG GET and
// COMMAND LIST FILTERBY PATTERN), with every quirk of redis-server 7.0.15 as Debian 12 ships
// it: stringmatchlen() in src/util.c, including the CVE-2022-36021 "skip longer matches"
// pruning and the CVE-2024-31228 nesting limit Debian backported.
//
// The syntax, as Redis reads it (tests/proto/glob_test.cc holds redis-server's answers):
//   *        any run of bytes; "**" is one "*".
//   ?        exactly one byte.
//   [abc]    one byte of the set; [^abc] one byte not in it; [a-z] a range of bytes, with its
//            ends swapped when reversed ([z-a] is [a-z]). Bytes >= 0x80 compare as *signed*
//            chars in ranges ([a-\xff] is [\xff-a]: -1..97). "\x" inside a class is the byte
//            x. A class without its "]" runs to the end of the pattern.
//   \x       the byte x; a trailing "\" matches a "\".
// Surprises that are Redis's answers, kept on purpose:
//   - The empty string matches only the empty pattern: "*" does not match "" (KEYS and SCAN
//     special-case the pattern "*" before calling the matcher; callers must do the same).
//   - "[a-]" is the range a..']' (swapped to ]..a), not 'a' or '-', and the class goes on.
//   - With nocase, a range's ends are lowered after the swap: [Z-a] matches nothing.
//   - A pattern whose 1001st "*" (not counting runs) is reached before its end never
//     matches: Redis stops recursing there (the CVE-2024-31228 fix).
// Runs in O(pattern × string) time, O(1) space, without recursion. Pure; thread-safe.
#pragma once

#include <string_view>

namespace kvs::proto {

// Whether `s` matches the glob `pattern` exactly as Redis's stringmatchlen() decides.
// `nocase` folds ASCII A-Z only (Redis runs in the C locale for LC_CTYPE).
[[nodiscard]] bool GlobMatch(std::string_view pattern, std::string_view s, bool nocase = false);

}  // namespace kvs::proto
