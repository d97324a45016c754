#include "proto/resp_inline.h"

#include <cassert>

namespace kvs::proto {

namespace {

// isspace() in the C locale Redis runs in, without the locale lookup or the undefined
// behaviour on negative chars. Redis skips all of these between words...
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// ...but only these end an unquoted word: "a\vb" is one argument.
bool EndsWord(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool IsQuote(char c) { return c == '"' || c == '\''; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The byte "\c" stands for inside double quotes: the C escapes Redis knows, else c itself
// ("\q" is "q"; "\"" and "\\" fall out of the same rule).
char Unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'b':
      return '\b';
    case 'a':
      return '\a';
    default:
      return c;
  }
}

// Appends the quoted part that opens at line[*i] to *out and moves *i past its closing
// quote. Double quotes take the escapes above and "\xHH" (exactly two hex digits, else
// "\x" is just "x"); single quotes take only "\'". False when the quote is never closed or
// its closing quote is followed by anything but a space: Redis refuses "a"b rather than
// guess where the word ends.
bool AppendQuoted(std::string_view line, size_t* i, std::string* out) {
  const char quote = line[*i];
  const size_t n = line.size();
  size_t p = *i + 1;
  while (p < n) {
    const char c = line[p];
    if (c == '\\' && p + 1 < n && quote == '"') {
      const int hi = p + 3 < n && line[p + 1] == 'x' ? HexValue(line[p + 2]) : -1;
      const int lo = hi >= 0 ? HexValue(line[p + 3]) : -1;
      if (lo >= 0) {
        out->push_back(static_cast<char>(hi * 16 + lo));
        p += 4;
      } else {
        out->push_back(Unescape(line[p + 1]));
        p += 2;
      }
    } else if (c == '\\' && p + 1 < n && quote == '\'' && line[p + 1] == '\'') {
      out->push_back('\'');
      p += 2;
    } else if (c == quote) {
      if (p + 1 < n && !IsSpace(line[p + 1])) return false;
      *i = p + 1;
      return true;
    } else {
      out->push_back(c);
      ++p;
    }
  }
  return false;
}

}  // namespace

InlineSplit SplitInlineArgs(std::string_view line, size_t max_args,
                            std::vector<std::string_view>* args, std::string* scratch) {
  args->clear();
  scratch->clear();
  const size_t n = line.size();
  size_t words = 0;
  size_t i = 0;
  for (;;) {
    while (i < n && IsSpace(line[i])) ++i;
    if (i == n) break;
    const size_t start = i;
    while (i < n && !EndsWord(line[i]) && !IsQuote(line[i])) ++i;
    std::string_view word = line.substr(start, i - start);
    if (i < n && IsQuote(line[i])) {
      // The word goes to scratch, its plain prefix too (ab"c d" is "abc d"). A word never
      // decodes longer than it is written, so with room for the whole line scratch never
      // reallocates and the views taken into it stay valid.
      scratch->reserve(n);
      const size_t from = scratch->size();
      scratch->append(word);
      if (!AppendQuoted(line, &i, scratch)) return InlineSplit::kUnbalancedQuotes;
      word = std::string_view(scratch->data() + from, scratch->size() - from);
    }
    // Past the limit, keep scanning without storing: an unbalanced quote further on is
    // still the error Redis would give.
    if (++words <= max_args) args->push_back(word);
  }
  assert(scratch->size() <= n);
  return words > max_args ? InlineSplit::kTooManyArgs : InlineSplit::kOk;
}

}  // namespace kvs::proto
