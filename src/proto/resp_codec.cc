#include "proto/resp_codec.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <span>

#include "proto/resp_inline.h"
#include "proto/wire_format.h"

namespace kvs::proto {

namespace {

// "*<n>\r\n" / "$<n>\r\n" number, as strictly as Redis reads it (string2ll): "0", or an
// optional '-' then 1..18 digits without a leading zero ("01", "-0" and "+1" are refused);
// nothing else. 18 digits cannot overflow int64_t.
bool ParseLength(std::string_view s, int64_t* out) {
  if (s == "0") {
    *out = 0;
    return true;
  }
  bool negative = false;
  if (!s.empty() && s[0] == '-') {
    negative = true;
    s.remove_prefix(1);
  }
  if (s.empty() || s.size() > 18 || s[0] == '0') return false;
  int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    n = n * 10 + (c - '0');
  }
  *out = negative ? -n : n;
  return true;
}

// The header line at `p` (after its type byte): digits up to "\r\n".
enum class Line { kOk, kNeedMore, kBad };
Line ReadHeader(std::string_view input, size_t p, int64_t* n, size_t* next) {
  const size_t avail = input.size() - p;
  const size_t window = std::min(avail, wire::kMaxHeaderLineBytes);
  const void* nl = std::memchr(input.data() + p, '\n', window);
  if (nl == nullptr) return avail >= wire::kMaxHeaderLineBytes ? Line::kBad : Line::kNeedMore;
  const size_t end = static_cast<size_t>(static_cast<const char*>(nl) - input.data());
  if (end == p || input[end - 1] != '\r') return Line::kBad;
  if (!ParseLength(input.substr(p, end - 1 - p), n)) return Line::kBad;
  *next = end + 1;
  return Line::kOk;
}

}  // namespace

RespDecoder::RespDecoder(const ProtoLimits& limits) : limits_(limits) { argv_.reserve(8); }

Decoded RespDecoder::Fatal(std::string message, size_t consumed) {
  fatal_ = message;
  Decoded d;
  d.status = DecodeStatus::kError;
  d.consumed = consumed;
  d.error = {Shape::kResp, true, std::move(message)};
  return d;
}

Decoded RespDecoder::Next(std::string_view input, bool eof) {
  (void)eof;  // a partial command at EOF is dropped: its sender is gone
  if (!fatal_.empty()) {
    Decoded d;
    d.status = DecodeStatus::kError;
    d.consumed = input.size();
    d.error = {Shape::kResp, true, fatal_};
    return d;
  }
  size_t pos = 0;
  for (;;) {
    if (pos == input.size()) {
      Decoded d;
      d.consumed = pos;
      return d;
    }
    std::string_view rest = input.substr(pos);
    Decoded d = rest[0] == wire::kArray ? ParseMultibulk(rest) : ParseInline(rest);
    d.consumed += pos;
    // An empty command ("*0\r\n", a blank inline line) is skipped, as Redis does.
    if (d.status == DecodeStatus::kNeedMore && d.consumed > pos) {
      pos = d.consumed;
      continue;
    }
    return d;
  }
}

Decoded RespDecoder::ParseMultibulk(std::string_view input) {
  Decoded d;
  int64_t count;
  size_t p;
  switch (ReadHeader(input, 1, &count, &p)) {
    case Line::kNeedMore:
      return d;
    case Line::kBad:
      return Fatal("Protocol error: invalid multibulk length", 0);
    case Line::kOk:
      break;
  }
  if (count <= 0) {  // "*0" and "*-1": nothing to do
    d.consumed = p;
    return d;
  }
  if (static_cast<uint64_t>(count) > limits_.max_array_len) {
    return Fatal(fmt::format("Protocol error: too many arguments: {} (limit {})", count,
                             limits_.max_array_len),
                 0);
  }
  argv_.clear();
  size_t total = 0;
  for (int64_t i = 0; i < count; ++i) {
    if (p == input.size()) return d;
    if (input[p] != wire::kBulk) {
      // The byte itself, as Redis shows it (CR and LF become spaces in the reply).
      return Fatal(fmt::format("Protocol error: expected '$', got '{}'", input[p]), 0);
    }
    int64_t len;
    size_t start;
    switch (ReadHeader(input, p + 1, &len, &start)) {
      case Line::kNeedMore:
        return d;
      case Line::kBad:
        return Fatal("Protocol error: invalid bulk length", 0);
      case Line::kOk:
        break;
    }
    if (len < 0) return Fatal("Protocol error: invalid bulk length", 0);
    const auto n = static_cast<size_t>(len);
    if (n > limits_.max_bulk_bytes()) {
      return Fatal(fmt::format("Protocol error: bulk length {} over the limit {}", n,
                               limits_.max_bulk_bytes()),
                   0);
    }
    total += n;
    if (total > limits_.max_request_bytes()) {
      return Fatal(
          fmt::format("Protocol error: command of more than {} bytes", limits_.max_request_bytes()),
          0);
    }
    if (input.size() - start < n + 2) {
      d.wanted = start + n + 2;  // the caller can size its buffer once
      return d;
    }
    if (input[start + n] != '\r' || input[start + n + 1] != '\n') {
      return Fatal("Protocol error: bulk string not followed by CRLF", 0);
    }
    argv_.push_back(input.substr(start, n));
    p = start + n + 2;
  }
  d.consumed = p;
  BuildRequest(&d);
  return d;
}

Decoded RespDecoder::ParseInline(std::string_view input) {
  Decoded d;
  const size_t window = std::min(input.size(), limits_.max_inline_bytes + 2);  // + "\r\n"
  if (!inline_blocked_) {
    const size_t from = std::min(inline_scanned_, window);
    const char* base = input.data() + from;
    const char* nl = static_cast<const char*>(std::memchr(base, '\n', window - from));
    const size_t scan = nl != nullptr ? static_cast<size_t>(nl - base) : window - from;
    // Redis finds the line end with strchr(), which stops at a NUL: a line holding a NUL
    // never ends, whatever follows, until it outgrows the limit below.
    inline_blocked_ = std::memchr(base, '\0', scan) != nullptr;
    if (nl != nullptr && !inline_blocked_) {
      inline_scanned_ = 0;
      return SplitInline(input, static_cast<size_t>(nl - input.data()));
    }
    inline_scanned_ = window;
  }
  if (input.size() > limits_.max_inline_bytes + 1) {
    return Fatal(fmt::format("Protocol error: inline command longer than {} bytes",
                             limits_.max_inline_bytes),
                 0);
  }
  return d;
}

Decoded RespDecoder::SplitInline(std::string_view input, size_t line_end) {
  Decoded d;
  std::string_view line = input.substr(0, line_end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > limits_.max_inline_bytes) {
    return Fatal(fmt::format("Protocol error: inline command longer than {} bytes",
                             limits_.max_inline_bytes),
                 0);
  }
  switch (SplitInlineArgs(line, limits_.max_array_len, &argv_, &inline_scratch_)) {
    case InlineSplit::kOk:
      break;
    case InlineSplit::kUnbalancedQuotes:
      return Fatal("Protocol error: unbalanced quotes in request", 0);  // Redis's words
    case InlineSplit::kTooManyArgs:
      return Fatal(
          fmt::format("Protocol error: too many arguments (limit {})", limits_.max_array_len), 0);
  }
  d.consumed = line_end + 1;
  if (argv_.empty()) return d;  // a blank line, or only spaces: skipped
  BuildRequest(&d);
  return d;
}

void RespDecoder::BuildRequest(Decoded* out) const {
  // Framing only: the server looks the command up in its table (proto/command_table.h),
  // which checks the arity and the arguments, as Redis's processCommand does.
  Request& r = out->request;
  r = Request{};
  r.shape = Shape::kResp;
  r.command = Command::kRedis;
  r.argv = argv_;
  out->status = DecodeStatus::kRequest;
}

// --- Encoding ---------------------------------------------------------------------------

namespace resp {

namespace {
// Simple strings and errors are one line: CR and LF cannot appear inside.
void AppendLine(char type, std::string_view prefix, std::string_view s, std::string* out) {
  out->push_back(type);
  out->append(prefix);
  const size_t start = out->size();
  out->append(s);
  std::replace_if(
      out->begin() + static_cast<std::ptrdiff_t>(start), out->end(),
      [](char c) { return c == '\r' || c == '\n'; }, ' ');
  out->append(wire::kCrlf);
}

void AppendHeader(char type, uint64_t n, std::string* out) {
  const fmt::format_int digits(n);
  out->push_back(type);
  out->append(digits.data(), digits.size());
  out->append(wire::kCrlf);
}
}  // namespace

void AppendSimpleString(std::string_view s, std::string* out) {
  AppendLine(wire::kSimple, {}, s, out);
}

void AppendError(std::string_view message, std::string* out) {
  AppendLine(wire::kError, wire::kErrorPrefix.substr(1), message, out);
}

void AppendInteger(int64_t n, std::string* out) {
  const fmt::format_int digits(n);
  out->push_back(wire::kInteger);
  out->append(digits.data(), digits.size());
  out->append(wire::kCrlf);
}

void AppendBulk(std::string_view s, std::string* out) {
  out->reserve(out->size() + s.size() + 24);
  AppendHeader(wire::kBulk, s.size(), out);
  out->append(s);
  out->append(wire::kCrlf);
}

void AppendNil(std::string* out) { out->append(wire::kNilBulk); }

void AppendArrayHeader(size_t n, std::string* out) { AppendHeader(wire::kArray, n, out); }

}  // namespace resp

}  // namespace kvs::proto
