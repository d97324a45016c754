// Request: one parsed client command, as views into bytes someone else owns.
//
// Lifetime: `key`, `value` and `args` point either into the caller's receive buffer (the
// input passed to Decoder::Next) or into the Decoder's scratch (a JSON string that had to
// be unescaped, the argument array). They stay valid until the next call to
// Decoder::Next on the same Decoder *and* while the caller keeps the input bytes in place.
// Copy what must outlive that (a key sent to the thread pool, a value going into a log
// batch). A value type; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace kvs::proto {

enum class Protocol : uint8_t {
  kJson,  // newline-delimited JSON
  kResp,  // RESP2
};

// The shape a request was asked in; its reply must be given in the same shape.
enum class Shape : uint8_t {
  kJson,        // {"op":"get","key":K}           → {"ok":true,"value":V}
  kJsonLegacy,  // {"Get":{"key":K}}              → {"Ok":V}
  kResp,        // *2\r\n$3\r\nGET\r\n$1\r\nK\r\n → $1\r\nV\r\n
};

enum class Command : uint8_t {
  kGet,        // key
  kSet,        // key, value
  kRm,         // key (JSON rm / legacy Remove); RESP DEL: args = every key, key = args[0]
  kPing,       // RESP: value = optional message (has_value)
  kExists,     // RESP only: args = every key, key = args[0]
  kDbSize,     // RESP only
  kInfo,       // RESP only: args = optional section names
  kQuit,       // RESP only: reply +OK, then close
  kCommand,    // RESP only: args = subcommand and its arguments (COMMAND DOCS, ...)
  kConfigGet,  // RESP only: args = parameter names (CONFIG GET save)
  kReadOnly,   // RESP only: this connection's reads may be served stale by a follower
  kReadWrite,  // RESP only: back to linearizable reads (the default)
  kCluster,    // RESP only: args = STATUS | ADD ID=CLIENT_ADDR/RAFT_ADDR | REMOVE ID
  // A Redis command by name: `argv` holds it whole, name first (RESP; JSON {"cmd":[...]}).
  // The server looks the name up in its command table (proto/command_table.h), which
  // checks the arity and says how to run it.
  kRedis,
};

struct Request {
  Shape shape = Shape::kJson;
  Command command = Command::kPing;
  std::string_view key;
  std::string_view value;
  bool has_value = false;  // value was given (SET always; PING <message>)
  // RESP: the arguments after the command name (and after CONFIG's "GET"). JSON: empty.
  std::span<const std::string_view> args;
  bool stale = false;  // JSON get with "stale":true: a cluster follower may answer from its copy
  // kRedis: the command's words, name first (argv.size() >= 1). Empty otherwise.
  std::span<const std::string_view> argv = {};

  Protocol protocol() const { return shape == Shape::kResp ? Protocol::kResp : Protocol::kJson; }
};

// A request the decoder could not accept. Reply with EncodeError(shape, message); if
// `close` is set the stream cannot be resynchronised: send the reply, then close.
struct DecodeError {
  Shape shape = Shape::kJson;
  bool close = false;
  std::string message;  // names the problem; no "ERR " prefix, no CR/LF guarantee
};

// What one Decoder::Next call produced.
enum class DecodeStatus : uint8_t {
  kRequest,   // `request` holds a complete request
  kNeedMore,  // no complete request yet: read more bytes (or, at EOF, close)
  kError,     // `error` says what was wrong; reply with it, then go on (or close)
};

struct Decoded {
  DecodeStatus status = DecodeStatus::kNeedMore;
  // Bytes to drop from the front of the input, whatever the status (a request, a skipped
  // blank line, the prefix of an over-long line that will never be buffered...).
  size_t consumed = 0;
  // kNeedMore: the (remaining) input must reach this many bytes before the next request
  // can complete, when known (a RESP bulk of declared length); 0 = unknown.
  size_t wanted = 0;
  Request request;    // kRequest
  DecodeError error;  // kError
};

// "GET", "SET", ... (RESP spelling; JSON ops are lower case on the wire).
std::string_view CommandName(Command command);

}  // namespace kvs::proto
