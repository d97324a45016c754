// RocksDbEngine: option choices, the RocksDB Status conversion, and the Engine methods.

#include "store/rocksdb_engine.h"

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <unordered_map>

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
    : options_(options), dir_(std::move(dir)) {}

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
  KVS_ASSIGN_OR_RETURN(engine->db_, OpenRocksDb(rocks_options, path, migration));

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
  if (db_ == nullptr) return;
  WriterLock lock(&write_mu_);  // no write in flight from here on
  // Errors cannot be reported from here; recovery copes with whatever state they leave.
  if (!read_only_.load(std::memory_order_acquire)) (void)db_->SyncWAL();
  (void)db_->Close();
  db_.reset();  // before dir_ releases our LOCK
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
  KVS_ASSIGN_OR_RETURN(std::string value, GetWith(options, key));
  return StoredValue{std::move(value), kNoExpiry};
}

ExpiredScan RocksDbEngine::ScanExpired(size_t /*max_visited*/) { return {}; }

Result<std::string> RocksDbEngine::GetWith(const rocksdb::ReadOptions& options,
                                           std::string_view key) {
  std::string value;
  rocksdb::Status s = db_->Get(options, ToSlice(key), &value);
  if (s.IsNotFound()) return Status::NotFound("Key not found");
  if (s.IsIncomplete()) return Status::WouldBlock("not in RocksDB's memory");
  KVS_RETURN_IF_ERROR(FromRocks(s, "get"));
  return value;
}

Status RocksDbEngine::ForEach(const PairFn& fn) {
  // An implicit snapshot of the iterator's start: a point-in-time view (more than promised).
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    KVS_RETURN_IF_ERROR(fn(std::string_view(it->key().data(), it->key().size()),
                           std::string_view(it->value().data(), it->value().size()), kNoExpiry));
  }
  return FromRocks(it->status(), "scan");
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
  size_t writing = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const WriteBatch::Op& op = batch.ops()[i];
    rocksdb::Status s;
    if (op.kind == WriteBatch::OpKind::kDelete) {
      std::optional<bool> exists = in_batch.Exists(op.key);
      if (!exists) {
        std::string ignored;
        rocksdb::Status g = db_->Get(rocksdb::ReadOptions(), ToSlice(op.key), &ignored);
        if (!g.ok() && !g.IsNotFound()) return FromRocks(g, "get before delete");
        exists = g.ok();
      }
      if (!*exists) {
        results[i] = Status::NotFound("Key not found");
        continue;
      }
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
    } else {
      s = rocks_batch.Put(ToSlice(op.key), ToSlice(op.value));
    }
    if (has_delete) in_batch.Apply(op);
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
  rocksdb::DB* db = db_.get();
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
