// Connection: one client's state, owned by the Server's loop thread (never touched by
// another thread). Internal to src/server.
//
// Ordering (DESIGN.md "Order and visibility"): requests of one connection take effect in
// order, and their replies leave in request order. Each read or write request gets a reply
// slot in `replies`; slots are filled as results come back (reads from the pool, writes
// from the group commit) and sent from the front while ready. A read is not started while
// a write of the same connection is uncommitted, and a write not while a read is running:
// the request that would cross waits, parked, and stops the decoding behind it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "proto/command_table.h"
#include "proto/decoder.h"
#include "proto/reply_writer.h"
#include "proto/request.h"
#include "store/engine.h"
#include "uring/loop.h"

namespace kvs::server_internal {

using Clock = std::chrono::steady_clock;

// What a connection's commands act on and answer in; changed by SELECT, HELLO, AUTH,
// CLIENT SETNAME, READONLY... A transaction runs on a copy, kept only once it ran.
struct Session {
  uint32_t db = 0;
  proto::RespVersion resp = proto::RespVersion::k2;
  bool authenticated = false;  // AUTH (or HELLO AUTH) passed, or no password is set
  bool stale_reads = false;    // READONLY: reads may be answered by a cluster follower
  std::string name;            // CLIENT SETNAME
  std::string lib_name;        // CLIENT SETINFO LIB-NAME
  std::string lib_ver;         // CLIENT SETINFO LIB-VER
};

// An owned copy of a decoded request: what outlives the receive buffer.
struct Call {
  proto::Shape shape = proto::Shape::kJson;
  proto::Command command = proto::Command::kPing;
  std::string key;
  std::string value;
  std::vector<std::string> args;
  bool stale = false;  // a cluster read that a follower may answer from its own copy

  // command == kRedis: the command (a subcommand's own entry), its words, and the session
  // it runs in (captured when it starts: a later SELECT does not move it).
  const proto::CommandSpec* spec = nullptr;
  std::vector<std::string> argv;
  uint32_t db = 0;
  proto::RespVersion resp = proto::RespVersion::k2;
  // EXEC: the queued commands. INFO: the loop's sections (the pool adds the keyspace).
  std::vector<Call> queued;
  std::string text;
  // A write that had to read keys off the loop first: their values then (nullopt: absent),
  // and fetch_error when a read failed.
  std::unordered_map<std::string, std::optional<StoredValue>> fetched;
  Status fetch_error;
  bool fenced = false;  // cluster mode: a Raft barrier completed after it arrived

  static Call From(const proto::Request& request);
  // The keys a DEL or EXISTS names (its args), or the one key of the others.
  std::vector<std::string> Keys() &&;
};

enum class CallClass : uint8_t {
  kLocal,  // answered on the loop from the request and the connection (PING, HELLO, errors...)
  kRead,   // runs on the pool (GET, MGET, EXISTS, DBSIZE, INFO...); CLUSTER, also answered later
  kWrite,  // decided on the loop, then goes into the group commit (SET, INCR, DEL, EXEC...)
};
CallClass Classify(proto::Command command);
CallClass Classify(const Call& call);

struct ReplySlot {
  bool ready = false;
  std::string bytes;
};

struct Connection {
  Connection(uint32_t id_, uint32_t gen_, int fd_, const proto::ProtoLimits& limits)
      : id(id_), gen(gen_), fd(fd_), decoder(limits) {}

  const uint32_t id;   // index in the server's table
  const uint32_t gen;  // distinguishes this connection from earlier users of `id`
  const int fd;

  uring::OpId recv_op = 0;
  bool recv_armed = false;

  proto::Decoder decoder;
  std::string in;  // received bytes; [in_start, size) not yet decoded
  size_t in_start = 0;
  std::optional<Call> parked;  // decoded but waiting for an earlier request to finish

  std::deque<ReplySlot> replies;  // slots of requests in flight, in request order
  uint64_t first_seq = 0;         // sequence number of replies.front()
  uint64_t next_seq = 0;          // sequence number of the next slot
  std::string out;                // ready replies not yet handed to the kernel
  size_t sending_bytes = 0;       // bytes of the Send in flight (0: none)

  size_t reads_in_flight = 0;
  size_t writes_in_flight = 0;

  bool peer_eof = false;       // the client half-closed: answer what came, then close
  bool no_more_input = false;  // shutting down: answer what came, then close
  bool closing = false;        // a fatal error or QUIT: send what is queued, then close
  bool broken = false;         // the socket failed: close without sending
  bool rejected = false;       // over --max-clients: one error reply, then close
  bool dirty = false;          // in the server's flush list
  // A write is reading keys off the loop (Call::fetched): nothing after it may start.
  bool executing = false;
  bool close_scheduled = false;

  Clock::time_point last_active;
  Clock::time_point created;

  // Redis's per-client state (server_commands.cc).
  uint64_t client_id = 0;  // CLIENT ID: never reused while the server runs
  Session session;
  std::string last_command;          // CLIENT LIST's cmd=
  bool in_multi = false;             // MULTI: commands are queued until EXEC
  bool multi_failed = false;         // a command was refused while queueing: EXEC aborts
  std::vector<Call> queued;          // MULTI's queue
  size_t queued_bytes = 0;           // its words' bytes, bounded by the connection buffer limit
  std::vector<std::string> watched;  // WATCH's engine keys
  // Those that existed when watched (as far as memory tells): one gone by EXEC without a
  // write touching it has expired meanwhile, which fails the EXEC as in Redis 7.
  std::vector<std::string> watched_alive;
  bool watch_dirty = false;  // a watched key changed: EXEC fails

  size_t buffered_bytes() const { return (in.size() - in_start) + out.size() + sending_bytes; }
  bool idle() const {
    return reads_in_flight == 0 && writes_in_flight == 0 && replies.empty() && out.empty() &&
           sending_bytes == 0 && !parked;
  }
};

}  // namespace kvs::server_internal
