// The string and keyspace commands (GET ... COPY): what each one reads, writes and replies,
// as Redis 7 does (t_string.c, db.c), over an abstract view of the keyspace. Internal to
// src/server.
//
// A command runs against a Txn: the keys' newest state (a KeyReader: for reads the engine's
// committed state; for writes the loop's view, which includes writes staged in batches not
// yet on disk) under the writes the command (or its transaction) staged before. Its writes
// stay staged in the Txn; the server puts them into the group commit, and sends the reply
// once they are durable.
//
// A command decides expiry by one reading of the clock, taken when its Txn is made (as Redis
// caches the time per command): a key expires for it either before or after, never halfway.
//
// A key whose value is not in memory makes a read answer WouldBlock: the command stops
// without replying or staging anything that the caller keeps, the key is in Txn::missing(),
// and the caller fetches it (off the loop) and runs the command again from the start.
//
// Not thread-safe; a Txn is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/result.h"
#include "base/status.h"
#include "proto/command_table.h"
#include "proto/reply_writer.h"
#include "store/engine.h"

namespace kvs::server_internal {

// The state of keys (engine keys: store/db_key.h).
class KeyReader {
 public:
  virtual ~KeyReader() = default;
  // The value and expiry time, or nullopt when the key does not exist. WouldBlock: not in
  // memory. A reader may return a key whose time has passed (the Txn hides it).
  virtual Result<std::optional<StoredValue>> Get(std::string_view key) = 0;
  // Whether the key exists, where that is cheaper than its value. WouldBlock: not known
  // without the disk. Never true for a key whose time has passed.
  virtual Result<bool> Exists(std::string_view key) = 0;
  // Calls `fn` for every existing key starting with `prefix`, in no particular order; stops
  // at the first non-OK status `fn` returns. Never WouldBlock (keys live in memory).
  virtual Status ForEachKey(std::string_view prefix,
                            const std::function<Status(std::string_view key)>& fn) = 0;
  // How many keys database `db` holds, where that is known without a walk; nullopt: count
  // with ForEachKey.
  virtual std::optional<uint64_t> KeysInDb(uint32_t /*db*/) { return std::nullopt; }
};

// Engine::KeysPerDb's count for `db` (0 for a database without keys), or nullopt.
std::optional<uint64_t> EngineKeysInDb(const Engine& engine, uint32_t db);

// An engine read as a KeyReader answers it: the value, nullopt for NotFound, or the error
// (WouldBlock included).
inline Result<std::optional<StoredValue>> ValueOrAbsent(Result<StoredValue> read) {
  if (read.ok()) return std::optional<StoredValue>(std::move(*read));
  if (read.status().IsNotFound()) return std::optional<StoredValue>();
  return read.status();
}

// Whether a key with this expiry time has expired at `now_ms`.
inline bool ExpiredAt(int64_t expire_at_ms, int64_t now_ms) {
  return expire_at_ms != kNoExpiry && expire_at_ms <= now_ms;
}

// Writes staged over a KeyReader, seen by the reads after them.
class Txn {
 public:
  // `now_ms`: the time its commands decide expiry by (ExpiryClock::NowMs()).
  Txn(KeyReader* base, int64_t now_ms) : base_(base), now_ms_(now_ms) {}

  int64_t now_ms() const { return now_ms_; }
  // The value and expiry time; nullopt for a key that does not exist or has expired.
  Result<std::optional<StoredValue>> Get(std::string_view key);
  Result<bool> Exists(std::string_view key);
  // The keys with `prefix` as the staged writes leave them.
  Status ForEachKey(std::string_view prefix, const std::function<Status(std::string_view key)>& fn);
  // The base's count while nothing is staged; nullopt otherwise (walk).
  std::optional<uint64_t> KeysInDb(uint32_t db) {
    return writes_.empty() ? base_->KeysInDb(db) : std::nullopt;
  }
  void Put(std::string key, std::string value, int64_t expire_at_ms = kNoExpiry);
  void Delete(std::string key);
  // Deletes every key starting with `prefix` (FLUSHDB, FLUSHALL): one op, whatever the count.
  void DeletePrefix(std::string prefix);

  // The staged writes, in order. A key may appear more than once (the last op wins).
  WriteBatch& writes() { return writes_; }
  // Keys a read could not answer (WouldBlock), to fetch before running again.
  const std::vector<std::string>& missing() const { return missing_; }

 private:
  // The last staged op that decides `key`: its own put or delete, or a later prefix delete
  // covering it. Null when no staged op touches it.
  const WriteBatch::Op* Staged(std::string_view key) const;

  KeyReader* const base_;
  const int64_t now_ms_;
  WriteBatch writes_;
  std::unordered_map<std::string, size_t> latest_;  // key -> index of its last staged op
  std::vector<size_t> prefix_ops_;                  // indexes of the kDeletePrefix ops
  std::vector<std::string> missing_;
};

struct KeyspaceOptions {
  uint32_t databases = 16;
  size_t max_key_bytes = kMaxUserKeyBytes;
  size_t max_value_bytes = kMaxValueBytes;  // what APPEND and SETRANGE may grow a string to
};

// Runs data command `spec` (Exec::kRead or kWrite; argv[0] is its name) in database `db`.
// OK: the reply (possibly a Redis error reply) is in `out` and the writes are in `txn`.
// WouldBlock: a key must be fetched first (txn->missing()). Another error: a read failed;
// the caller replies with it. On any non-OK status, discard `out`'s bytes and `txn`.
Status RunDataCommand(const proto::CommandSpec& spec, std::span<const std::string> argv,
                      uint32_t db, const KeyspaceOptions& options, Txn* txn,
                      proto::ReplyWriter* out);

// Checks the key arguments of `spec` (its first/last/step positions) against
// options.max_key_bytes: an error reply text, or empty.
std::string CheckKeyLengths(const proto::CommandSpec& spec, std::span<const std::string> argv,
                            const KeyspaceOptions& options);

}  // namespace kvs::server_internal
