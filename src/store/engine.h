// Engine: the storage interface the server drives ("kvs" = LogStore, "rocksdb" = RocksDbEngine).
//
// Thread-safe: any thread may call any method concurrently. Writes are applied in the
// order their calls are serialised by the engine; a call returns only once its data is as
// durable as Options::fsync promises (kAlways: on disk, fdatasync'd). After a failed write
// or sync the engine refuses further writes (Status::ReadOnly) and keeps serving reads:
// a failed fsync is never retried as if the data were safe.
//
// Keys are engine keys (store/db_key.h: a database number, then the user's key), opaque
// non-empty bytes to an engine. Data written before databases existed holds bare user keys;
// each engine reads those as db 0's engine keys (docs/FORMAT.md "Engine keys").
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "base/status.h"
#include "store/db_key.h"

namespace kvs {

class LogWriter;

// When a write is acknowledged (the server's --fsync flag).
enum class FsyncPolicy {
  kAlways,    // after fdatasync: survives power loss (default)
  kPeriodic,  // after write(2); synced every Options::sync_interval_ms: survives kill -9
  kNever,     // after write(2); the OS syncs when it likes: survives kill -9
};

// Parses "always" / "periodic" / "never".
Result<FsyncPolicy> ParseFsyncPolicy(std::string_view text);
std::string_view FsyncPolicyName(FsyncPolicy policy);

// Hard limits on what one record may hold; larger inputs are InvalidArgument.
// A user's key (Redis's, before its database prefix; store/db_key.h): the server checks it.
inline constexpr uint32_t kMaxUserKeyBytes = 64 * 1024;
// The key an Engine is handed (an engine key: a user key of at most kMaxUserKeyBytes in any
// database fits). Records written before databases existed hold at most kMaxUserKeyBytes.
inline constexpr uint32_t kMaxKeyBytes = kMaxUserKeyBytes + kMaxDbPrefixBytes;
inline constexpr uint32_t kMaxValueBytes = 16 * 1024 * 1024;

// Expiry times are absolute: milliseconds since the Unix epoch (base/clock.h). A key whose
// time has come (expire_at_ms <= the clock's NowMs()) no longer exists for any read of an
// engine, whether or not its record is gone yet; the server's active expirer deletes it.
inline constexpr int64_t kNoExpiry = 0;

// An ordered list of puts and deletes applied with one durability point. Owns its bytes.
class WriteBatch {
 public:
  enum class OpKind : uint8_t {
    kPut = 1,
    kDelete = 2,
    // Deletes every key that starts with `key` (every key, for an empty one) as of this
    // point of the batch: what FLUSHDB (a database's prefix) and FLUSHALL write. Costs the
    // disk one small record however many keys it removes. Its op result is always OK.
    kDeletePrefix = 3,
  };
  struct Op {
    OpKind kind;
    std::string key;    // for kDeletePrefix, the prefix (may be empty)
    std::string value;  // empty unless kPut
    // kPut: when the key expires (ms since the epoch), or kNoExpiry. Always kNoExpiry else.
    int64_t expire_at_ms = kNoExpiry;
  };

  void Put(std::string_view key, std::string_view value, int64_t expire_at_ms = kNoExpiry) {
    ops_.push_back(Op{OpKind::kPut, std::string(key), std::string(value), expire_at_ms});
  }
  void Delete(std::string_view key) { ops_.push_back(Op{OpKind::kDelete, std::string(key), {}}); }
  void DeletePrefix(std::string_view prefix) {
    ops_.push_back(Op{OpKind::kDeletePrefix, std::string(prefix), {}});
  }
  // Takes the op's bytes without copying them (the server moves request bytes in).
  void Append(Op&& op) { ops_.push_back(std::move(op)); }
  void Clear() { ops_.clear(); }
  // Hands the ops over, leaving the batch empty.
  std::vector<Op> ReleaseOps() && { return std::move(ops_); }

  size_t size() const { return ops_.size(); }
  bool empty() const { return ops_.empty(); }
  const std::vector<Op>& ops() const { return ops_; }

 private:
  std::vector<Op> ops_;
};

// OK, or InvalidArgument naming the limit an op breaks (empty key, key or value too long,
// a value or an expiry time on a delete, a negative expiry time). Every engine checks each op of a batch with it before writing anything.
Status CheckWriteOp(const WriteBatch::Op& op);

// Whether a key exists as the earlier ops of a batch leave it, for an engine deciding the
// answer of a delete (NotFound when the key is absent at that point). Views the batch's keys.
class BatchKeyState {
 public:
  // True/false when an earlier op decided it; nullopt: the batch has not touched the key,
  // the engine knows.
  std::optional<bool> Exists(std::string_view key) const;
  // Records `op` (its key must outlive this object).
  void Apply(const WriteBatch::Op& op);

 private:
  std::unordered_map<std::string_view, bool> keys_;
  std::vector<std::string_view> prefixes_;  // of kDeletePrefix ops so far
};

// Counters for INFO / `kvs-client stats`; engines fill what applies to them.
struct EngineStats {
  uint64_t keys = 0;
  uint64_t live_bytes = 0;  // bytes of records the index points at
  uint64_t dead_bytes = 0;  // bytes of overwritten/removed records not yet compacted
  uint64_t disk_bytes = 0;  // total size of data files
  uint64_t segments = 0;
  uint64_t compactions = 0;
  uint64_t index_bytes = 0;  // memory of the engine's in-memory index (LogStore)
  uint64_t fsyncs = 0;
  uint64_t batches = 0;      // durable write batches (group commits)
  uint64_t batched_ops = 0;  // ops in those batches; batched_ops / batches = mean batch size
  bool read_only = false;    // a write or sync failed; see EngineStats::failure
  std::string failure;       // why, when read_only
};

struct Options {
  std::string data_dir = ".";
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  uint32_t sync_interval_ms = 1000;           // kPeriodic only
  uint64_t segment_bytes = 64 * 1024 * 1024;  // LogStore: roll to a new segment past this
  bool repair = false;                        // drop damaged records instead of refusing to open
  // LogStore: keep this many bytes ahead of the active segment's write offset written with
  // zeros, from a background thread (0: off). A record appended into blocks written once
  // costs its fdatasync no journal commit, unlike one into blocks only fallocate'd
  // (docs/PERFORMANCE.md "fdatasync into written blocks").
  uint64_t zero_fill_ahead_bytes = 8 * 1024 * 1024;
  // LogStore compaction (docs/COMPACTION.md); RocksDbEngine ignores these.
  // Default true: a background thread compacts when both thresholds below are passed.
  // False: only explicit LogStore::Compact() calls compact (tests run it inline this way).
  bool background_compaction = true;
  // Default 0.5: compact once dead bytes (overwritten or removed records, tombstones) are
  // this fraction of all segment bytes; the data files then stay within about twice the live
  // data between compactions (docs/COMPACTION.md "Space").
  double compaction_dead_ratio = 0.5;
  // Default 64 MiB: ... and at least this many bytes, so that a small store is not rewritten
  // over and over for a few dead records.
  uint64_t compaction_min_dead_bytes = 64 * 1024 * 1024;
  // Called with human-readable warnings (a torn tail truncated, records dropped by repair).
  // The library never logs by itself; the server passes its logger here. May be empty.
  // Called from the compactor thread too (a failed background compaction), so thread-safe.
  std::function<void(std::string_view)> on_warning;
  // The time expiry is decided by (base/clock.h); null: the system's wall clock. The server
  // shares its own with the engine; tests inject one that jumps.
  std::shared_ptr<ExpiryClock> clock;
};

// A key's value and expiry time, as an engine read returns them.
struct StoredValue {
  std::string value;
  int64_t expire_at_ms = kNoExpiry;
};

// How many keys one database holds, and how many of those have an expiry time; keys whose
// time has passed are counted in neither (INFO's "keys=..,expires=..", DBSIZE).
struct DbKeyCount {
  uint64_t keys = 0;
  uint64_t expires = 0;
  friend bool operator==(const DbKeyCount&, const DbKeyCount&) = default;
};

// What one Engine::ScanExpired call found.
struct ExpiredScan {
  std::vector<std::string> keys;  // engine keys whose time has passed, not yet deleted
  size_t visited = 0;             // keys with an expiry time looked at, expired or not
};

class Engine {
 public:
  Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  virtual ~Engine() = default;

  // "kvs" or "rocksdb": the word written to the data directory's ENGINE file.
  virtual std::string_view name() const = 0;

  // The value and expiry time, or NotFound("Key not found") (for an expired key too). With
  // cached_only, from memory and the page cache only: WouldBlock where it would wait for the
  // disk (the server's loop answers such lookups itself and hands the rest to the pool); an
  // engine without such a path always says WouldBlock then.
  virtual Result<StoredValue> Read(std::string_view key, bool cached_only) = 0;

  // Read's value.
  Result<std::string> Get(std::string_view key) { return ValueOf(Read(key, false)); }
  Result<std::string> GetCached(std::string_view key) { return ValueOf(Read(key, true)); }

  // Whether `key` exists (and has not expired); with cached_only, WouldBlock where that needs
  // the disk. Engines need not override it: this one reads the value.
  virtual Result<bool> Contains(std::string_view key, bool cached_only);

  // A one-op Write(); engines need not override it.
  virtual Status Set(std::string_view key, std::string_view value);

  // NotFound("Key not found") when the key does not exist (nothing is written then).
  virtual Status Remove(std::string_view key);

  // Applies every op of `batch`, in order, under one durability point. The return value is
  // the batch's fate: OK, or the write/sync error that failed all of it (nothing applied).
  // When OK, (*op_results)[i] is op i's own outcome: OK, or NotFound for a delete of a key
  // that did not exist at that point of the batch. REQUIRES: op_results != nullptr.
  virtual Status Write(const WriteBatch& batch, std::vector<Status>* op_results) = 0;

  // The engine's group-commit seam when its batches are appends to a log that the caller
  // may write itself (store/log_writer.h): the server's loop then writes them with its own
  // io_uring ring. Null (this default) when the engine does its own I/O in Write(), which
  // the server then runs on the pool. Owned by the engine.
  virtual LogWriter* log_writer() { return nullptr; }

  // Makes every completed write durable (fdatasync); what kPeriodic runs on its timer.
  virtual Status Sync() = 0;

  virtual EngineStats Stats() const = 0;

  // Calls `fn(key, value, expire_at_ms)` for every key that has not expired, in no
  // particular order, and stops at (returning) the first non-OK status `fn` returns. Not a point-in-time view: a key written during the
  // walk is seen with its old or its new value, or (if added) maybe not at all; a key not
  // touched meanwhile is seen exactly once. The cluster's snapshots are built with it
  // (docs/REPLICATION.md "Snapshots").
  using PairFn =
      std::function<Status(std::string_view key, std::string_view value, int64_t expire_at_ms)>;
  virtual Status ForEach(const PairFn& fn) = 0;

  // ForEach without the values, where the engine can list keys without reading them (the
  // LogStore from its index). This default calls ForEach.
  virtual Status ForEachKey(const std::function<Status(std::string_view key)>& fn);

  // The key counts of each database (store/db_key.h; databases without keys left out),
  // where the engine keeps counts (the LogStore does): DBSIZE and INFO need no walk then.
  // This default says nullopt: count with ForEachKey.
  virtual std::optional<std::map<uint32_t, DbKeyCount>> KeysPerDb() const;

  // The active expirer's sampling (Redis's activeExpireCycle is the model): looks at up to
  // `max_visited` keys that have an expiry time, going on from where the previous call
  // stopped so that successive calls visit every such key in turn, and returns those whose
  // time has passed. Deleting them is the caller's business (the server writes ordinary
  // deletes, replicated in a cluster). Cost bounded by max_visited.
  virtual ExpiredScan ScanExpired(size_t max_visited) = 0;

 private:
  static Result<std::string> ValueOf(Result<StoredValue> read) {
    if (!read.ok()) return read.status();
    return std::move(read->value);
  }
};

// Opens (creating if needed) the data directory `options.data_dir` with engine `engine_name`
// ("kvs", "rocksdb", or "" for whatever the directory already holds, else "kvs").
// Takes the directory's LOCK (Busy if another process holds it) and writes ENGINE before
// returning; a directory made by the other engine is InvalidArgument naming both.
Result<std::unique_ptr<Engine>> OpenEngine(std::string_view engine_name, const Options& options);

}  // namespace kvs
