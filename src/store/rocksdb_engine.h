// RocksDbEngine: the "rocksdb" engine, the Engine interface over an embedded RocksDB.
//
// The data directory is held exactly as LogStore holds it (DataDir: our LOCK flock, ENGINE
// = "rocksdb"); RocksDB's own files (including its own LOCK) live in `<data_dir>/rocksdb/`.
// FsyncPolicy maps to WriteOptions::sync (kAlways) or to a background SyncWAL() every
// sync_interval_ms (kPeriodic); kNever leaves syncing to the OS and to RocksDB's flushes.
//
// Expiry (store/rocksdb_expiry.h): a key with an expiry time is stored as a wide-column
// entity (value + time) and indexed by time in column family "kvs_expiry"; reads hide keys
// whose time has passed (options.clock); ScanExpired walks the index's due part.
//
// Thread-safety: every method may be called from any thread. Reads go straight to RocksDB.
// Put-only batches run concurrently (RocksDB group-commits them); a batch with a delete is
// exclusive, because its per-op NotFound answers depend on reading the keys first. After a
// failed write or sync the engine is read-only (Status::ReadOnly) and keeps serving reads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "store/data_dir.h"
#include "store/engine.h"

namespace rocksdb {
class ColumnFamilyHandle;
class DB;
class Env;
class PinnableWideColumns;
struct ReadOptions;
}  // namespace rocksdb

namespace kvs {

struct RocksDatabase;

// The subdirectory of the data directory that belongs to RocksDB.
inline constexpr std::string_view kRocksDbSubdir = "rocksdb";

class RocksDbEngine final : public Engine {
 public:
  // Opens or creates the engine in options.data_dir. `rocksdb_env` is the Env RocksDB does
  // its file I/O through (nullptr = rocksdb::Env::Default()); tests pass a faulty one. It
  // must outlive the engine. options.repair runs rocksdb::RepairDB before opening.
  // Errors: Busy (locked), InvalidArgument (other engine), Corruption, IOError.
  static Result<std::unique_ptr<RocksDbEngine>> Open(const Options& options,
                                                     rocksdb::Env* rocksdb_env = nullptr);
  // Stops the periodic syncer, syncs the WAL (unless read-only) and closes the database
  // before releasing the data directory's LOCK. REQUIRES: called before exit() starts
  // destroying statics (RocksDB's own statics may be gone by then): no engine in a static.
  ~RocksDbEngine() override;

  std::string_view name() const override { return "rocksdb"; }
  // cached_only: memtables + block cache.
  Result<StoredValue> Read(std::string_view key, bool cached_only) override;
  Status Write(const WriteBatch& batch, std::vector<Status>* op_results) override;
  Status Sync() override;
  EngineStats Stats() const override;
  Status ForEach(const PairFn& fn) override;
  // Visits the index entries whose time has passed, from where the previous call stopped
  // (wrapping round to the oldest); `visited` counts stale entries too. A run of deleted
  // entries longer than a bound ends a call early (RocksDB steps over them one by one until
  // a compaction drops them) and has them compacted away in the background.
  ExpiredScan ScanExpired(size_t max_visited) override EXCLUDES(scan_mu_);

 private:
  // What RocksDB holds for `key`: NotFound, WouldBlock (a cached_only read), or its columns.
  Status GetColumns(const rocksdb::ReadOptions& options, std::string_view key,
                    rocksdb::PinnableWideColumns* columns);
  // The key's value and expiry time, expired or not.
  Result<StoredValue> ReadStored(const rocksdb::ReadOptions& options, std::string_view key);
  // Only its expiry time (kNoExpiry: none), expired or not: no copy of the value.
  Result<int64_t> StoredExpiry(std::string_view key);
  bool Expired(int64_t expire_at_ms) const {
    return expire_at_ms != kNoExpiry && expire_at_ms <= clock_->NowMs();
  }
  // Deletes the index entries (of ScanExpired) that are still stale under write_mu_.
  void DropStaleIndexEntries(const std::vector<std::string>& entries) EXCLUDES(write_mu_);
  // Asks RocksDB to flush and compact the index in the background. Does not wait.
  void RequestIndexCleanup();

  struct Counters;  // a rocksdb::EventListener counting flushes and compactions

  RocksDbEngine(const Options& options, std::unique_ptr<DataDir> dir);

  // Write's body, with write_mu_ held exclusively when `has_delete`, else shared.
  Status WriteLocked(const WriteBatch& batch, bool has_delete, std::vector<Status>* op_results)
      REQUIRES_SHARED(write_mu_);
  Status Fail(const Status& why)
      EXCLUDES(failure_mu_);  // turns the engine read-only; returns `why`
  Status ReadOnlyError() const EXCLUDES(failure_mu_);
  void PeriodicSyncLoop() EXCLUDES(sync_mu_);

  const Options options_;
  const std::shared_ptr<ExpiryClock> clock_;
  const std::unique_ptr<DataDir> dir_;    // declared before rocks_: the LOCK outlives the DB
  std::unique_ptr<RocksDatabase> rocks_;  // set once in Open
  rocksdb::DB* db_ = nullptr;             // rocks_'s, set once in Open
  rocksdb::ColumnFamilyHandle* expiry_cf_ = nullptr;  // rocks_'s "kvs_expiry", set once in Open
  std::shared_ptr<Counters> counters_;                // set once in Open

  // Shared by put-only batches, exclusive for batches with deletes (see the class comment).
  SharedMutex write_mu_;

  // ScanExpired's position: the last index key it visited (empty: the oldest next).
  Mutex scan_mu_ ACQUIRED_BEFORE(write_mu_);
  std::string scan_cursor_ GUARDED_BY(scan_mu_);
  int64_t last_index_cleanup_ms_ GUARDED_BY(scan_mu_) = 0;  // RequestIndexCleanup's last

  std::atomic<bool> read_only_{false};
  mutable Mutex failure_mu_;
  std::string failure_ GUARDED_BY(failure_mu_);  // why the engine is read-only

  std::atomic<uint64_t> fsyncs_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> batched_ops_{0};

  // kPeriodic: a thread that calls Sync() every options_.sync_interval_ms.
  Mutex sync_mu_;
  CondVar sync_cv_;
  bool stopping_ GUARDED_BY(sync_mu_) = false;
  std::thread sync_thread_;
};

}  // namespace kvs
