// RocksDbEngine: option choices, the RocksDB Status conversion, and the Engine methods.

#include "store/rocksdb_engine.h"

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/experimental.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/wide_columns.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <unordered_map>

#include "store/rocksdb_expiry.h"
#include "store/rocksdb_key_format.h"
#include "store/rocksdb_util.h"

namespace kvs {

Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return Status::Ok();
  const std::string msg = fmt::format("rocksdb {}: {}", what, s.ToString());
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  if (s.IsNotSupported()) return Status::NotSupported(msg);
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return Status::Busy(msg);
  if (s.IsAborted() || s.IsShutdownInProgress()) return Status::Aborted(msg);
  if (s.IsNoSpace()) return Status::IOError(msg, ENOSPC);
  return Status::IOError(msg);  // IOError, Incomplete, and anything newer
}

namespace {

constexpr size_t kBlockCacheBytes = 64 << 20;
constexpr size_t kWriteBufferBytes = 64 << 20;

bool Supported(rocksdb::CompressionType type) {
  const std::vector<rocksdb::CompressionType> all = rocksdb::GetSupportedCompressions();
  return std::find(all.begin(), all.end(), type) != all.end();
}

// RocksDB options for a point-lookup key-value server on a small machine:
// - Level compaction with dynamic level sizes: bounded space amplification (~1.1x), the
//   usual choice when most keys are overwritten in place.
// - IncreaseParallelism(2): two background threads, one flush and one compaction at a time
//   (the target machine has two cores, and the server's own threads need them too).
// - Block-based tables with a 10 bits/key bloom filter (~1% false positives): a Get of an
//   absent key, and the existence check of every delete, usually touches no data block.
//   Filters and indexes are charged to the 64 MiB LRU block cache (bounded memory), with
//   L0's pinned; data blocks carry a hash index (kDataBlockBinaryAndHash) for point lookups.
// - A memtable bloom filter (2% of the write buffer) speeds up Gets of keys not in it.
// - 64 MiB write buffers, at most 3: bounded memory; flushes are large and infrequent.
// - LZ4 on upper levels and ZSTD on the bottom level when the library has them: cheap CPU
//   for the hot levels, better ratio where ~90% of the data sits.
// - The WAL's default point-in-time recovery drops a torn tail, as LogStore does.
rocksdb::Options MakeRocksOptions(rocksdb::Env* env, std::shared_ptr<rocksdb::EventListener> l) {
  rocksdb::Options o;
  o.create_if_missing = true;
  if (env != nullptr) o.env = env;
  o.IncreaseParallelism(2);
  o.compaction_style = rocksdb::kCompactionStyleLevel;
  o.level_compaction_dynamic_level_bytes = true;
  o.write_buffer_size = kWriteBufferBytes;
  o.max_write_buffer_number = 3;
  o.memtable_prefix_bloom_size_ratio = 0.02;
  o.memtable_whole_key_filtering = true;
  o.keep_log_file_num = 3;  // RocksDB's own info LOG files
  if (Supported(rocksdb::kLZ4Compression)) o.compression = rocksdb::kLZ4Compression;
  if (Supported(rocksdb::kZSTD)) o.bottommost_compression = rocksdb::kZSTD;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.data_block_index_type = rocksdb::BlockBasedTableOptions::kDataBlockBinaryAndHash;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  o.listeners.push_back(std::move(l));
  return o;
}

// "kvs_expiry", the expiry index: only iterated, never point-read (no bloom filter), small.
// The expirer deletes its entries oldest first, which leaves a run of tombstones at its
// head that every iterator steps over until a compaction drops them: table files dense in
// deletes are compacted as soon as they are written (CompactOnDeletionCollector), and the
// smaller write buffer gets the tombstones out of the memtable into such files sooner.
rocksdb::ColumnFamilyOptions MakeExpiryIndexOptions(const rocksdb::Options& base) {
  rocksdb::ColumnFamilyOptions o(base);
  o.write_buffer_size = 8 << 20;
  o.memtable_prefix_bloom_size_ratio = 0;
  o.memtable_whole_key_filtering = false;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(8 << 20);
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  o.table_properties_collector_factories.push_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(/*sliding_window_size=*/128,
                                                    /*deletion_trigger=*/64));
  return o;
}

// ScanExpired: how many deleted index entries (internal keys) one step of its iterator (a
// seek or a next) may pass over before it gives up with Incomplete. A call takes at most
// max_visited + 2 steps.
constexpr uint64_t kScanSkipsPerStep = 1024;
// ... and after such a give-up, how often it may ask RocksDB to clear the deleted entries.
constexpr int64_t kIndexCleanupIntervalMs = 1000;

uint64_t IntProperty(rocksdb::DB* db, const std::string& property) {
  uint64_t v = 0;
  return db->GetIntProperty(property, &v) ? v : 0;
}

}  // namespace

struct RocksDbEngine::Counters : public rocksdb::EventListener {
  void OnFlushCompleted(rocksdb::DB*, const rocksdb::FlushJobInfo&) override {
    flushes.fetch_add(1, std::memory_order_relaxed);
  }
  void OnCompactionCompleted(rocksdb::DB*, const rocksdb::CompactionJobInfo&) override {
    compactions.fetch_add(1, std::memory_order_relaxed);
  }
  std::atomic<uint64_t> flushes{0};
  std::atomic<uint64_t> compactions{0};
};

RocksDbEngine::RocksDbEngine(const Options& options, std::unique_ptr<DataDir> dir)
    : options_(options),
      clock_(options.clock != nullptr ? options.clock : ExpiryClock::System()),
      dir_(std::move(dir)) {}

Result<std::unique_ptr<RocksDbEngine>> RocksDbEngine::Open(const Options& options,
                                                           rocksdb::Env* rocksdb_env) {
  KVS_ASSIGN_OR_RETURN(std::unique_ptr<DataDir> dir,
                       DataDir::Open(Env::Default(), options.data_dir, "rocksdb"));
  std::unique_ptr<RocksDbEngine> engine(new RocksDbEngine(options, std::move(dir)));
  engine->counters_ = std::make_shared<Counters>();
  const rocksdb::Options rocks_options = MakeRocksOptions(rocksdb_env, engine->counters_);
  const std::string path = engine->dir_->File(kRocksDbSubdir);

  if (options.repair) {
    KVS_ASSIGN_OR_RETURN(bool exists, Env::Default()->Exists(path + "/CURRENT"));
    if (exists) {
      KVS_RETURN_IF_ERROR(FromRocks(rocksdb::RepairDB(path, rocks_options), "repair " + path));
      if (options.on_warning) options.on_warning(fmt::format("repaired RocksDB in {}", path));
    }
  }
  // Also converts the keys of a database written before Redis databases existed.
  RocksMigrationOptions migration;
  migration.on_warning = options.on_warning;
  KVS_ASSIGN_OR_RETURN(
      RocksDatabase opened,
      OpenRocksDb(rocks_options, MakeExpiryIndexOptions(rocks_options), path, migration));
  engine->rocks_ = std::make_unique<RocksDatabase>(std::move(opened));
  engine->db_ = engine->rocks_->db.get();
  engine->expiry_cf_ = engine->rocks_->expiry.get();

  if (options.fsync == FsyncPolicy::kPeriodic) {
    engine->sync_thread_ = std::thread([e = engine.get()] { e->PeriodicSyncLoop(); });
  }
  return engine;
}

RocksDbEngine::~RocksDbEngine() {
  if (sync_thread_.joinable()) {
    {
      MutexLock lock(&sync_mu_);
      stopping_ = true;
    }
    sync_cv_.SignalAll();
    sync_thread_.join();
  }
  if (rocks_ == nullptr) return;
  WriterLock lock(&write_mu_);  // no write in flight from here on
  // Errors cannot be reported from here; recovery copes with whatever state they leave.
  if (!read_only_.load(std::memory_order_acquire)) (void)db_->SyncWAL();
  rocks_->Close();
  rocks_.reset();  // before dir_ releases our LOCK
}

// ---- Failure -----------------------------------------------------------------------------

Status RocksDbEngine::Fail(const Status& why) {
  MutexLock lock(&failure_mu_);
  if (!read_only_.load(std::memory_order_relaxed)) {
    failure_ = why.ToString();
    read_only_.store(true, std::memory_order_release);
  }
  return why;
}

Status RocksDbEngine::ReadOnlyError() const {
  MutexLock lock(&failure_mu_);
  return Status::ReadOnly(fmt::format("store is read-only after a failed write: {}", failure_));
}

// ---- Reads -------------------------------------------------------------------------------

Result<StoredValue> RocksDbEngine::Read(std::string_view key, bool cached_only) {
  rocksdb::ReadOptions options;
  if (cached_only) options.read_tier = rocksdb::kBlockCacheTier;  // Incomplete for a file
  KVS_ASSIGN_OR_RETURN(StoredValue stored, ReadStored(options, key));
  if (Expired(stored.expire_at_ms)) return Status::NotFound("Key not found");
  return stored;
}

Status RocksDbEngine::GetColumns(const rocksdb::ReadOptions& options, std::string_view key,
                                 rocksdb::PinnableWideColumns* columns) {
  rocksdb::Status s = db_->GetEntity(options, db_->DefaultColumnFamily(), ToSlice(key), columns);
  if (s.IsNotFound()) return Status::NotFound("Key not found");
  if (s.IsIncomplete()) return Status::WouldBlock("not in RocksDB's memory");
  return FromRocks(s, "get");
}

Result<StoredValue> RocksDbEngine::ReadStored(const rocksdb::ReadOptions& options,
                                              std::string_view key) {
  rocksdb::PinnableWideColumns columns;
  KVS_RETURN_IF_ERROR(GetColumns(options, key, &columns));
  KVS_ASSIGN_OR_RETURN(RocksStoredView view, DecodeRocksEntry(columns.columns()));
  return StoredValue{std::string(view.value), view.expire_at_ms};
}

Result<int64_t> RocksDbEngine::StoredExpiry(std::string_view key) {
  rocksdb::PinnableWideColumns columns;
  KVS_RETURN_IF_ERROR(GetColumns(rocksdb::ReadOptions(), key, &columns));
  KVS_ASSIGN_OR_RETURN(RocksStoredView view, DecodeRocksEntry(columns.columns()));
  return view.expire_at_ms;
}

Status RocksDbEngine::ForEach(const PairFn& fn) {
  // An implicit snapshot of the iterator's start: a point-in-time view (more than promised).
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    KVS_ASSIGN_OR_RETURN(RocksStoredView view, DecodeRocksEntry(it->columns()));
    if (Expired(view.expire_at_ms)) continue;
    KVS_RETURN_IF_ERROR(
        fn(std::string_view(it->key().data(), it->key().size()), view.value, view.expire_at_ms));
  }
  return FromRocks(it->status(), "scan");
}

// ---- Expiry ------------------------------------------------------------------------------

ExpiredScan RocksDbEngine::ScanExpired(size_t max_visited) {
  ExpiredScan scan;
  if (max_visited == 0) return scan;
  MutexLock lock(&scan_mu_);
  const int64_t now = clock_->NowMs();
  // Only the due part of the index: entries of times up to now.
  const std::string upper = ExpiryIndexTimeBound(now + 1);
  const rocksdb::Slice upper_slice = ToSlice(upper);
  rocksdb::ReadOptions options;
  options.iterate_upper_bound = &upper_slice;
  options.max_skippable_internal_keys = kScanSkipsPerStep;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(options, expiry_cf_));

  // From just after the cursor to the end of the due part, then from the oldest entry up to
  // the cursor (inclusive): each due entry once at most.
  const std::string start = scan_cursor_;
  bool wrapped = start.empty();
  if (wrapped) {
    it->SeekToFirst();
  } else {
    it->Seek(ToSlice(start));
    if (it->Valid() && it->key() == ToSlice(start)) it->Next();
  }
  std::vector<std::string> stale;
  bool incomplete = false;  // a step met too many deleted entries
  while (scan.visited < max_visited) {
    if (!it->Valid()) {
      const rocksdb::Status status = it->status();
      incomplete = incomplete || status.IsIncomplete();
      if (!status.ok() && !status.IsIncomplete()) {
        if (options_.on_warning) {
          options_.on_warning(FromRocks(status, "scan expiry index").ToString());
        }
        break;
      }
      if (wrapped) break;
      wrapped = true;  // the oldest entries may be past a run the forward part could not pass
      it->SeekToFirst();
      continue;
    }
    const std::string_view entry(it->key().data(), it->key().size());
    if (wrapped && !start.empty() && entry > start) break;
    ++scan.visited;
    scan_cursor_.assign(entry);
    int64_t expire_at_ms = 0;
    std::string_view key;
    if (!DecodeExpiryIndexKey(entry, &expire_at_ms, &key)) {
      stale.emplace_back(entry);  // not an index key: nothing refers to it
    } else if (Result<int64_t> stored = StoredExpiry(key); stored.ok() && *stored == expire_at_ms) {
      scan.keys.emplace_back(key);
    } else if (stored.ok() || stored.status().IsNotFound()) {
      stale.emplace_back(entry);
    }  // else a read error: left for a later call
    it->Next();
  }
  it.reset();
  if (!stale.empty()) DropStaleIndexEntries(stale);
  if (incomplete && now - last_index_cleanup_ms_ >= kIndexCleanupIntervalMs) {
    last_index_cleanup_ms_ = now;
    RequestIndexCleanup();
  }
  return scan;
}

// A run of deleted entries too long to step over stays until a compaction drops it, and
// until then stalls the walk there. Without waiting: the index's memtable goes to a table
// file (which the deletion collector marks for compaction), and every index table file is
// marked for compaction (the family is small: entries of keys with a TTL only).
void RocksDbEngine::RequestIndexCleanup() {
  rocksdb::FlushOptions flush;
  flush.wait = false;
  flush.allow_write_stall = true;
  rocksdb::Status s = db_->Flush(flush, expiry_cf_);
  if (s.ok()) s = rocksdb::experimental::SuggestCompactRange(db_, expiry_cf_, nullptr, nullptr);
  if (!s.ok() && options_.on_warning) {
    options_.on_warning(FromRocks(s, "clean up the expiry index").ToString());
  }
}

// Under write_mu_ held exclusively, so that no put can write the same entry (the same key
// and time again) between the check and the delete; unsynced, since an entry a crash brings
// back is only stale again.
void RocksDbEngine::DropStaleIndexEntries(const std::vector<std::string>& entries) {
  WriterLock exclusive(&write_mu_);
  if (read_only_.load(std::memory_order_acquire)) return;
  rocksdb::WriteBatch batch;
  for (const std::string& entry : entries) {
    int64_t expire_at_ms = 0;
    std::string_view key;
    if (DecodeExpiryIndexKey(entry, &expire_at_ms, &key)) {
      Result<int64_t> stored = StoredExpiry(key);
      if (stored.ok() ? *stored == expire_at_ms : !stored.status().IsNotFound()) {
        continue;  // valid again, or unreadable: keep it
      }
    }
    if (!batch.Delete(expiry_cf_, ToSlice(entry)).ok()) return;
  }
  if (batch.Count() == 0) return;
  rocksdb::Status s = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!s.ok() && options_.on_warning) {
    options_.on_warning(FromRocks(s, "drop stale expiry index entries").ToString());
  }
}

// ---- Writes ------------------------------------------------------------------------------

Status RocksDbEngine::Write(const WriteBatch& batch, std::vector<Status>* op_results) {
  for (const WriteBatch::Op& op : batch.ops()) KVS_RETURN_IF_ERROR(CheckWriteOp(op));
  const bool has_delete =
      std::any_of(batch.ops().begin(), batch.ops().end(),
                  [](const WriteBatch::Op& op) { return op.kind != WriteBatch::OpKind::kPut; });
  // A delete's answer depends on what it reads: no other write may land between that read
  // and this batch's write. Put-only batches need no such guarantee and share the lock.
  if (has_delete) {
    WriterLock exclusive(&write_mu_);
    return WriteLocked(batch, /*has_delete=*/true, op_results);
  }
  ReaderLock shared(&write_mu_);
  return WriteLocked(batch, /*has_delete=*/false, op_results);
}

Status RocksDbEngine::WriteLocked(const WriteBatch& batch, bool has_delete,
                                  std::vector<Status>* op_results) {
  if (read_only_.load(std::memory_order_acquire)) return ReadOnlyError();

  std::vector<Status> results(batch.size());
  rocksdb::WriteBatch rocks_batch;
  BatchKeyState in_batch;
  // Deletes only: the expiry time of each key's last put so far in this batch.
  std::unordered_map<std::string_view, int64_t> put_expiry;
  std::string index_key;
  size_t writing = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const WriteBatch::Op& op = batch.ops()[i];
    rocksdb::Status s;
    if (op.kind == WriteBatch::OpKind::kDelete) {
      // `stored`: a record to delete, maybe expired; `live`: the key exists (the answer).
      bool stored = false;
      bool live = false;
      // `expire_at_ms`: the time of what is stored, whose index entry goes too.
      int64_t expire_at_ms = kNoExpiry;
      if (std::optional<bool> decided = in_batch.Exists(op.key)) {
        stored = *decided;  // by a put of this batch (and its time) if true
        if (auto it = put_expiry.find(op.key); stored && it != put_expiry.end()) {
          expire_at_ms = it->second;
        }
      } else {
        Result<int64_t> have = StoredExpiry(op.key);
        if (!have.ok() && !have.status().IsNotFound()) return have.status();
        stored = have.ok();
        if (stored) expire_at_ms = *have;
      }
      live = stored && !Expired(expire_at_ms);
      if (stored && expire_at_ms != kNoExpiry) {
        index_key.clear();
        AppendExpiryIndexKey(expire_at_ms, op.key, &index_key);
        s = rocks_batch.Delete(expiry_cf_, ToSlice(index_key));
        KVS_RETURN_IF_ERROR(FromRocks(s, "batch"));
      }
      if (!live) results[i] = Status::NotFound("Key not found");
      if (!stored) continue;
      s = rocks_batch.Delete(ToSlice(op.key));
    } else if (op.kind == WriteBatch::OpKind::kDeletePrefix) {
      // [prefix, the smallest string above every key with it); for an empty prefix (or one
      // of 0xff bytes only) a bound above every key an engine accepts.
      std::string end = op.key;
      while (!end.empty() && static_cast<uint8_t>(end.back()) == 0xff) end.pop_back();
      if (end.empty()) {
        end.assign(kMaxKeyBytes + 1, '\xff');
      } else {
        end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
      }
      s = rocks_batch.DeleteRange(ToSlice(op.key), ToSlice(end));
      // FLUSHALL empties the index too. A database's keys are spread over the whole index:
      // their entries become stale, dropped by ScanExpired once their time comes.
      if (s.ok() && op.key.empty()) {
        s = rocks_batch.DeleteRange(expiry_cf_, rocksdb::Slice(), ToSlice(kRocksExpiryIndexEnd));
      }
    } else if (op.expire_at_ms == kNoExpiry) {
      s = rocks_batch.Put(ToSlice(op.key), ToSlice(op.value));  // replaces any entity: no time
    } else {
      const std::string expire = EncodeExpireColumn(op.expire_at_ms);
      s = rocks_batch.PutEntity(
          db_->DefaultColumnFamily(), ToSlice(op.key),
          rocksdb::WideColumns{{rocksdb::kDefaultWideColumnName, ToSlice(op.value)},
                               {ToSlice(kRocksExpireColumn), ToSlice(expire)}});
      if (s.ok()) {
        index_key.clear();
        AppendExpiryIndexKey(op.expire_at_ms, op.key, &index_key);
        s = rocks_batch.Put(expiry_cf_, ToSlice(index_key), rocksdb::Slice());
      }
    }
    if (has_delete) {
      in_batch.Apply(op);
      if (op.kind == WriteBatch::OpKind::kPut) put_expiry[op.key] = op.expire_at_ms;
    }
    KVS_RETURN_IF_ERROR(FromRocks(s, "batch"));
    ++writing;
  }

  if (writing > 0) {
    rocksdb::WriteOptions wo;
    wo.sync = options_.fsync == FsyncPolicy::kAlways;
    rocksdb::Status s = db_->Write(wo, &rocks_batch);
    if (!s.ok()) return Fail(FromRocks(s, "write"));
    if (wo.sync) fsyncs_.fetch_add(1, std::memory_order_relaxed);
    batches_.fetch_add(1, std::memory_order_relaxed);
    batched_ops_.fetch_add(writing, std::memory_order_relaxed);
  }
  *op_results = std::move(results);
  return Status::Ok();
}

Status RocksDbEngine::Sync() {
  if (read_only_.load(std::memory_order_acquire)) return ReadOnlyError();
  Status s = FromRocks(db_->SyncWAL(), "sync WAL");
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  // Never retried: the kernel may have dropped the dirty pages.
  if (!s.ok()) return Fail(s);
  return s;
}

void RocksDbEngine::PeriodicSyncLoop() {
  const auto interval = std::chrono::milliseconds(std::max<uint32_t>(1, options_.sync_interval_ms));
  MutexLock lock(&sync_mu_);
  while (!stopping_) {
    sync_cv_.WaitFor(&sync_mu_, interval);
    if (stopping_) break;
    lock.Unlock();
    (void)Sync();  // a failure turns the engine read-only; writers see it
    lock.Lock();
  }
}

// ---- Stats -------------------------------------------------------------------------------

EngineStats RocksDbEngine::Stats() const {
  rocksdb::DB* db = db_;
  EngineStats s;
  s.keys = IntProperty(db, rocksdb::DB::Properties::kEstimateNumKeys);
  const uint64_t live = IntProperty(db, rocksdb::DB::Properties::kEstimateLiveDataSize);
  const uint64_t memtables = IntProperty(db, rocksdb::DB::Properties::kCurSizeAllMemTables);
  const uint64_t sst = IntProperty(db, rocksdb::DB::Properties::kTotalSstFilesSize);
  s.live_bytes = live + memtables;
  s.dead_bytes = sst > live ? sst - live : 0;  // obsolete versions awaiting compaction
  s.disk_bytes = sst;
  rocksdb::ColumnFamilyMetaData meta;
  db->GetColumnFamilyMetaData(&meta);
  s.segments = meta.file_count;  // SST files
  s.compactions = counters_->compactions.load(std::memory_order_relaxed);
  s.fsyncs = fsyncs_.load(std::memory_order_relaxed);
  s.batches = batches_.load(std::memory_order_relaxed);
  s.batched_ops = batched_ops_.load(std::memory_order_relaxed);
  s.read_only = read_only_.load(std::memory_order_acquire);
  if (s.read_only) {
    MutexLock lock(&failure_mu_);
    s.failure = failure_;
  }
  return s;
}

}  // namespace kvs
