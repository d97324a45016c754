// ReplyParser: the client side of kvs' wire, incrementally framing and classifying the
// replies to kvs-bench's requests (GET, SET; RESP also INCR, MGET, MSET, SET EX, EXPIRE), in RESP2
// or newline-delimited JSON.
//
// It only needs to know a reply's type, whether it is an error and whether a GET found its
// key, so it checks the shapes kvs and Redis send ({"ok":true...}, +OK, :n, $n, $-1, *n,
// -ERR) on a fast path
// and falls back to simdjson for JSON it does not recognise. Replies are framed from the
// front of the caller's buffer; an incomplete one is re-framed from its start on the next
// call (replies are small, and a bulk's declared length is checked before it is scanned).
// One parser per connection; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "proto/request.h"
#include "workload.h"

namespace kvs::bench {

enum class ReplyKind {
  kOk,       // +OK (any status line), {"ok":true}
  kInteger,  // :n (INCR's new value)
  kValue,    // a GET that found its key: $n..., {"ok":true,"value":"..."}
  kNil,      // a GET that did not: $-1, *-1, {"ok":true,"value":null}
  kArray,    // *n (MGET's values)
  kError,    // -ERR ..., {"ok":false,"error":"..."}: `error` holds the message
};

struct ParsedReply {
  enum class Status { kReply, kNeedMore, kProtocolError } status = Status::kNeedMore;
  size_t consumed = 0;  // bytes of the input the reply took (kReply)
  ReplyKind kind = ReplyKind::kOk;
  std::string_view error;  // kError: the message; kProtocolError: what is wrong
  int64_t number = 0;      // kInteger: its value; kArray: its element count
  int64_t nils = 0;        // kArray: elements that are $-1 (keys MGET did not find)
};

// "+OK", "integer", "bulk", "nil", "array", "error": for messages.
std::string_view ReplyKindName(ReplyKind kind);

// Why `reply` (framed, not an error) cannot be the answer to `op`, or "" when it can: SET
// wants +OK, GET a bulk or nil, INCR an integer, MGET an array of `multi_keys`, MSET +OK,
// SET EX +OK, EXPIRE :1 (it follows the INCR of its counter, so the key exists).
std::string WrongReplyFor(Op op, const ParsedReply& reply, size_t multi_keys);

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
