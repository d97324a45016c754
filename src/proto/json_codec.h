// JSON codec: newline-delimited JSON requests in (simdjson On-Demand), JSON replies out.
//
// JsonDecoder frames lines and parses each into a Request of the new shape
// ({"op":"get","key":K}), the generic form ({"cmd":["INCR","k"]} → Command::kRedis with
// `argv`) or the original kvs shape ({"Get":{"key":K}}). Strings without escapes are
// returned as views into the caller's input (zero copy); strings with escapes are unescaped
// into the decoder's own scratch. See Request for the lifetime rules.
// One JsonDecoder per connection; not thread-safe. It parses with a thread_local simdjson
// parser, so many decoders on one thread share one parser's memory.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "proto/limits.h"
#include "proto/request.h"

namespace kvs::proto {

// The generic form's field, {"cmd":["INCR","k"]}: a non-empty array of strings, the command
// name first (docs/PROTOCOL.md). It may be combined with "stale" only.
inline constexpr std::string_view kJsonFieldCmd = "cmd";

class JsonDecoder {
 public:
  explicit JsonDecoder(const ProtoLimits& limits = {});
  JsonDecoder(const JsonDecoder&) = delete;
  JsonDecoder& operator=(const JsonDecoder&) = delete;

  // Decodes the next request from `input`, the bytes not yet consumed.
  // REQUIRES: `input` starts with the unconsumed bytes passed to the previous call (plus
  // whatever arrived since), or the decoder is fresh.
  // `eof`: no more bytes will come; a final line without '\n' is parsed.
  // `padding`: bytes after input.end() the caller guarantees readable (any content); when
  // a line has >= 64 readable bytes after it simdjson parses it in place, else the line is
  // copied into a padded scratch buffer first.
  Decoded Next(std::string_view input, bool eof = false, size_t padding = 0);

 private:
  // Parses one line (no '\n'); `readable_after` bytes after it may be read.
  void ParseLine(std::string_view line, size_t readable_after, Decoded* out);
  // Moves the escaped words of argv_ into argv_scratch_ and makes `r` the generic request.
  // REQUIRES: the parser still holds the document argv_ was read from.
  void FinishArgv(Request* r, bool stale);

  const ProtoLimits limits_;
  size_t scanned_ = 0;         // bytes at the front of the input known to hold no '\n'
  bool discarding_ = false;    // skipping the rest of an over-long line, up to its '\n'
  std::string key_scratch_;    // unescaped key, when it had escapes
  std::string value_scratch_;  // unescaped value, when it had escapes
  // The generic form's words (Request::argv points here): views into the input, or into
  // argv_scratch_, which holds the unescaped words back to back.
  std::vector<std::string_view> argv_;
  std::string argv_scratch_;
  std::vector<size_t> argv_escaped_;  // indexes of the words that had escapes
  std::unique_ptr<char[]> padded_;    // a copy of the line + SIMDJSON_PADDING
  size_t padded_capacity_ = 0;
};

// Appends `s` as a JSON string literal: quotes, `"` `\` and control characters escaped
// (\n \r \t \b \f, others \u00XX); every other byte is copied as is.
// REQUIRES: `s` is valid UTF-8 (else the output is not valid JSON; see IsValidUtf8).
void AppendJsonString(std::string_view s, std::string* out);

// True when `s` is valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool IsValidUtf8(std::string_view s);

}  // namespace kvs::proto
