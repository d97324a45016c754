// ReplyParser: the client side of kvs' wire, incrementally framing and classifying the
// replies to kvs-bench's GET and SET requests, in RESP2 or newline-delimited JSON.
//
// It only needs to know whether a reply is an error and whether a GET found its key, so it
// checks the shapes kvs and Redis send ({"ok":true...}, +OK, $n, $-1, -ERR) on a fast path
// and falls back to simdjson for JSON it does not recognise. Replies are framed from the
// front of the caller's buffer; an incomplete one is re-framed from its start on the next
// call (replies are small, and a bulk's declared length is checked before it is scanned).
// One parser per connection; not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "proto/request.h"

namespace kvs::bench {

enum class ReplyKind {
  kOk,     // +OK, :n, {"ok":true}
  kValue,  // a GET that found its key: $n..., {"ok":true,"value":"..."}
  kNil,    // a GET that did not: $-1, {"ok":true,"value":null}
  kError,  // -ERR ..., {"ok":false,"error":"..."}: `error` holds the message
};

struct ParsedReply {
  enum class Status { kReply, kNeedMore, kProtocolError } status = Status::kNeedMore;
  size_t consumed = 0;  // bytes of the input the reply took (kReply)
  ReplyKind kind = ReplyKind::kOk;
  std::string_view error;  // kError: the message; kProtocolError: what is wrong
};

class ReplyParser {
 public:
  explicit ReplyParser(proto::Protocol protocol) : protocol_(protocol) {}

  // Frames the first reply of `input`. Views in the result point into `input` or into the
  // parser, valid until the next call.
  ParsedReply Next(std::string_view input);

 private:
  ParsedReply NextResp(std::string_view input);
  ParsedReply NextJson(std::string_view input);
  // Classifies one JSON line (no '\n') that is not in kvs' canonical form.
  ParsedReply ClassifyJsonSlow(std::string_view line);

  const proto::Protocol protocol_;
  std::string scratch_;  // a padded copy for simdjson; an error message
};

}  // namespace kvs::bench
