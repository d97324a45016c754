// SplitInlineArgs: splits one RESP inline command line ("SET \"a b\" 'c'") into its
// arguments exactly as Redis 7 does (sdssplitargs in redis src/sds.c, called by
// processInlineBuffer in src/networking.c), so that a telnet session gets the answers
// Redis would give. docs/PROTOCOL.md lists the rules.
// A plain function; thread-compatible.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace kvs::proto {

enum class InlineSplit {
  kOk,
  kUnbalancedQuotes,  // a quote left open, or a closing quote not followed by a space
  kTooManyArgs,       // more than `max_args` words (a kvs limit; Redis has none)
};

// Splits `line` (without its line end) into `*args`, which it clears first.
// A word without quotes is a view into `line`; a quoted word is unescaped into `*scratch`,
// which is cleared first and then never reallocated, so every view stays valid while
// `line` and `*scratch` are left alone. An unbalanced quote anywhere wins over too many
// words, as Redis (which has no word limit) would report it.
// REQUIRES: `line` holds no NUL byte (Redis's line search stops at one; see ParseInline).
InlineSplit SplitInlineArgs(std::string_view line, size_t max_args,
                            std::vector<std::string_view>* args, std::string* scratch);

}  // namespace kvs::proto
