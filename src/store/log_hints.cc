// LogStore hint files for closed segments: when the writer rolls to a new segment, the one
// it closed is never written again, so a hint of it (docs/FORMAT.md "Hint files") stays
// true for as long as the segment exists. The hint is written off the write path: by the
// background thread, by WriteHints(), or at a clean shutdown. Compaction outputs get theirs
// from the compactor (log_compaction.cc).
//
// Crash safety: the segment was fsynced when it was closed; its hint is written and fsynced
// as `<n>.hint.writing`, renamed into place, and the directory fsynced. A crash at any step
// leaves either no hint (recovery scans the segment) or a whole one; leftovers are removed
// at the next start.

#include <fmt/format.h>

#include <algorithm>

#include "base/failpoint.h"
#include "store/hint_file.h"
#include "store/log_store.h"

namespace kvs {

void LogStore::QueueHint(uint32_t id, bool rolled) {
  {
    MutexLock lock(&compactor_mu_);
    pending_hints_.push_back(PendingHint{id, rolled});
  }
  if (options_.background_compaction) compactor_cv_.Signal();
}

Status LogStore::WriteHints() { return WritePendingHints(/*rolled_only=*/false); }

Status LogStore::WritePendingHints(bool rolled_only) {
  // Under compact_mu_: a compaction cannot retire the segment (and unlink it and its hint)
  // while its hint is being written.
  MutexLock compacting(&compact_mu_);
  Status first_error;
  while (true) {
    // A closing store leaves the background's queue (which, after a start on an old data
    // directory, can hold every segment) and writes only the hints of rolled segments.
    if (!rolled_only && shutting_down_.load(std::memory_order_relaxed)) break;
    // A store that failed a write touches the disk no more (its writes and syncs cannot be
    // trusted); hints are optional.
    if (read_only_.load(std::memory_order_acquire)) break;
    uint32_t id = 0;
    {
      MutexLock lock(&compactor_mu_);
      auto it = std::find_if(pending_hints_.begin(), pending_hints_.end(),
                             [&](const PendingHint& h) { return h.rolled || !rolled_only; });
      if (it == pending_hints_.end()) break;
      id = it->id;
      pending_hints_.erase(it);
    }
    Status s = WriteHintLocked(id);
    if (!s.ok()) {
      // The segment keeps working without a hint; recovery will scan it.
      Warn(fmt::format("no hint file for {}: {}", SegmentPath(id), s.ToString()));
      if (first_error.ok()) first_error = s;
    }
  }
  return first_error;
}

Status LogStore::WriteHintLocked(uint32_t id) {
  std::shared_ptr<Segment> seg = FindSegment(id);
  // Gone (compacted away) or already described (a compaction output, or written before).
  if (seg == nullptr || !seg->hint_path.empty()) return Status::Ok();
  const std::string path = HintPath(id);
  const std::string tmp = path + std::string(log_format::kHintTempSuffix);
  (void)env_->Remove(tmp);  // a leftover of a failed attempt, if any
  Status s;
  {
    Result<std::unique_ptr<File>> out = env_->Open(tmp, OpenMode::kCreateNew);
    s = out.ok() ? WriteSegmentHint(*seg->file, std::move(out).value()) : out.status();
  }
  if (s.ok()) {
    KVS_FAILPOINT("hint.before_rename");
    s = env_->Rename(tmp, path);
  }
  if (!s.ok()) {
    (void)env_->Remove(tmp);
    return s;
  }
  // From here the hint is whole and in place (durable once the directory is): compaction
  // must unlink it with its segment.
  seg->hint_path = path;
  KVS_FAILPOINT("hint.before_dir_sync");
  return env_->SyncDir(dir_->path());
}

}  // namespace kvs
