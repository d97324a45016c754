// The command table: every Redis command kvs answers, with the metadata Redis 7 reports for
// it (COMMAND INFO / COMMAND DOCS: arity, flags, key positions, ACL categories, key specs)
// and how the server runs it. The data is generated from a live redis-server by
// scripts/gen-command-table (src/proto/command_table_data.inc), so that what clients read
// from COMMAND is Redis's own description; the server's behaviour is in src/server.
//
// Lookup is case-insensitive ("get", "GET", "Get"). Static, immutable: thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace kvs::proto {

enum class CommandId : uint8_t {
  // connection
  kHello, kAuth, kSelect, kEcho, kPing, kTime, kQuit, kReset, kReadOnly, kReadWrite, kInfo,
  kClient, kClientSetName, kClientGetName, kClientId, kClientInfo, kClientList, kClientKill,
  kClientNoEvict, kClientSetInfo, kClientNoTouch,
  kCommand, kCommandCount, kCommandInfo, kCommandDocs, kCommandList,
  kConfig, kConfigGet,
  kCluster,
  // transactions
  kMulti, kExec, kDiscard, kWatch, kUnwatch,
  // reads
  kGet, kMGet, kExists, kStrLen, kGetRange, kType, kDbSize, kKeys, kScan, kRandomKey,
  kTtl, kPTtl, kExpireTime, kPExpireTime,
  // writes
  kSet, kSetNx, kGetSet, kGetDel, kMSet, kMSetNx, kAppend, kSetRange, kIncr, kDecr, kIncrBy,
  kDecrBy, kIncrByFloat, kDel, kUnlink, kRename, kRenameNx, kCopy, kFlushDb, kFlushAll,
  kMove,
  // expiry
  kSetEx, kPSetEx, kGetEx, kExpire, kPExpire, kExpireAt, kPExpireAt, kPersist,
};

// How the server runs a command (src/server).
enum class Exec : uint8_t {
  kConnection,   // on the loop, from the connection's and the server's state (PING, HELLO...)
  kTransaction,  // MULTI, EXEC, DISCARD, WATCH, UNWATCH
  kRead,         // reads the keyspace as committed: on the pool, or on the loop when cached
  kWrite,        // decided on the loop against the newest state, then group committed
};

// One key specification (COMMAND INFO's 9th field): keys start at argument `begin_index`
// and run to `last_key` (relative to the end when negative; 0 = just the first) every
// `key_step` arguments. Every command kvs implements uses this "index"/"range" form.
struct KeySpec {
  std::string_view notes;
  std::string_view flags;  // space-separated: "RW access update"
  int begin_index;
  int last_key;
  int key_step;
};

struct CommandSpec {
  std::string_view name;  // lower case; "client|setname" for a subcommand
  CommandId id;
  Exec exec;
  int arity;               // Redis's: n = exactly n words (name included); -n = at least n
  std::string_view flags;  // space-separated: "write denyoom fast"
  int first_key;
  int last_key;
  int key_step;
  std::string_view acl_categories;  // space-separated: "@write @string @fast"
  std::string_view tips;            // space-separated
  std::span<const KeySpec> key_specs;
  std::span<const CommandSpec> subcommands;
  // COMMAND DOCS's main fields (what `docs` holds, for commands Redis 7.0 does not have)
  std::string_view summary;
  std::string_view since;
  std::string_view group;
  std::string_view complexity;
  // COMMAND DOCS's whole reply for this command as Redis sends it in RESP3 (arguments,
  // history...; a container's subcommands cut to the ones kvs has), replayed through a
  // ReplyWriter (ReplayResp3). Empty for the commands Redis 7.0 does not have.
  std::string_view docs;

  bool ArityOk(size_t argc) const {
    return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
  }
  bool HasFlag(std::string_view flag) const;
  // "get"; "client|setname" → the full name as Redis's errors show it.
  std::string_view full_name() const { return name; }
};

// The top-level command named `name` (any case), or null.
const CommandSpec* FindCommand(std::string_view name);
// `parent`'s subcommand `name` (any case), or null.
const CommandSpec* FindSubcommand(const CommandSpec& parent, std::string_view name);
// Every top-level command, in table order.
std::span<const CommandSpec> AllCommands();
// How many commands COMMAND COUNT reports: top-level ones.
size_t CommandCount();

// Redis's error texts for a command that cannot run (processCommand):
//   unknown command 'x', with args beginning with: 'a' 'b'
//   unknown subcommand 'x'. Try CLIENT HELP.
//   wrong number of arguments for 'get' command
std::string UnknownCommandError(std::span<const std::string_view> argv);
std::string UnknownSubcommandError(std::string_view parent, std::string_view sub);
std::string WrongArityError(std::string_view full_name);

// Replays one RESP3 reply (`bytes`, as Redis wrote it) into `out`, in out's protocol.
// REQUIRES: `bytes` is one well-formed reply of the types ReplyWriter writes.
class ReplyWriter;
void ReplayResp3(std::string_view bytes, ReplyWriter& out);

// ASCII case-insensitive equality, for command words and options.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace kvs::proto
