// LogStore: the write path (prepare / write / commit), the read path and segment rolling.
// Recovery and repair live in log_recovery.cc.

#include "store/log_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>
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
  KVS_RETURN_IF_ERROR(store->Recover());
  if (options.fsync == FsyncPolicy::kPeriodic) {
    store->sync_thread_ = std::thread([s = store.get()] { s->PeriodicSyncLoop(); });
  }
  if (options.zero_fill_ahead_bytes > 0) {
    store->zero_thread_ = std::thread([s = store.get()] { s->ZeroFillLoop(); });
  }
  if (options.background_compaction) {
    store->compactor_thread_ = std::thread([s = store.get()] { s->CompactionLoop(); });
    store->MaybeWakeCompactor();  // the recovered segments may be due already
  }
  return store;
}

LogStore::~LogStore() {
  shutting_down_.store(true);
  if (zero_thread_.joinable()) {
    {
      std::lock_guard lock(write_mu_);
      zero_fill_stopping_ = true;
    }
    zero_cv_.notify_all();
    zero_thread_.join();
  }
  if (compactor_thread_.joinable()) {
    {
      std::lock_guard lock(compactor_mu_);
      compactor_stopping_ = true;
    }
    compactor_cv_.notify_all();
    compactor_thread_.join();
  }
  // The segments closed lately would otherwise be scanned at the next start. Failures were
  // passed to on_warning; recovery copes without the hints.
  (void)WritePendingHints(/*rolled_only=*/true);
  if (sync_thread_.joinable()) {
    {
      std::lock_guard lock(sync_mu_);
      stopping_ = true;
    }
    sync_cv_.notify_all();
    sync_thread_.join();
  }
  std::unique_lock lock(write_mu_);
  batch_done_.wait(lock, [&] { return !batch_outstanding_; });
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
  std::shared_lock lock(segments_mu_);
  auto it = segments_.find(id);
  return it == segments_.end() ? nullptr : it->second;
}

void LogStore::Warn(std::string_view msg) const {
  if (options_.on_warning) options_.on_warning(msg);
}

Status LogStore::ReadOnlyError() const {
  std::lock_guard lock(failure_mu_);
  return Status::ReadOnly(fmt::format("store is read-only after a failed write: {}", failure_));
}

void LogStore::Fail(const Status& why) {
  if (failed_) return;
  failed_ = true;
  {
    std::lock_guard lock(failure_mu_);
    failure_ = why.ToString();
  }
  read_only_.store(true, std::memory_order_release);
}

// ---- Reads ------------------------------------------------------------------------------

Result<std::string> LogStore::Get(std::string_view key) { return Lookup(key, false); }

Result<std::string> LogStore::GetCached(std::string_view key) { return Lookup(key, true); }

Result<std::string> LogStore::Lookup(std::string_view key, bool cached_only) {
  // A lookup can race a compaction that moves the entry and drops the old segment between
  // reading the entry and finding its segment; look the entry up again in that case.
  for (int attempt = 0; attempt < kGetAttempts; ++attempt) {
    std::optional<IndexEntry> entry = index_.Find(key);
    if (!entry) return Status::NotFound("Key not found");
    std::shared_ptr<Segment> seg = FindSegment(entry->segment);
    if (seg == nullptr) continue;
    KVS_FAILPOINT("log.read_holding_segment");  // tests swap the segment away right here

    const uint64_t size = RecordSize(key.size(), entry->value_len);
    std::string buf(size, '\0');
    KVS_ASSIGN_OR_RETURN(size_t n, cached_only ? seg->file->PReadCached(entry->offset, buf)
                                               : seg->file->PRead(entry->offset, buf));
    RecordHeader header;
    RecordView view;
    if (n != size || DecodeHeader(buf, &header) != HeaderCheck::kOk ||
        header.record_size() != size || !VerifyRecord(buf, header, &view) || view.key != key ||
        header.seq != entry->seq) {
      return Status::Corruption(fmt::format("{}: damaged record at offset {} (read {} of {} bytes)",
                                            seg->file->path(), entry->offset, n, size));
    }
    buf.erase(0, log_format::kHeaderSize + key.size());
    return buf;
  }
  return Status::Aborted("lookup kept racing compaction; try again");
}

// ---- Writes -----------------------------------------------------------------------------

Status LogStore::Write(const WriteBatch& batch, std::vector<Status>* op_results) {
  KVS_ASSIGN_OR_RETURN(PreparedBatch prepared, PrepareBatch(batch));
  Status io = WritePrepared(prepared);
  *op_results = prepared.op_results;
  return CommitBatch(std::move(prepared), io);
}

Status LogStore::WritePrepared(const PreparedBatch& prepared) {
  if (prepared.bytes.empty()) return Status::Ok();
  std::shared_ptr<Segment> seg = FindSegment(prepared.segment);
  Status io = seg->file->PWrite(prepared.offset, prepared.bytes);
  KVS_FAILPOINT("log.after_write_before_sync");
  if (io.ok() && prepared.needs_sync) io = seg->file->DataSync();
  KVS_FAILPOINT("log.after_sync_before_index");
  return io;
}

Result<LogStore::PreparedBatch> LogStore::PrepareBatch(const WriteBatch& batch) {
  for (const WriteBatch::Op& op : batch.ops()) KVS_RETURN_IF_ERROR(CheckWriteOp(op));

  std::unique_lock lock(write_mu_);
  batch_done_.wait(lock, [&] { return !batch_outstanding_; });
  if (failed_) return ReadOnlyError();

  PreparedBatch p;
  p.op_results.resize(batch.size());
  // Which ops write a record: a delete of a key absent from the index (and from the
  // earlier ops of this batch) writes nothing and answers NotFound.
  std::unordered_map<std::string_view, bool> exists_in_batch;
  std::vector<size_t> writing;
  uint64_t total = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const WriteBatch::Op& op = batch.ops()[i];
    if (op.kind == WriteBatch::OpKind::kDelete) {
      auto it = exists_in_batch.find(op.key);
      const bool exists =
          it != exists_in_batch.end() ? it->second : index_.Find(op.key).has_value();
      if (!exists) {
        p.op_results[i] = Status::NotFound("Key not found");
        continue;
      }
      exists_in_batch[op.key] = false;
    } else {
      exists_in_batch[op.key] = true;
    }
    writing.push_back(i);
    total += RecordSize(op.key.size(), op.value.size());
  }

  if (!writing.empty()) {
    const bool roll = write_offset_ > 0 && write_offset_ + total > options_.segment_bytes;
    // Records never land where the zero-filler is writing, and a segment is not closed
    // under it. The writer's slot is taken meanwhile: nobody else reserves or rolls.
    batch_outstanding_ = true;
    AwaitZeroFillLocked(lock, roll ? UINT64_MAX : write_offset_ + total);
    batch_outstanding_ = false;
    batch_done_.notify_all();
    if (roll) {
      const uint32_t closed = active_->id;
      if (Status s = RollSegmentLocked(); !s.ok()) {
        Fail(s);
        return s;
      }
      QueueHint(closed, /*rolled=*/true);  // written off this path, by the background thread
    }
    p.bytes.reserve(total);
    p.placed.reserve(writing.size());
    for (size_t w = 0; w < writing.size(); ++w) {
      const WriteBatch::Op& op = batch.ops()[writing[w]];
      const bool tombstone = op.kind == WriteBatch::OpKind::kDelete;
      uint8_t flags = 0;
      if (w == 0) flags |= kBatchStart;
      if (w + 1 == writing.size()) flags |= kBatchEnd;
      const uint64_t seq = next_seq_++;
      p.placed.push_back(PreparedBatch::Placed{writing[w], write_offset_ + p.bytes.size(),
                                               static_cast<uint32_t>(op.value.size()), tombstone,
                                               seq, op.key});
      AppendRecord(&p.bytes, seq, tombstone ? Kind::kTombstone : Kind::kPut, flags, op.key,
                   op.value);
    }
    p.fd = active_->file->fd();
    p.segment = active_->id;
    p.offset = write_offset_;
    p.needs_sync = options_.fsync == FsyncPolicy::kAlways;
    write_offset_ += total;
    active_->bytes.store(write_offset_, std::memory_order_relaxed);
    disk_bytes_.fetch_add(total, std::memory_order_relaxed);
    // The filler keeps its distance. It fills a chunk at a time, so this wakes it about
    // once a chunk, not once a batch: a wake-up costs the loop more than the write.
    if (ZeroFillDueLocked()) zero_cv_.notify_all();
  }
  batch_outstanding_ = true;
  return p;
}

Status LogStore::CommitBatch(PreparedBatch&& prepared, const Status& io) {
  if (io.ok()) {
    // Publish in record order: readers see each key's newest value once this returns.
    // Dead bytes are disk - live - meta: a tombstone and whatever it removes or a put
    // replaces count as dead by leaving live_bytes_.
    for (const PreparedBatch::Placed& r : prepared.placed) {
      const uint64_t size = RecordSize(r.key.size(), r.value_len);
      if (r.tombstone) {
        std::optional<IndexEntry> removed = index_.Erase(r.key, r.seq);
        if (removed) {
          live_bytes_.fetch_sub(RecordSize(r.key.size(), removed->value_len),
                                std::memory_order_relaxed);
        }
      } else {
        std::optional<IndexEntry> replaced;
        index_.Upsert(r.key, IndexEntry{r.seq, r.offset, prepared.segment, r.value_len}, &replaced);
        live_bytes_.fetch_add(size, std::memory_order_relaxed);
        if (replaced) {
          live_bytes_.fetch_sub(RecordSize(r.key.size(), replaced->value_len),
                                std::memory_order_relaxed);
        }
      }
    }
    MaybeWakeCompactor();
    if (!prepared.placed.empty()) {
      // The datasync was done by whoever wrote the bytes (Write(), or the server's loop).
      if (prepared.needs_sync) fsyncs_.fetch_add(1, std::memory_order_relaxed);
      batches_.fetch_add(1, std::memory_order_relaxed);
      batched_ops_.fetch_add(prepared.placed.size(), std::memory_order_relaxed);
    }
  }
  std::lock_guard lock(write_mu_);
  if (!io.ok()) Fail(io);
  batch_outstanding_ = false;
  batch_done_.notify_all();
  return io;
}

Status LogStore::Sync() {
  std::shared_ptr<Segment> active;
  {
    std::lock_guard lock(write_mu_);
    if (failed_) return ReadOnlyError();
    active = active_;
  }
  Status s = active->file->DataSync();
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  if (!s.ok()) {
    std::lock_guard lock(write_mu_);
    Fail(s);  // never retried: the kernel may have dropped the dirty pages
  }
  return s;
}

void LogStore::PeriodicSyncLoop() {
  std::unique_lock lock(sync_mu_);
  while (!stopping_) {
    sync_cv_.wait_for(lock, std::chrono::milliseconds(options_.sync_interval_ms));
    if (stopping_) break;
    lock.unlock();
    (void)Sync();  // a failure turns the store read-only; writers see it
    lock.lock();
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

void LogStore::AwaitZeroFillLocked(std::unique_lock<std::mutex>& lock, uint64_t end) {
  zero_cv_.wait(lock, [&] { return !zero_claimed_ || end <= zero_claim_begin_; });
}

uint64_t LogStore::ZeroFillBeginLocked() const {
  constexpr uint64_t kBlock = 4096;
  return std::max(zeroed_until_, (write_offset_ + kBlock - 1) / kBlock * kBlock);
}

uint64_t LogStore::ZeroFillTargetLocked() const {
  return std::min(write_offset_ + options_.zero_fill_ahead_bytes, options_.segment_bytes);
}

bool LogStore::ZeroFillDueLocked() const {
  return options_.zero_fill_ahead_bytes > 0 && !failed_ && active_ != nullptr &&
         ZeroFillBeginLocked() < ZeroFillTargetLocked();
}

void LogStore::ZeroFillLoop() {
  constexpr uint64_t kChunk = 1 << 20;
  static const std::vector<char> kZeros(kChunk, 0);
  // The filler has a descriptor of its own for the active segment: the kernel reports a
  // writeback error to every open file description once, so the fdatasyncs here can never
  // swallow an error that the writer's own fdatasync must see.
  std::shared_ptr<Segment> open_seg;
  int fd = -1;
  auto close_fd = [&fd] {
    if (fd >= 0) ::close(fd);
    fd = -1;
  };
  std::unique_lock lock(write_mu_);
  for (;;) {
    zero_cv_.wait(lock, [&] { return zero_fill_stopping_ || ZeroFillDueLocked(); });
    if (zero_fill_stopping_) break;
    const uint64_t begin = ZeroFillBeginLocked();
    const uint64_t end = std::min(begin + kChunk, options_.segment_bytes);
    const std::shared_ptr<Segment> seg = active_;
    zero_claimed_ = true;
    zero_claim_begin_ = begin;
    lock.unlock();
    if (seg != open_seg) {
      close_fd();
      open_seg = seg;
      fd = ::open(seg->file->path().c_str(), O_WRONLY | O_CLOEXEC);
    }
    int err = fd < 0 ? errno : 0;
    for (uint64_t at = begin; at < end && err == 0;) {
      const ssize_t n = ::pwrite(fd, kZeros.data(), end - at, static_cast<off_t>(at));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        err = n < 0 ? errno : EIO;
      } else {
        at += static_cast<uint64_t>(n);
      }
    }
    if (err == 0 && ::fdatasync(fd) != 0) err = errno;
    lock.lock();
    zero_claimed_ = false;
    zero_cv_.notify_all();
    if (err != 0) {
      // Only an optimisation: the blocks stay merely fallocate'd. A failing disk fails the
      // writer's own writes and fdatasyncs too, and they report it.
      Warn(fmt::format("zero-filling {} ahead of the log failed ({}); continuing without",
                       seg->file->path(), std::strerror(err)));
      break;
    }
    if (active_ == seg) zeroed_until_ = end;
  }
  lock.unlock();
  close_fd();
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

Status LogStore::CreateSegmentLocked(uint32_t id) {
  KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                       env_->Open(SegmentPath(id), OpenMode::kCreateNew));
  Preallocate(*file, 0);
  KVS_RETURN_IF_ERROR(file->Sync());
  KVS_FAILPOINT("segment.after_create_before_dirsync");
  // The new name must be durable before anything written into it is acknowledged.
  KVS_RETURN_IF_ERROR(env_->SyncDir(dir_->path()));
  auto seg = std::make_shared<Segment>(env_, id, std::move(file));
  {
    std::unique_lock lock(segments_mu_);
    segments_[id] = seg;
  }
  active_ = std::move(seg);
  write_offset_ = 0;
  zeroed_until_ = 0;
  next_segment_id_ = id + 1;
  zero_cv_.notify_all();
  return Status::Ok();
}

Status LogStore::RollSegmentLocked(uint32_t next_id) {
  // Close the active segment at its exact length and make that durable first: recovery
  // treats only the newest segment's tail as possibly torn.
  KVS_RETURN_IF_ERROR(active_->file->Truncate(write_offset_));
  KVS_RETURN_IF_ERROR(active_->file->Sync());
  fsyncs_.fetch_add(1, std::memory_order_relaxed);
  return CreateSegmentLocked(next_id != 0 ? next_id : next_segment_id_);
}

EngineStats LogStore::Stats() const {
  EngineStats s;
  s.keys = index_.size();
  s.live_bytes = live_bytes_.load(std::memory_order_relaxed);
  s.disk_bytes = disk_bytes_.load(std::memory_order_relaxed);
  s.dead_bytes = DeadBytes();
  {
    std::shared_lock lock(segments_mu_);
    s.segments = segments_.size();
  }
  s.compactions = compactions_.load(std::memory_order_relaxed);
  s.fsyncs = fsyncs_.load(std::memory_order_relaxed);
  s.batches = batches_.load(std::memory_order_relaxed);
  s.batched_ops = batched_ops_.load(std::memory_order_relaxed);
  s.read_only = read_only_.load(std::memory_order_acquire);
  if (s.read_only) {
    std::lock_guard lock(failure_mu_);
    s.failure = failure_;
  }
  return s;
}

}  // namespace kvs

namespace kvs {

Status LogStore::ForEach(
    const std::function<Status(std::string_view key, std::string_view value)>& fn) {
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
    KVS_RETURN_IF_ERROR(fn(key, *value));
  }
  return Status::Ok();
}

}  // namespace kvs
