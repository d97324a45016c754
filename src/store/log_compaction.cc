// LogStore compaction: copy the live records of every closed segment into new segments
// with hint files, swap them in crash-safely, and drop the old segments once no reader
// holds them. The design, the swap protocol and its recovery: docs/COMPACTION.md.
//
// Steps (each crash point is a failpoint; see the list in docs/COMPACTION.md):
//   1. Under the write lock: close the active segment A and make segment F+R the active
//      one, reserving ids F .. F+R-1 for the outputs (R bounds their number). Every closed
//      segment (id < F) is an input; every record in them is older than any later write.
//   2. Without the write lock: snapshot the index entries that point into the inputs, and
//      write them, each record a batch of its own with its original sequence number, to
//      `<F+i>.log.compacting`, after a kMeta record "output i of N, first output F"; the
//      matching `<F+i>.hint.compacting` lists them. Both are fsynced.
//   3. Rename every hint, then every segment into place; fsync the directory. The last
//      rename is the commit point: from then on recovery keeps the outputs and removes
//      every segment below F; before it, recovery removes the outputs.
//   4. Switch each index entry that still points at its old place (an entry overwritten or
//      removed meanwhile keeps its newer value), then drop the inputs from the segment map.
//      Each input's file is unlinked by whoever drops the last reference to it.

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "base/failpoint.h"
#include "store/hint_file.h"
#include "store/log_store.h"
#include "store/record.h"
#include "store/segment_reader.h"

namespace kvs {

using log_format::kBatchEnd;
using log_format::kBatchStart;
using log_format::Kind;

namespace {

constexpr size_t kFlushBytes = 1 << 20;

std::string TempName(const std::string& path) {
  return path + std::string(log_format::kCompactingSuffix);
}

}  // namespace

// A live record to copy: where it is now and where it goes.
struct LogStore::LiveRecord {
  std::string key;
  IndexEntry from;
  uint32_t output = 0;  // index of its output segment
  uint64_t offset = 0;  // its offset there
};

struct LogStore::OutputPlan {
  uint32_t id = 0;
  uint64_t bytes = 0;  // final size, meta record included
};

uint64_t LogStore::DeadBytes() const {
  const uint64_t disk = disk_bytes_.load(std::memory_order_relaxed);
  const uint64_t used =
      live_bytes_.load(std::memory_order_relaxed) + meta_bytes_.load(std::memory_order_relaxed);
  return disk > used ? disk - used : 0;  // the counters move one at a time
}

bool LogStore::CompactionWanted() const {
  const uint64_t dead = DeadBytes();
  const double disk = static_cast<double>(disk_bytes_.load(std::memory_order_relaxed));
  return dead > 0 && dead >= options_.compaction_min_dead_bytes &&
         static_cast<double>(dead) >= options_.compaction_dead_ratio * disk;
}

Status LogStore::Compact() {
  MutexLock lock(&compact_mu_);
  if (compaction_disabled_) {
    return Status::Aborted("compaction is disabled after a swap failed half way; restart");
  }
  Status s = CompactLocked();
  if (s.ok()) compactions_.fetch_add(1, std::memory_order_relaxed);
  return s;
}

Status LogStore::CompactLocked() {
  // 1. Close the active segment; reserve the output ids below the new active one.
  uint32_t first = 0, reserved = 0;
  std::map<uint32_t, std::shared_ptr<Segment>> inputs;
  {
    MutexLock lock(&write_mu_);
    // Wait for the batch being written and a roll under way; a writer waits meanwhile (its
    // Prepare says WouldBlock while rolling_), never the other way round.
    while (writer_busy_ || rolling_) state_cv_.Wait(&write_mu_);
    if (failed_) return ReadOnlyError();
    uint64_t total = 0;
    {
      ReaderLock segs(&segments_mu_);
      for (const auto& [id, seg] : segments_) total += seg->bytes.load(std::memory_order_relaxed);
    }
    if (total == 0) return Status::Ok();  // nothing was ever written
    // Outputs are filled up to segment_bytes, so two consecutive ones hold more than
    // segment_bytes of records: N <= 2 * total / segment_bytes + 1. A few spare ids are free.
    reserved = static_cast<uint32_t>(2 * (total / options_.segment_bytes) + 3);
    first = next_segment_id_;
    if (uint64_t{first} + reserved + 1 >= UINT32_MAX) {
      return Status::NotSupported("segment ids exhausted");
    }
    rolling_ = true;
  }
  // The roll's I/O runs here, without the write lock (RollActive turns the store read-only
  // on failure); the loop's writes wait for it without blocking the loop.
  KVS_RETURN_IF_ERROR(RollActive(first + reserved, /*for_writer=*/false));
  {
    ReaderLock segs(&segments_mu_);
    for (const auto& [id, seg] : segments_) {
      if (id < first) inputs.emplace(id, seg);
    }
  }
  KVS_FAILPOINT("compaction.after_roll");

  // 2. Snapshot what is live in the inputs, in file order (sequential reads), and plan.
  // A put whose expiry time has passed is treated like a tombstone (docs/COMPACTION.md
  // "Expired records"): not copied, and, like every older record of its key, which all lie
  // in the inputs, gone with them. Its index entry goes once the swap is committed (step 4).
  // The clock never goes backwards, so the key stays expired meanwhile.
  const int64_t now = NowMs();
  std::vector<LiveRecord> live;
  std::vector<LiveRecord> expired;
  index_.ForEach([&](std::string_view key, const IndexEntry& e) {
    if (e.segment >= first) return;
    (e.ExpiredAt(now) ? expired : live).push_back(LiveRecord{std::string(key), e});
  });
  std::sort(live.begin(), live.end(), [](const LiveRecord& a, const LiveRecord& b) {
    return a.from.segment != b.from.segment ? a.from.segment < b.from.segment
                                            : a.from.offset < b.from.offset;
  });
  // Even with nothing live there is one output: its meta record is what commits the
  // removal of the inputs (and of their tombstones).
  std::vector<OutputPlan> plan{OutputPlan{first, kMetaRecordSize}};
  for (LiveRecord& r : live) {
    const uint64_t size = RecordSize(r.key.size(), r.from.value_len);
    if (plan.back().bytes > kMetaRecordSize && plan.back().bytes + size > options_.segment_bytes) {
      plan.push_back(OutputPlan{static_cast<uint32_t>(first + plan.size()), kMetaRecordSize});
    }
    r.output = static_cast<uint32_t>(plan.size() - 1);
    r.offset = plan.back().bytes;
    plan.back().bytes += size;
  }
  if (plan.size() > reserved) {
    return Status::Corruption(
        fmt::format("compaction planned {} outputs but reserved {} ids", plan.size(), reserved));
  }

  Status s = WriteOutputs(live, plan, inputs);
  if (!s.ok()) {
    RemoveOutputFiles(first, plan.size());
    return s;
  }
  KVS_FAILPOINT("compaction.after_write_outputs");

  // 3. Rename into place. Hints first, so a segment never appears without its hint.
  for (const OutputPlan& out : plan) {
    s = env_->Rename(TempName(HintPath(out.id)), HintPath(out.id));
    if (!s.ok()) break;
  }
  for (size_t i = 0; s.ok() && i < plan.size(); ++i) {
    s = env_->Rename(TempName(SegmentPath(plan[i].id)), SegmentPath(plan[i].id));
    if (i == 0) KVS_FAILPOINT("compaction.after_first_rename");
  }
  if (s.ok()) {
    KVS_FAILPOINT("compaction.before_dir_sync");
    s = env_->SyncDir(dir_->path());
  }
  if (!s.ok()) {
    // Not durably committed: removing every output leaves the inputs in charge, which is
    // what recovery would decide too if the renames were lost.
    RemoveOutputFiles(first, plan.size());
    (void)env_->SyncDir(dir_->path());
    return s;
  }
  KVS_FAILPOINT("compaction.after_commit");

  // 4. Swap in memory: outputs in, entries switched, inputs out.
  std::vector<std::shared_ptr<Segment>> outputs;
  for (const OutputPlan& out : plan) {
    Result<std::unique_ptr<File>> file = env_->Open(SegmentPath(out.id), OpenMode::kRead);
    if (!file.ok()) {
      // Committed on disk but not in memory: the inputs keep serving, and the next start
      // finishes the swap. Another compaction now would build on a half-applied one.
      compaction_disabled_ = true;
      return std::move(file).status();
    }
    auto seg = std::make_shared<Segment>(env_, out.id, std::move(file).value());
    seg->bytes.store(out.bytes, std::memory_order_relaxed);
    seg->meta_bytes = kMetaRecordSize;
    seg->hint_path = HintPath(out.id);
    outputs.push_back(std::move(seg));
  }
  {
    WriterLock segs(&segments_mu_);
    for (const auto& seg : outputs) segments_[seg->id] = seg;
  }
  disk_bytes_.fetch_add(
      std::accumulate(plan.begin(), plan.end(), uint64_t{0},
                      [](uint64_t n, const OutputPlan& o) { return n + o.bytes; }),
      std::memory_order_relaxed);
  meta_bytes_.fetch_add(plan.size() * kMetaRecordSize, std::memory_order_relaxed);

  KVS_FAILPOINT("compaction.before_switch");
  for (const LiveRecord& r : live) {
    // Only if still at its old place: a write since then is newer and stays. A copy that
    // loses here is dead bytes in its output, counted as such by disk - live - meta.
    index_.ReplaceIf(
        r.key, r.from,
        IndexEntry{r.from.seq, r.offset, plan[r.output].id, r.from.value_len, r.from.expire_at_ms});
  }

  // The expired keys' entries point into the inputs, which are about to go. One the writer
  // replaced or deleted meanwhile is not at its old place any more and stays as it is.
  DbKeyCounts::Delta gone;
  uint64_t gone_bytes = 0;
  for (const LiveRecord& r : expired) {
    if (const std::optional<IndexEntry> e = index_.EraseIfAt(r.key, r.from)) {
      gone_bytes += RecordSize(r.key.size(), e->value_len);
      gone.Add(r.key, -1, -1);
    }
  }
  live_bytes_.fetch_sub(gone_bytes, std::memory_order_relaxed);
  db_keys_.Apply(gone);

  KVS_FAILPOINT("compaction.before_unlink");
  uint64_t dropped = 0, dropped_meta = 0;
  {
    WriterLock segs(&segments_mu_);
    for (const auto& [id, seg] : inputs) {
      segments_.erase(id);
      dropped += seg->bytes.load(std::memory_order_relaxed);
      dropped_meta += seg->meta_bytes;
      seg->obsolete.store(true, std::memory_order_release);
    }
  }
  disk_bytes_.fetch_sub(dropped, std::memory_order_relaxed);
  meta_bytes_.fetch_sub(dropped_meta, std::memory_order_relaxed);
  inputs.clear();  // unlinks every input no reader holds; readers unlink the rest
  return Status::Ok();
}

Status LogStore::WriteOutputs(const std::vector<LiveRecord>& live,
                              const std::vector<OutputPlan>& plan,
                              const std::map<uint32_t, std::shared_ptr<Segment>>& inputs) {
  std::unique_ptr<File> out;
  std::unique_ptr<HintWriter> hint;
  std::string buf;
  uint64_t flushed = 0;  // bytes of `out` already written
  auto flush = [&]() -> Status {
    KVS_RETURN_IF_ERROR(out->PWrite(flushed, buf));
    flushed += buf.size();
    buf.clear();
    return Status::Ok();
  };
  auto finish = [&](const OutputPlan& p) -> Status {
    KVS_RETURN_IF_ERROR(flush());
    if (flushed != p.bytes) {
      return Status::Corruption(
          fmt::format("{}: wrote {} bytes, planned {}", out->path(), flushed, p.bytes));
    }
    KVS_RETURN_IF_ERROR(out->Sync());
    KVS_RETURN_IF_ERROR(hint->Finish(p.bytes));
    out.reset();
    hint.reset();
    return Status::Ok();
  };
  auto start = [&](const OutputPlan& p, uint32_t index) -> Status {
    KVS_ASSIGN_OR_RETURN(out, env_->Open(TempName(SegmentPath(p.id)), OpenMode::kCreateNew));
    KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> h,
                         env_->Open(TempName(HintPath(p.id)), OpenMode::kCreateNew));
    hint = std::make_unique<HintWriter>(std::move(h));
    flushed = 0;
    const CompactionMeta meta{plan.front().id, index, static_cast<uint32_t>(plan.size())};
    AppendRecord(&buf, log_format::kMetaSeq, Kind::kMeta, kBatchStart | kBatchEnd,
                 log_format::kMetaKey, EncodeCompactionMeta(meta));
    return Status::Ok();
  };

  uint32_t current = 0;
  KVS_RETURN_IF_ERROR(start(plan[0], 0));
  std::unique_ptr<SegmentReader> reader;
  uint32_t reader_segment = 0;
  for (const LiveRecord& r : live) {
    if (shutting_down_.load(std::memory_order_relaxed)) {
      return Status::Aborted("compaction stopped: the store is closing");
    }
    if (r.output != current) {
      KVS_RETURN_IF_ERROR(finish(plan[current]));
      current = r.output;
      KVS_RETURN_IF_ERROR(start(plan[current], current));
    }
    if (reader == nullptr || reader_segment != r.from.segment) {
      const Segment& seg = *inputs.at(r.from.segment);
      reader = std::make_unique<SegmentReader>(*seg.file, seg.bytes.load());
      reader_segment = r.from.segment;
    }
    KVS_ASSIGN_OR_RETURN(SegmentReader::Item item, reader->ReadAt(r.from.offset));
    if (item.outcome != SegmentReader::Outcome::kRecord ||
        !StoredKeyIs(item.record.header.key_has_db(), item.record.key, r.key) ||
        item.record.header.seq != r.from.seq || item.record.header.kind() != Kind::kPut ||
        item.record.expire_at_ms != r.from.expire_at_ms) {
      // Never copy damage forward: the inputs stay, and reads report it as they do now.
      return Status::Corruption(
          fmt::format("{}: record at offset {} does not match the index "
                      "({}); compaction stopped",
                      SegmentPath(r.from.segment), r.from.offset,
                      item.reason.empty() ? "wrong record" : item.reason));
    }
    // Copied in the current form, whatever the input's: a record of an earlier kvs (a bare
    // db 0 key) is rewritten with its engine key, which the plan sized it for.
    // Its expiry time travels with it, in the record and in the hint.
    KVS_RETURN_IF_ERROR(hint->Add(HintEntry{r.key, Kind::kPut, r.from.seq, r.offset,
                                            r.from.value_len, /*key_has_db=*/true,
                                            /*key_is_prefix=*/false, r.from.expire_at_ms}));
    AppendRecord(&buf, r.from.seq, Kind::kPut, kBatchStart | kBatchEnd, r.key, item.record.value,
                 item.record.expire_at_ms);
    if (buf.size() >= kFlushBytes) KVS_RETURN_IF_ERROR(flush());
  }
  KVS_RETURN_IF_ERROR(finish(plan[current]));
  // Outputs that got no record (the plan never makes any, but be exact): none to write.
  for (size_t i = current + 1; i < plan.size(); ++i) {
    KVS_RETURN_IF_ERROR(start(plan[i], static_cast<uint32_t>(i)));
    KVS_RETURN_IF_ERROR(finish(plan[i]));
  }
  return Status::Ok();
}

void LogStore::RemoveOutputFiles(uint32_t first, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    const uint32_t id = static_cast<uint32_t>(first + i);
    for (const std::string& path : {SegmentPath(id), HintPath(id)}) {
      (void)env_->Remove(path);  // most of these do not exist; that is fine
      (void)env_->Remove(TempName(path));
    }
  }
}

// ---- The background compactor -------------------------------------------------------------

void LogStore::MaybeWakeCompactor() {
  if (!options_.background_compaction || !CompactionWanted()) return;
  {
    MutexLock lock(&compactor_mu_);
    if (compactor_wake_) return;
    compactor_wake_ = true;
  }
  compactor_cv_.Signal();
}

void LogStore::CompactionLoop() {
  MutexLock lock(&compactor_mu_);
  while (true) {
    while (!compactor_stopping_ && !compactor_wake_ && pending_hints_.empty()) {
      compactor_cv_.Wait(&compactor_mu_);
    }
    if (compactor_stopping_) return;
    if (!pending_hints_.empty()) {
      lock.Unlock();
      (void)WriteHints();  // each failure is warned about, and not retried
      lock.Lock();
      continue;
    }
    compactor_wake_ = false;
    if (DeadBytes() < retry_dead_bytes_ || !CompactionWanted()) continue;
    lock.Unlock();
    Status s = Compact();
    lock.Lock();
    if (!s.ok() && !s.IsAborted()) {
      // Do not spin on a failing disk: try again once as much garbage again has piled up.
      retry_dead_bytes_ =
          DeadBytes() + std::max(options_.compaction_min_dead_bytes, options_.segment_bytes);
      lock.Unlock();
      Warn(fmt::format("compaction failed: {}", s.ToString()));
      lock.Lock();
    } else if (s.ok()) {
      retry_dead_bytes_ = 0;
    }
  }
}

}  // namespace kvs
