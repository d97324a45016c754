// LogStore: the write path (prepare / write / commit), the read path and segment rolling.
// Recovery and repair live in log_recovery.cc.

#include "store/log_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/failpoint.h"
#include "store/record.h"

namespace kvs {

using log_format::kBatchEnd;
using log_format::kBatchStart;
using log_format::Kind;

namespace {

// Each retry follows an entry that a compaction moved; a reader would need that many
// compactions to finish during its one lookup to run out.
constexpr int kGetAttempts = 16;

}  // namespace

LogStore::LogStore(const Options& options, Env* env, std::unique_ptr<DataDir> dir)
    : options_(options), env_(env), dir_(std::move(dir)) {}

Result<std::unique_ptr<LogStore>> LogStore::Open(const Options& options, Env* env) {
  if (options.segment_bytes < 4096) {
    return Status::InvalidArgument(
        fmt::format("segment size {} is too small (minimum 4096 bytes)", options.segment_bytes));
  }
  KVS_ASSIGN_OR_RETURN(std::unique_ptr<DataDir> dir, DataDir::Open(env, options.data_dir, "kvs"));
  std::unique_ptr<LogStore> store(new LogStore(options, env, std::move(dir)));
  if (options.zero_fill_ahead_bytes > 0) {
    store->zero_filler_ =
        std::make_unique<ZeroFiller>(env, options.zero_fill_ahead_bytes, options.segment_bytes,
                                     [s = store.get()](std::string_view msg) { s->Warn(msg); });
  }
  KVS_RETURN_IF_ERROR(store->Recover());
  if (options.fsync == FsyncPolicy::kPeriodic) {
    store->sync_thread_ = std::thread([s = store.get()] { s->PeriodicSyncLoop(); });
  }
  store->roller_thread_ = std::thread([s = store.get()] { s->RollerLoop(); });
  if (options.background_compaction) {
    store->compactor_thread_ = std::thread([s = store.get()] { s->CompactionLoop(); });
    store->MaybeWakeCompactor();  // the recovered segments may be due already
  }
  return store;
}

LogStore::~LogStore() {
  // Shutdown order: the threads that roll or compact first (a roll under way finishes;
  // a compaction gives up), then the zero-filler they use, then the periodic sync; last,
  // the active segment is cut to its length and synced.
  shutting_down_.store(true);
  if (roller_thread_.joinable()) {
    {
      MutexLock lock(&write_mu_);
      roller_stopping_ = true;
    }
    roller_cv_.SignalAll();
    roller_thread_.join();
  }
  if (compactor_thread_.joinable()) {
    {
      MutexLock lock(&compactor_mu_);
      compactor_stopping_ = true;
    }
    compactor_cv_.SignalAll();
    compactor_thread_.join();
  }
  zero_filler_.reset();
  // The segments closed lately would otherwise be scanned at the next start. Failures were
  // passed to on_warning; recovery copes without the hints.
  (void)WritePendingHints(/*rolled_only=*/true);
  if (sync_thread_.joinable()) {
    {
      MutexLock lock(&sync_mu_);
      stopping_ = true;
    }
    sync_cv_.SignalAll();
    sync_thread_.join();
  }
  MutexLock lock(&write_mu_);
  while (writer_busy_ || rolling_) state_cv_.Wait(&write_mu_);
  if (!failed_ && active_ != nullptr) {
    // Give back the preallocated tail and make everything written durable. Errors here
    // cannot be reported to anyone; recovery copes with whatever state they leave.
    (void)active_->file->Truncate(write_offset_);
    (void)active_->file->Sync();
  }
}

std::string LogStore::SegmentPath(uint32_t id) const {
  return dir_->File(fmt::format("{}{}", id, log_format::kSegmentSuffix));
}

std::shared_ptr<LogStore::Segment> LogStore::FindSegment(uint32_t id) const {
  ReaderLock lock(&segments_mu_);
  auto it = segments_.find(id);
  return it == segments_.end() ? nullptr : it->second;
}

void LogStore::Warn(std::string_view msg) const {
  if (options_.on_warning) options_.on_warning(msg);
}

Status LogStore::ReadOnlyError() const {
  MutexLock lock(&failure_mu_);
  return Status::ReadOnly(fmt::format("store is read-only after a failed write: {}", failure_));
}

void LogStore::Fail(const Status& why) {
  if (failed_) return;
  failed_ = true;
  if (zero_filler_ != nullptr) zero_filler_->Stop();
  {
    MutexLock lock(&failure_mu_);
    failure_ = why.ToString();
  }
  read_only_.store(true, std::memory_order_release);
}

// ---- Reads ------------------------------------------------------------------------------

Result<StoredValue> LogStore::Read(std::string_view key, bool cached_only) {
  KVS_ASSIGN_OR_RETURN(std::string value, Lookup(key, cached_only));
  return StoredValue{std::move(value), kNoExpiry};
}

Result<bool> LogStore::Contains(std::string_view key, bool /*cached_only*/) {
  // The index knows: never the disk.
  std::optional<IndexEntry> entry = index_.Find(key);
  return entry.has_value() && !entry->tombstone();
}

Result<std::string> LogStore::Lookup(std::string_view key, bool cached_only) {
  // A lookup can race a compaction that moves the entry and drops the old segment between
  // reading the entry and finding its segment; look the entry up again in that case.
  for (int attempt = 0; attempt < kGetAttempts; ++attempt) {
    std::optional<IndexEntry> entry = index_.Find(key);
    if (!entry) return Status::NotFound("Key not found");
    std::shared_ptr<Segment> seg = FindSegment(entry->segment);
    if (seg == nullptr) continue;
    KVS_FAILPOINT("log.read_holding_segment");  // tests swap the segment away right here

    // The record's size in the current form. One written by an earlier kvs stores db 0's
    // key without its prefix byte, so it is a byte shorter: the read takes one byte past it
    // (or comes up a byte short at the end of a closed segment).
    const uint64_t size = RecordSize(key.size(), entry->value_len);
    std::string buf(size, '\0');
    KVS_ASSIGN_OR_RETURN(size_t n, cached_only ? seg->file->PReadCached(entry->offset, buf)
                                               : seg->file->PRead(entry->offset, buf));
    RecordHeader header;
    RecordView view;
    const bool ok =
        n >= log_format::kHeaderSize && DecodeHeader(buf, &header) == HeaderCheck::kOk &&
        (header.record_size() == size ||
         (!header.key_has_db() && header.record_size() + 1 == size)) &&
        n >= header.record_size() &&
        VerifyRecord(std::string_view(buf).substr(0, header.record_size()), header, &view) &&
        StoredKeyIs(header.key_has_db(), view.key, key) && header.seq == entry->seq;
    if (!ok) {
      return Status::Corruption(fmt::format("{}: damaged record at offset {} (read {} of {} bytes)",
                                            seg->file->path(), entry->offset, n, size));
    }
    buf.resize(header.record_size());
    buf.erase(0, log_format::kHeaderSize + header.key_len);
    return buf;
  }
  return Status::Aborted("lookup kept racing compaction; try again");
}

// ---- Writes -----------------------------------------------------------------------------

Status LogStore::Write(const WriteBatch& batch, std::vector<Status>* op_results) {
  // The blocking form of Prepare: wait for `ready` whenever it says WouldBlock. Shared, as
  // `ready` may still be running on another thread when this returns.
  struct Ready {
    Mutex mu;
    CondVar cv;
    bool called GUARDED_BY(mu) = false;
  };
  for (;;) {
    auto ready = std::make_shared<Ready>();
    Result<Prepared> prepared = Prepare(batch, [ready] {
      MutexLock lock(&ready->mu);
      ready->called = true;
      ready->cv.SignalAll();
    });
    if (prepared.ok()) {
      Status io = WriteInline(*prepared);
      *op_results = prepared->op_results;
      return Commit(std::move(*prepared), io);
    }
    if (!prepared.status().IsWouldBlock()) return prepared.status();
    MutexLock lock(&ready->mu);
    while (!ready->called) ready->cv.Wait(&ready->mu);
  }
}

Status LogStore::WriteInline(const Prepared& batch) {
  if (batch.bytes.empty()) return Status::Ok();
  std::shared_ptr<Segment> seg = FindSegment(batch.segment);
  Status io = seg->file->PWrite(batch.offset, batch.bytes);
  KVS_FAILPOINT("log.after_write_before_sync");
  if (io.ok() && batch.needs_sync) io = seg->file->DataSync();
  KVS_FAILPOINT("log.after_sync_before_index");
  return io;
}

void LogStore::WriteAsync(Prepared&& batch, uring::Loop& loop,
                          std::function<void(Prepared&& batch, Status io)> done) {
  if (batch.bytes.empty()) {
    done(std::move(batch), Status::Ok());
    return;
  }
  // The segment stays open (referenced) until the write completed; the batch's other
  // fields wait beside it while the loop owns its bytes.
  std::shared_ptr<Segment> seg = FindSegment(batch.segment);
  std::string bytes = std::move(batch.bytes);
  const uint64_t offset = batch.offset;
  const bool sync = batch.needs_sync;
  auto rest = std::make_shared<Prepared>(std::move(batch));
  File& file = *seg->file;
  file.WriteAsync(loop, std::move(bytes), offset, sync,
                  [seg = std::move(seg), rest, done = std::move(done)](Status io) {
                    done(std::move(*rest), std::move(io));
                  });
}

Result<LogWriter::Prepared> LogStore::Prepare(const WriteBatch& batch,
                                              std::function<void()> ready) {
  for (const WriteBatch::Op& op : batch.ops()) KVS_RETURN_IF_ERROR(CheckWriteOp(op));

  MutexLock lock(&write_mu_);
  if (failed_) {
    // The writer whose batch needed the failed roll (the first to come back) gets the roll's
    // own error, as it would have rolled itself; the others learn that the store is
    // read-only, and why.
    if (!roll_failure_.ok()) return std::exchange(roll_failure_, Status::Ok());
    return ReadOnlyError();
  }
  if (writer_busy_ || rolling_) {
    waiters_.push_back(std::move(ready));
    return Status::WouldBlock(rolling_ ? "the active segment is being rolled"
                                       : "another batch is being written");
  }

  Prepared p;
  p.op_results.resize(batch.size());
  // Which ops write a record: a delete of a key absent from the index (and from the
  // earlier ops of this batch) writes nothing and answers NotFound.
  BatchKeyState in_batch;
  std::vector<size_t> writing;
  uint64_t total = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const WriteBatch::Op& op = batch.ops()[i];
    if (op.kind == WriteBatch::OpKind::kDelete) {
      const std::optional<bool> decided = in_batch.Exists(op.key);  // the index only if not
      if (!(decided ? *decided : index_.Find(op.key).has_value())) {
        p.op_results[i] = Status::NotFound("Key not found");
        continue;
      }
    }
    in_batch.Apply(op);
    writing.push_back(i);
    total += RecordSize(op.key.size(), op.value.size());
  }

  if (!writing.empty()) {
    if (write_offset_ > 0 && write_offset_ + total > options_.segment_bytes) {
      // The roller thread closes this segment and opens the next (truncate, fsync, create,
      // fallocate, directory fsync): blocking I/O that the loop thread never does.
      rolling_ = true;
      roll_wanted_ = true;
      waiters_.push_back(std::move(ready));
      roller_cv_.SignalAll();
      return Status::WouldBlock("the active segment is full: rolling to a new one");
    }
    // Records never land where the zero-filler is writing.
    if (zero_filler_ != nullptr &&
        !zero_filler_->TryReserve(write_offset_, write_offset_ + total, std::move(ready))) {
      return Status::WouldBlock("the zero-filler is writing there");
    }
    p.bytes.reserve(total);
    p.placed.reserve(writing.size());
    for (size_t w = 0; w < writing.size(); ++w) {
      const WriteBatch::Op& op = batch.ops()[writing[w]];
      const bool prefix = op.kind == WriteBatch::OpKind::kDeletePrefix;
      const bool tombstone = prefix || op.kind == WriteBatch::OpKind::kDelete;
      uint8_t flags = prefix ? log_format::kKeyIsPrefix : 0;
      if (w == 0) flags |= kBatchStart;
      if (w + 1 == writing.size()) flags |= kBatchEnd;
      const uint64_t seq = next_seq_++;
      p.placed.push_back(Prepared::Placed{writing[w], write_offset_ + p.bytes.size(),
                                          static_cast<uint32_t>(op.value.size()), tombstone,
                                          prefix, seq, op.key});
      AppendRecord(&p.bytes, seq, tombstone ? Kind::kTombstone : Kind::kPut, flags, op.key,
                   op.value);
    }
    p.segment = active_->id;
    p.offset = write_offset_;
    p.needs_sync = options_.fsync == FsyncPolicy::kAlways;
    write_offset_ += total;
    active_->bytes.store(write_offset_, std::memory_order_relaxed);
    disk_bytes_.fetch_add(total, std::memory_order_relaxed);
  }
  writer_busy_ = true;
  return p;
}

Status LogStore::Commit(Prepared&& batch, const Status& io) {
  if (io.ok()) {
    // Publish in record order: readers see each key's newest value once this returns.
    // Dead bytes are disk - live - meta: a tombstone and whatever it removes or a put
    // replaces count as dead by leaving live_bytes_.
    DbKeyCounts::Delta keys;
    for (const Prepared::Placed& r : batch.placed) {
      const uint64_t size = RecordSize(r.key.size(), r.value_len);
      if (r.prefix) {
        ErasePrefix(r.key, r.seq, &keys);
      } else if (r.tombstone) {
        std::optional<IndexEntry> removed = index_.Erase(r.key, r.seq);
        if (removed) {
          live_bytes_.fetch_sub(RecordSize(r.key.size(), removed->value_len),
                                std::memory_order_relaxed);
          keys.Add(r.key, -1);
        }
      } else {
        std::optional<IndexEntry> replaced;
        index_.Upsert(r.key, IndexEntry{r.seq, r.offset, batch.segment, r.value_len}, &replaced);
        live_bytes_.fetch_add(size, std::memory_order_relaxed);
        if (replaced) {
          live_bytes_.fetch_sub(RecordSize(r.key.size(), replaced->value_len),
                                std::memory_order_relaxed);
        } else {
          keys.Add(r.key, +1);
        }
      }
    }
    db_keys_.Apply(keys);
    MaybeWakeCompactor();
    if (!batch.placed.empty()) {
      // The datasync was done by whoever wrote the bytes (Write(), or the server's loop).
      if (batch.needs_sync) fsyncs_.fetch_add(1, std::memory_order_relaxed);
      batches_.fetch_add(1, std::memory_order_relaxed);
      batched_ops_.fetch_add(batch.placed.size(), std::memory_order_relaxed);
    }
  }
  std::vector<std::function<void()>> waiters;
  {
    MutexLock lock(&write_mu_);
    if (!io.ok()) Fail(io);
    writer_busy_ = false;
    waiters = TakeWaitersLocked();
  }
  for (auto& fn : waiters) fn();
  return io;
}

void LogStore::ErasePrefix(std::string_view prefix, uint64_t seq, DbKeyCounts::Delta* removed) {
  // One pass over the index, as Redis's FLUSHDB walks its dictionary: O(keys) in memory,
  // one record on disk.
  uint64_t freed = 0;
  index_.EraseIf([&](std::string_view key, const IndexEntry& e) {
    if (!key.starts_with(prefix) || e.seq >= seq) return false;
    freed += RecordSize(key.size(), e.value_len);
    removed->Add(key, -1);
    return true;
  });
  live_bytes_.fetch_sub(freed, std::memory_order_relaxed);
}

std::vector<std::function<void()>> LogStore::TakeWaitersLocked() {
  state_cv_.SignalAll();
  std::vector<std::function<void()>> waiters;
  waiters.swap(waiters_);
  return waiters;
}

Status LogStore::Sync() {
  std::shared_ptr<Segment> active;
  {
    MutexLock lock(&write_mu_);
    if (failed_) return ReadOnlyError();
    active = active_;
  }
  Status s = active->file->DataSync();
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  if (!s.ok()) {
    MutexLock lock(&write_mu_);
    Fail(s);  // never retried: the kernel may have dropped the dirty pages
  }
  return s;
}

void LogStore::PeriodicSyncLoop() {
  const auto interval = std::chrono::milliseconds(options_.sync_interval_ms);
  MutexLock lock(&sync_mu_);
  while (!stopping_) {
    sync_cv_.WaitFor(&sync_mu_, interval);
    if (stopping_) break;
    lock.Unlock();
    (void)Sync();  // a failure turns the store read-only; writers see it
    lock.Lock();
  }
}

// ---- Segments ---------------------------------------------------------------------------

LogStore::Segment::~Segment() {
  if (!obsolete.load(std::memory_order_acquire)) return;
  // The last reference to a segment a compaction replaced: nobody can read it any more.
  // A failed unlink only leaves a file that the next start removes (docs/COMPACTION.md).
  const std::string path = file->path();
  (void)env->Remove(path);
  if (!hint_path.empty()) (void)env->Remove(hint_path);
  KVS_FAILPOINT("compaction.after_unlink");
}

std::string LogStore::HintPath(uint32_t id) const {
  return dir_->File(fmt::format("{}{}", id, log_format::kHintSuffix));
}

void LogStore::Preallocate(File& file, uint64_t from) {
  // Zeroed blocks reserved up front: an append then changes no file size, so its fdatasync
  // need not journal metadata. Recovery reads the zeros as the clean end of the log.
  if (from >= options_.segment_bytes) return;
  Status s = file.Allocate(from, options_.segment_bytes - from);
  if (!s.ok() && !s.IsNotSupported()) {
    Warn(
        fmt::format("preallocating {} failed ({}); continuing without", file.path(), s.ToString()));
  }
}

Result<std::shared_ptr<LogStore::Segment>> LogStore::CreateSegmentFile(uint32_t id) {
  KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                       env_->Open(SegmentPath(id), OpenMode::kCreateNew));
  Preallocate(*file, 0);
  KVS_RETURN_IF_ERROR(file->Sync());
  KVS_FAILPOINT("segment.after_create_before_dirsync");
  // The new name must be durable before anything written into it is acknowledged.
  KVS_RETURN_IF_ERROR(env_->SyncDir(dir_->path()));
  return std::make_shared<Segment>(env_, id, std::move(file));
}

void LogStore::InstallActiveLocked(std::shared_ptr<Segment> seg, uint64_t end) {
  {
    WriterLock lock(&segments_mu_);
    segments_[seg->id] = seg;
  }
  next_segment_id_ = std::max(next_segment_id_, seg->id + 1);
  write_offset_ = end;
  active_ = std::move(seg);
  if (zero_filler_ != nullptr) zero_filler_->SetSegment(active_->file->path(), end);
}

Status LogStore::RollActive(uint32_t next_id, bool for_writer) {
  std::shared_ptr<Segment> closing;
  uint64_t end = 0;
  uint32_t id = next_id;
  {
    MutexLock lock(&write_mu_);
    closing = active_;
    end = write_offset_;
    if (id == 0) id = next_segment_id_;
  }
  // Close the segment at its exact length and make that durable first: recovery treats
  // only the newest segment's tail as possibly torn. The zero-filler leaves it first.
  if (zero_filler_ != nullptr) zero_filler_->Detach();
  Status s = closing->file->Truncate(end);
  if (s.ok()) s = closing->file->Sync();
  if (s.ok()) fsyncs_.fetch_add(1, std::memory_order_relaxed);
  std::shared_ptr<Segment> next;
  if (s.ok()) {
    Result<std::shared_ptr<Segment>> created = CreateSegmentFile(id);
    if (created.ok()) {
      next = std::move(*created);
    } else {
      s = created.status();
    }
  }
  std::vector<std::function<void()>> waiters;
  {
    MutexLock lock(&write_mu_);
    if (s.ok()) {
      InstallActiveLocked(std::move(next), 0);
    } else {
      Fail(s);
      if (for_writer) roll_failure_ = s;
    }
    rolling_ = false;
    waiters = TakeWaitersLocked();
  }
  // Its hint is written off the write path, by the background thread.
  if (s.ok()) QueueHint(closing->id, /*rolled=*/true);
  for (auto& fn : waiters) fn();
  return s;
}

void LogStore::RollerLoop() {
  MutexLock lock(&write_mu_);
  for (;;) {
    while (!roll_wanted_ && !roller_stopping_) roller_cv_.Wait(&write_mu_);
    if (!roll_wanted_) break;  // stopping, with no roll asked for
    roll_wanted_ = false;
    lock.Unlock();
    (void)RollActive(0, /*for_writer=*/true);  // a failure goes to the writer that asked
    lock.Lock();
  }
}

EngineStats LogStore::Stats() const {
  EngineStats s;
  s.keys = index_.size();
  s.live_bytes = live_bytes_.load(std::memory_order_relaxed);
  s.disk_bytes = disk_bytes_.load(std::memory_order_relaxed);
  s.dead_bytes = DeadBytes();
  {
    ReaderLock lock(&segments_mu_);
    s.segments = segments_.size();
  }
  s.compactions = compactions_.load(std::memory_order_relaxed);
  s.index_bytes = index_.MemoryBytes();
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

namespace kvs {

Status LogStore::ForEach(const PairFn& fn) {
  // Copy the keys first: `fn` may write to this store, which must not happen under an
  // index shard's lock.
  std::vector<std::string> keys;
  keys.reserve(index_.size());
  index_.ForEach([&keys](std::string_view key, const IndexEntry& entry) {
    if (!entry.tombstone()) keys.emplace_back(key);
  });
  for (const std::string& key : keys) {
    Result<std::string> value = Get(key);
    if (!value.ok()) {
      if (value.status().IsNotFound()) continue;  // removed meanwhile
      return value.status();
    }
    KVS_RETURN_IF_ERROR(fn(key, *value, kNoExpiry));
  }
  return Status::Ok();
}

std::optional<std::map<uint32_t, DbKeyCount>> LogStore::KeysPerDb() const {
  std::map<uint32_t, DbKeyCount> counts;
  for (const auto& [db, keys] : db_keys_.Get()) counts[db].keys = keys;
  return counts;
}

ExpiredScan LogStore::ScanExpired(size_t /*max_visited*/) { return {}; }

Status LogStore::ForEachKey(const std::function<Status(std::string_view key)>& fn) {
  // Keys from the index only. Copied first, as in ForEach: `fn` runs without a shard lock.
  std::vector<std::string> keys;
  keys.reserve(index_.size());
  index_.ForEach([&keys](std::string_view key, const IndexEntry& entry) {
    if (!entry.tombstone()) keys.emplace_back(key);
  });
  for (const std::string& key : keys) KVS_RETURN_IF_ERROR(fn(key));
  return Status::Ok();
}

}  // namespace kvs
