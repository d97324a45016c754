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
// CR and LF inside Simple and Error text become spaces (one-line types), in JSON too; there
// bytes of Simple and Error text that are not UTF-8 become '?' (they quote client input).
// Doubles are %.17g as Redis 7.0 prints them, in JSON too ("inf", "-inf", "nan" as strings).
//
// REQUIRES of every call: !done(), and a Map key is Bulk, Simple or Ok (asserted). The
// destructor asserts the reply is complete unless nothing was written.
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

  // Switches the RESP version for what follows (HELLO's own reply is in the version it
  // chose). JSON ignores it.
  void SetVersion(RespVersion version) { version_ = version; }

  // True once one complete reply has been written (every aggregate filled).
  bool done() const;

 private:
  struct Level {
    size_t remaining;  // elements still to come (a Map counts keys and values)
    size_t written;    // elements written so far
    bool map;          // elements alternate key, value (JSON: an object)
  };
  // Levels nested deeper than this spill into deep_levels_ (one allocation, rare).
  static constexpr size_t kInlineDepth = 8;

  bool json() const { return shape_ != Shape::kResp; }
  bool resp3() const { return version_ == RespVersion::k3; }
  // Before every value: checks the call is legal here (REQUIRES: !done(); a Map key is a
  // string), writes the JSON envelope or separator. False when the JSON reply has already
  // failed and its bytes will be dropped: the caller writes nothing.
  bool BeginValue(bool string_key);
  // After every complete value: counts it against the innermost aggregate, closing
  // aggregates that are full, and finishes the reply when nothing is open.
  void EndValue();
  // `resp3_type`: the aggregate's RESP3 header byte (RESP2 always writes '*').
  void OpenAggregate(size_t n, char resp3_type, bool map);
  void Finish();  // JSON: closes the envelope, or replaces a failed reply with its error
  Level& Top() { return depth_ <= kInlineDepth ? levels_[depth_ - 1] : deep_levels_.back(); }

  const Shape shape_;
  RespVersion version_;
  std::string* const out_;
  const size_t start_;  // out_->size() when constructed: a failed JSON reply is cut back to it
  Level levels_[kInlineDepth];
  std::vector<Level> deep_levels_;  // levels kInlineDepth + 1 ...
  size_t depth_ = 0;                // open aggregates
  bool started_ = false;
  bool done_ = false;
  bool json_failed_ = false;  // a Bulk was not UTF-8: the reply becomes an error at Finish
};

}  // namespace kvs::proto
