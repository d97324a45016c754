// RESP2 codec: command arrays (and inline commands) in, RESP2 replies out.
//
// RespDecoder parses "*<n>\r\n" followed by n bulk strings "$<len>\r\n<bytes>\r\n", or an
// inline line of words split as Redis splits them ("SET \"a b\" c\r\n", resp_inline.h),
// into a Request whose key, value and args are views into the caller's input (binary-safe,
// zero copy) or, for a quoted inline word, into the decoder's scratch. Lengths are checked as
// soon as their header arrives, before the bytes are waited for. A framing error is fatal
// (the stream cannot be resynchronised: reply, then close); a bad command (unknown, wrong
// arity, key too long) is a plain error reply and the stream goes on.
// One RespDecoder per connection; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proto/limits.h"
#include "proto/request.h"

namespace kvs::proto {

class RespDecoder {
 public:
  explicit RespDecoder(const ProtoLimits& limits = {});
  RespDecoder(const RespDecoder&) = delete;
  RespDecoder& operator=(const RespDecoder&) = delete;

  // Decodes the next request from `input`, the bytes not yet consumed.
  // REQUIRES: `input` starts with the unconsumed bytes passed to the previous call (plus
  // whatever arrived since), or the decoder is fresh.
  // After a fatal error (error.close) every later call returns that error again.
  Decoded Next(std::string_view input, bool eof = false);

 private:
  Decoded ParseMultibulk(std::string_view input);
  Decoded ParseInline(std::string_view input);
  // Splits the complete inline line that ends with the '\n' at input[line_end].
  Decoded SplitInline(std::string_view input, size_t line_end);
  // Turns argv_ into a request (or a non-fatal error) in `out`.
  void BuildRequest(Decoded* out) const;
  Decoded Fatal(std::string message, size_t consumed);

  const ProtoLimits limits_;
  std::vector<std::string_view> argv_;  // the current command's words; reused
  size_t inline_scanned_ = 0;           // bytes of a partial inline line known to hold no '\n'
  bool inline_blocked_ = false;         // the partial inline line holds a NUL: it never ends
  std::string inline_scratch_;          // unescaped quoted inline words; reused
  std::string fatal_;                   // set once a framing error closed the stream
};

// RESP2 reply writers: each appends one complete reply to *out.
namespace resp {
void AppendSimpleString(std::string_view s, std::string* out);  // +s (CR/LF → space)
void AppendError(std::string_view message, std::string* out);   // -ERR message
void AppendInteger(int64_t n, std::string* out);                // :n
void AppendBulk(std::string_view s, std::string* out);          // $len s (binary safe)
void AppendNil(std::string* out);                               // $-1
void AppendArrayHeader(size_t n, std::string* out);             // *n; then n replies
}  // namespace resp

}  // namespace kvs::proto
