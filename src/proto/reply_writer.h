// ReplyWriter: writes one reply of any Redis type — in RESP2, in RESP3 (after HELLO 3), or
// as JSON for the generic JSON form {"cmd":[...]} — appended to a caller's buffer, so many
// replies batch into one send. Commands describe their reply once, as a stream of calls:
//
//   ReplyWriter w(shape, version, &out);
//   w.Array(2); w.Bulk("a"); w.Null();             // *2 $1 a $-1  |  *2 $1 a _  |  ["a",null]
//   w.Map(1); w.Bulk("proto"); w.Integer(3);       // *2 ... (RESP2) | %1 ... (RESP3) | {"proto":3}
//
// An aggregate (Array, Map, Set) is followed by exactly its elements (a Map by 2n: key,
// value, key, value...). Errors may appear as elements (EXEC's results).
//
// Encodings by call:            RESP2               RESP3               JSON value
//   Ok()                        +OK                 +OK                 "OK"
//   Simple(s)                   +s                  +s                  "s"
//   Error("ERR text")           -ERR text           -ERR text           {"error":"ERR text"}
//   Integer(n)                  :n                  :n                  n
//   Bulk(s)                     $len s              $len s              "s" (UTF-8 only)
//   Null()                      $-1                 _                   null
//   NullArray()                 *-1                 _                   null
//   Array(n)                    *n                  *n                  [ ... ]
//   Set(n)                      *n                  ~n                  [ ... ]
//   Map(n)                      *2n                 %n                  { "k": v, ... }
//   Bool(b)                     :1 / :0             #t / #f             true / false
//   Double(d)                   $len %.17g          ,%.17g (,inf ,-inf) number (inf: string)
//   Verbatim(text)              $len text           =len txt:text       "text"
//
// JSON: the whole reply becomes {"ok":true,"value":<value>}\n ({"Ok":<value>}\n in the
// legacy shape); a top-level Error becomes {"ok":false,"error":"ERR text"}\n ({"Err":...}).
// Map keys must be Bulk or Simple (JSON object keys). Bytes that are not valid UTF-8 cannot
// be carried by JSON: the whole reply is then replaced by an error naming the problem.
// CR and LF inside Simple and Error text become spaces (one-line types).
//
// Not thread-safe; one writer per reply.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proto/request.h"

namespace kvs::proto {

// The RESP version a connection speaks: 2 until HELLO 3.
enum class RespVersion : uint8_t { k2 = 2, k3 = 3 };

class ReplyWriter {
 public:
  ReplyWriter(Shape shape, RespVersion version, std::string* out);
  ReplyWriter(const ReplyWriter&) = delete;
  ReplyWriter& operator=(const ReplyWriter&) = delete;
  ~ReplyWriter();

  void Ok();
  void Simple(std::string_view s);
  // `text` is the whole error line after '-': an upper-case code, a space, the message
  // ("ERR syntax error", "WRONGTYPE Operation against a key holding the wrong kind of value").
  void Error(std::string_view text);
  void Integer(int64_t n);
  void Bulk(std::string_view s);
  void Null();
  void NullArray();
  void Array(size_t n);
  void Set(size_t n);
  void Map(size_t n);
  void Bool(bool b);
  void Double(double d);
  void Verbatim(std::string_view text);

  // True once one complete reply has been written (every aggregate filled).
  bool done() const;

 private:
  void BeginValue();             // JSON: separators before a value
  void EndValue();               // counts the value against the innermost aggregate
  void OpenAggregate(size_t n, bool map, bool json_object);
  void Finish();                 // JSON: closes the envelope

  struct Level {
    size_t remaining;  // elements still to come
    size_t written;    // elements written so far
    bool json_object;  // a JSON object: elements alternate key, value
  };

  const Shape shape_;
  const RespVersion version_;
  std::string* const out_;
  const size_t start_;  // out_->size() when constructed: a failed JSON reply is cut back to it
  std::vector<Level> stack_;
  bool done_ = false;
  bool json_failed_ = false;  // a Bulk was not UTF-8: the reply becomes an error at Finish
};

}  // namespace kvs::proto
