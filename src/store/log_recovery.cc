// LogStore recovery: rebuild the index from the segments, cut a torn tail off the active
// segment, refuse (or, with --repair, drop) damaged records anywhere else.
//
// What counts as a torn tail (docs/FORMAT.md "Recovery"): in the newest segment, anything
// after the last complete write batch, provided no valid batch-start record follows the
// damage. A write that was never acknowledged can leave any bytes there (zeros, a prefix,
// pages out of order); a later complete batch after damaged bytes cannot come from a crash,
// so that is corruption.

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <map>
#include <set>
#include <thread>

#include "store/db_key.h"
#include "store/hint_file.h"
#include "store/log_store.h"
#include "store/record.h"
#include "store/segment_reader.h"

namespace kvs {

using log_format::kBatchEnd;
using log_format::kBatchStart;
using log_format::Kind;

struct LogStore::SegmentScan {
  struct Scanned {
    std::string key;
    IndexEntry entry;  // segment id filled in by the caller
    bool prefix = false;  // a prefix tombstone: never indexed
  };
  std::vector<Scanned> records;  // of complete batches only, in file order
  uint64_t valid_end = 0;        // end of the last complete batch
  uint64_t meta_bytes = 0;       // size of the kMeta record at offset 0 (compaction output)
  uint64_t file_size = 0;
  bool clean_end = true;  // nothing but zeros (or nothing) after valid_end
  bool corrupt = false;   // damage that is not a torn tail
  uint64_t bad_offset = 0;
  std::string reason;  // why the bytes at bad_offset are not a valid batch
};

// What recovering one segment found; filled on a recovery thread, merged in id order.
struct LogStore::RecoveryTally {
  Index::Loader* loader = nullptr;  // the recovery thread's: entries go to the index through it
  uint64_t max_seq = 0;
  // Prefix tombstones met (prefix, seq): applied once every segment is in the index.
  std::vector<std::pair<std::string, uint64_t>> prefixes;
  bool from_hint = false;
  uint64_t end = 0;         // where its valid records end
  uint64_t torn_bytes = 0;  // the active segment: bytes of a torn write after `end`
  std::string torn_reason;
  std::vector<std::string> warnings;
};

namespace {

// "<n><suffix>" -> n (n >= 1); nullopt for any other name.
std::optional<uint32_t> ParseFileName(std::string_view name, std::string_view suffix) {
  if (!name.ends_with(suffix)) return std::nullopt;
  std::string_view digits = name.substr(0, name.size() - suffix.size());
  uint32_t id = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || id == 0 || digits.empty() ||
      digits.front() == '0') {
    return std::nullopt;
  }
  return id;
}

constexpr std::string_view kRepairSuffix = ".repair";

}  // namespace

Result<LogStore::SegmentScan> LogStore::ScanSegment(const File& file, bool active) {
  SegmentScan scan;
  KVS_ASSIGN_OR_RETURN(scan.file_size, file.Size());
  SegmentReader reader(file, scan.file_size);
  std::vector<SegmentScan::Scanned> batch;  // records of the batch being read
  std::string scratch;
  uint64_t off = 0;
  std::optional<uint64_t> damage;  // offset where parsing stopped on bad bytes
  while (true) {
    KVS_ASSIGN_OR_RETURN(SegmentReader::Item item, reader.ReadAt(off));
    if (item.outcome == SegmentReader::Outcome::kEnd ||
        item.outcome == SegmentReader::Outcome::kZeroTail) {
      break;
    }
    if (item.outcome == SegmentReader::Outcome::kBad) {
      damage = off;
      scan.reason = item.reason;
      break;
    }
    const RecordHeader& h = item.record.header;
    if (h.kind() == Kind::kMeta) {
      // Only a compaction output's first record, a batch of its own; never indexed.
      if (off != 0 || !h.batch_start() || !h.batch_end()) {
        damage = off;
        scan.reason = "compaction meta record out of place";
        break;
      }
      off += h.record_size();
      scan.meta_bytes = off;
      scan.valid_end = off;
      continue;
    }
    if (h.batch_start() != batch.empty()) {
      damage = off;
      scan.reason = h.batch_start() ? "write batch interrupted by the start of another"
                                    : "record outside any write batch";
      break;
    }
    IndexEntry e;
    e.seq = h.seq;
    e.offset = off;
    e.value_len = h.kind() == Kind::kTombstone ? IndexEntry::kTombstoneLen : h.value_len;
    e.expire_at_ms = item.record.expire_at_ms;
    // The index holds engine keys: a record of an earlier kvs gets db 0's prefix here.
    batch.push_back({std::string(EngineKeyOf(h.key_has_db(), item.record.key, &scratch)), e,
                     h.key_is_prefix()});
    off += h.record_size();
    if (h.batch_end()) {
      std::move(batch.begin(), batch.end(), std::back_inserter(scan.records));
      batch.clear();
      scan.valid_end = off;
    }
  }
  if (!batch.empty() && !damage) {
    damage = scan.valid_end;
    scan.reason = "write batch cut short";
  }
  if (damage) {
    scan.bad_offset = *damage;
    scan.clean_end = false;
    if (!active) {
      scan.corrupt = true;
    } else {
      // Damage followed by the start of another batch cannot be a torn final write.
      KVS_ASSIGN_OR_RETURN(std::optional<uint64_t> next,
                           reader.FindNextValid(*damage + 1, /*require_batch_start=*/true));
      scan.corrupt = next.has_value();
    }
  }
  return scan;
}

Result<uint64_t> LogStore::RecoverSegment(uint32_t id, bool active, RecoveryTally* tally) {
  const std::string path = SegmentPath(id);
  KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                       env_->Open(path, active ? OpenMode::kReadWrite : OpenMode::kRead));
  KVS_ASSIGN_OR_RETURN(SegmentScan scan, ScanSegment(*file, active));
  if (scan.corrupt) {
    if (!options_.repair) {
      return Status::Corruption(
          fmt::format("{}: {} at offset {}; start with --repair to drop damaged records", path,
                      scan.reason, scan.bad_offset));
    }
    file.reset();
    KVS_RETURN_IF_ERROR(RepairSegment(id, tally));
    return RecoverSegment(id, active, tally);
  }
  if (!scan.clean_end) {
    // A torn final write: never acknowledged (its sync never finished), so it is cut off
    // (RecoverSegments), once every other segment has been read without error.
    tally->torn_bytes = scan.file_size - scan.valid_end;
    tally->torn_reason = std::move(scan.reason);
  }
  for (SegmentScan::Scanned& r : scan.records) {
    r.entry.segment = id;
    tally->max_seq = std::max(tally->max_seq, r.entry.seq);
    if (r.prefix) {
      tally->prefixes.emplace_back(std::move(r.key), r.entry.seq);
      continue;
    }
    // Sequence numbers decide, whatever the file order; tombstones stay in the index until
    // every segment is read, so that an older put read later cannot resurrect the key. So
    // do expired puts, which shadow older records of their key just as tombstones do.
    tally->loader->Upsert(r.key, r.entry);
  }
  auto seg = std::make_shared<Segment>(env_, id, std::move(file));
  seg->bytes.store(scan.valid_end, std::memory_order_relaxed);
  seg->meta_bytes = scan.meta_bytes;
  WriterLock lock(&segments_mu_);
  segments_[id] = std::move(seg);
  return scan.valid_end;
}

Status LogStore::RepairSegment(uint32_t id, RecoveryTally* tally) {
  const std::string path = SegmentPath(id);
  const std::string tmp_path = path + std::string(kRepairSuffix);
  KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> in, env_->Open(path, OpenMode::kRead));
  KVS_ASSIGN_OR_RETURN(uint64_t size, in->Size());
  KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> out, env_->Open(tmp_path, OpenMode::kCreate));
  KVS_RETURN_IF_ERROR(out->Truncate(0));

  SegmentReader reader(*in, size);
  std::string buf;
  std::string scratch;
  uint64_t out_offset = 0, kept = 0, regions = 0, dropped_bytes = 0;
  auto flush = [&]() -> Status {
    KVS_RETURN_IF_ERROR(out->PWrite(out_offset, buf));
    out_offset += buf.size();
    buf.clear();
    return Status::Ok();
  };
  for (uint64_t off = 0; off < size;) {
    KVS_ASSIGN_OR_RETURN(SegmentReader::Item item, reader.ReadAt(off));
    if (item.outcome == SegmentReader::Outcome::kEnd ||
        item.outcome == SegmentReader::Outcome::kZeroTail) {
      break;
    }
    if (item.outcome == SegmentReader::Outcome::kBad) {
      KVS_ASSIGN_OR_RETURN(std::optional<uint64_t> next,
                           reader.FindNextValid(off + 1, /*require_batch_start=*/false));
      const uint64_t resume = next.value_or(size);
      ++regions;
      dropped_bytes += resume - off;
      off = resume;
      continue;
    }
    // Every kept record becomes a batch of its own: the batch it belonged to may have lost
    // members, and a half batch must still read back as whole records. A record of an
    // earlier kvs is rewritten in the current form (its engine key, kKeyHasDb); the kMeta
    // record of a compaction output is kept as it is.
    const RecordView& r = item.record;
    const std::string_view key = r.header.kind() == Kind::kMeta
                                     ? r.key
                                     : EngineKeyOf(r.header.key_has_db(), r.key, &scratch);
    const uint8_t prefix = r.header.key_is_prefix() ? log_format::kKeyIsPrefix : 0;
    AppendRecord(&buf, r.header.seq, r.header.kind(), kBatchStart | kBatchEnd | prefix, key,
                 r.value, r.expire_at_ms);  // its expiry time kept
    ++kept;
    off += r.header.record_size();
    if (buf.size() >= (4u << 20)) KVS_RETURN_IF_ERROR(flush());
  }
  KVS_RETURN_IF_ERROR(flush());
  KVS_RETURN_IF_ERROR(out->Sync());
  out.reset();
  in.reset();
  // A hint of the segment (it was unusable, or the segment would not be scanned) describes
  // the old contents: it goes first.
  if (Result<bool> hint = env_->Exists(HintPath(id)); hint.ok() && *hint) {
    KVS_RETURN_IF_ERROR(env_->Remove(HintPath(id)));
  }
  KVS_RETURN_IF_ERROR(env_->Rename(tmp_path, path));
  KVS_RETURN_IF_ERROR(env_->SyncDir(dir_->path()));
  tally->warnings.push_back(
      fmt::format("repair: {}: kept {} records, dropped {} damaged region(s), {} bytes", path, kept,
                  regions, dropped_bytes));
  return Status::Ok();
}

Result<bool> LogStore::RecoverFromHint(uint32_t id, uint64_t meta_bytes, RecoveryTally* tally) {
  const std::string hint_path = HintPath(id);
  KVS_ASSIGN_OR_RETURN(bool exists, env_->Exists(hint_path));
  if (!exists) return false;
  KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> file, env_->Open(SegmentPath(id), OpenMode::kRead));
  KVS_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  // A hint only saves reading the segment: one that cannot be read (an I/O error) is no
  // reason to refuse the start. Entries handed out before such an error are the segment's
  // own records, which the scan upserts again, identically.
  auto unreadable = [&](const Status& error) {
    tally->warnings.push_back(fmt::format("ignoring unreadable hint file ({}); reading {} instead",
                                          error.ToString(), file->path()));
    return false;
  };
  Result<std::unique_ptr<File>> hint = env_->Open(hint_path, OpenMode::kRead);
  if (!hint.ok()) return unreadable(hint.status());
  // All or nothing: ReadHintFile checks the whole file before the first callback.
  std::string scratch;  // the engine key of an entry of an earlier kvs (db 0)
  Status s = ReadHintFile(**hint, size, [&](const HintEntry& e) {
    tally->max_seq = std::max(tally->max_seq, e.seq);
    if (e.key_is_prefix) {
      tally->prefixes.emplace_back(e.key, e.seq);
      return;
    }
    IndexEntry entry{e.seq, e.offset, id,
                     e.kind == Kind::kTombstone ? IndexEntry::kTombstoneLen : e.value_len,
                     e.expire_at_ms};
    tally->loader->Upsert(EngineKeyOf(e.key_has_db, e.key, &scratch), entry);
  });
  if (!s.ok()) {
    if (!s.IsCorruption()) return unreadable(s);
    tally->warnings.push_back(fmt::format("ignoring damaged hint file ({}); reading {} instead",
                                          s.message(), file->path()));
    return false;
  }
  auto seg = std::make_shared<Segment>(env_, id, std::move(file));
  seg->bytes.store(size, std::memory_order_relaxed);
  seg->meta_bytes = meta_bytes;
  seg->hint_path = hint_path;
  WriterLock lock(&segments_mu_);
  segments_[id] = std::move(seg);
  return true;
}

Status LogStore::RecoverSegments(const std::vector<uint32_t>& ids, uint32_t active_id,
                                 const std::map<uint32_t, uint64_t>& outputs,
                                 uint64_t* active_end) {
  // Sized up front, so that no shard grows (and rehashes) while loading: the hint trailers
  // count the entries of hinted segments, and the others are assumed to hold as many
  // records per byte. Keys overwritten in several segments are counted more than once.
  uint64_t hinted_entries = 0, hinted_bytes = 0, other_bytes = 0;
  for (uint32_t id : ids) {
    KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> segment,
                         env_->Open(SegmentPath(id), OpenMode::kRead));
    KVS_ASSIGN_OR_RETURN(uint64_t bytes, segment->Size());
    KVS_ASSIGN_OR_RETURN(bool hinted, env_->Exists(HintPath(id)));
    if (!hinted || id == active_id) {
      other_bytes += bytes;
      continue;
    }
    // An unreadable hint: the segment will be scanned (RecoverFromHint says why).
    Result<std::unique_ptr<File>> hint = env_->Open(HintPath(id), OpenMode::kRead);
    Result<uint64_t> count = hint.ok() ? HintEntryCount(**hint) : hint.status();
    if (!count.ok()) {
      other_bytes += bytes;
      continue;
    }
    hinted_entries += *count;
    hinted_bytes += bytes;
  }
  if (hinted_bytes > 0) {
    const double per_byte = static_cast<double>(hinted_entries) / static_cast<double>(hinted_bytes);
    index_.Reserve(hinted_entries +
                   static_cast<uint64_t>(per_byte * static_cast<double>(other_bytes)));
  }

  // Segments load in parallel: the index is thread-safe and the sequence numbers decide
  // between records of a key whatever the order they arrive in, as they do in one thread.
  struct Task {
    uint32_t id;
    bool active;
    RecoveryTally tally;
    Status status;
  };
  std::vector<Task> tasks;
  for (uint32_t id : ids) tasks.push_back(Task{id, id == active_id, {}, {}});
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> tombstones{0};  // that entered the index
  std::atomic<uint64_t> expiring{0};    // puts with an expiry time that entered the index
  auto work = [&] {
    Index::Loader loader(&index_);
    for (size_t i; (i = next.fetch_add(1)) < tasks.size();) {
      Task& t = tasks[i];
      t.tally.loader = &loader;
      // --repair reads every segment, hinted or not: a hint spares reading the records, so
      // it would hide the damage repair is asked to find (issue 16).
      if (!t.active && !options_.repair) {
        auto out = outputs.find(t.id);
        Result<bool> from_hint =
            RecoverFromHint(t.id, out == outputs.end() ? 0 : out->second, &t.tally);
        if (!from_hint.ok() || *from_hint) {
          t.status = from_hint.status();
          t.tally.from_hint = from_hint.ok();
          continue;
        }
      }
      Result<uint64_t> end = RecoverSegment(t.id, t.active, &t.tally);
      t.status = end.status();
      if (end.ok()) t.tally.end = *end;
    }
    loader.Flush();
    tombstones.fetch_add(loader.stored_tombstones());
    expiring.fetch_add(loader.stored_expiring());
  };
  {
    const size_t threads =
        std::min<size_t>(tasks.size(), std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::jthread> helpers;
    for (size_t i = 1; i < threads; ++i) helpers.emplace_back(work);
    work();
  }  // joined

  // Every segment is read. In one pass over the index: tombstones have done their job, as
  // have puts whose expiry time has passed (they shadowed every older record of their key
  // while loading; dropping them now writes nothing, and compaction never copies them), and
  // prefix tombstones (FLUSHDB) remove what is older than them, whichever segment holds it
  // (per prefix only the newest matters).
  std::map<std::string, uint64_t> prefixes;
  for (const Task& t : tasks) {
    for (const auto& [prefix, seq] : t.tally.prefixes) {
      uint64_t& newest = prefixes[prefix];
      newest = std::max(newest, seq);
    }
  }
  if (tombstones.load() > 0 || expiring.load() > 0 || !prefixes.empty()) {
    const int64_t now = NowMs();
    index_.EraseIf([&](std::string_view key, const IndexEntry& e) {
      if (e.tombstone() || e.ExpiredAt(now)) return true;
      for (const auto& [prefix, seq] : prefixes) {
        if (e.seq < seq && key.starts_with(prefix)) return true;
      }
      return false;
    });
  }

  // In id order, as one thread would have met them: warnings, then the first error.
  for (Task& t : tasks) {
    for (const std::string& w : t.tally.warnings) Warn(w);
    KVS_RETURN_IF_ERROR(t.status);
    next_seq_ = std::max(next_seq_, t.tally.max_seq + 1);
    if (t.tally.from_hint) {
      ++recovery_stats_.segments_from_hints;
      continue;
    }
    ++recovery_stats_.segments_scanned;
    if (!t.active) {
      QueueHint(t.id, /*rolled=*/false);  // a closed segment without a usable hint gets one
      continue;
    }
    *active_end = t.tally.end;
    if (t.tally.torn_bytes > 0) {
      // Cut before new records are written over that range, and durably so.
      const std::shared_ptr<Segment> seg = FindSegment(t.id);
      Warn(fmt::format("{}: discarding {} bytes of an incomplete write at offset {} ({})",
                       seg->file->path(), t.tally.torn_bytes, t.tally.end, t.tally.torn_reason));
      KVS_RETURN_IF_ERROR(seg->file->Truncate(t.tally.end));
      KVS_RETURN_IF_ERROR(seg->file->Sync());
    }
  }
  return Status::Ok();
}

Status LogStore::RecoverCompactions(std::vector<uint32_t>* ids,
                                    std::map<uint32_t, uint64_t>* outputs, bool* changed) {
  // Which segments are compaction outputs: those whose first record is a kMeta record.
  std::map<uint32_t, CompactionMeta> metas;
  for (uint32_t id : *ids) {
    KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> file, env_->Open(SegmentPath(id), OpenMode::kRead));
    // One small read: only the first record matters here.
    std::string head(kMetaRecordSize, '\0');
    KVS_ASSIGN_OR_RETURN(size_t n, file->PRead(0, head));
    RecordHeader header;
    if (n < log_format::kHeaderSize || DecodeHeader(head, &header) != HeaderCheck::kOk ||
        header.kind() != Kind::kMeta) {
      continue;  // a writer's segment (or damage, which the scan reports)
    }
    RecordView record;
    CompactionMeta meta;
    if (header.record_size() != n || !VerifyRecord(head, header, &record)) {
      // A damaged meta record: ordinary damage, which the scan reports (or repair drops).
      // What it would have said, its siblings say (below).
      continue;
    }
    if (record.key != log_format::kMetaKey || !DecodeCompactionMeta(record.value, &meta) ||
        meta.segment_id() != id) {
      // Checksummed, so not a flipped byte: written wrong. Nothing here can be trusted.
      return Status::Corruption(
          fmt::format("{}: malformed compaction meta record at offset 0", file->path()));
    }
    metas[id] = meta;
  }
  // A compaction is complete when all of its outputs F .. F+N-1 are in place: the renames
  // go in order and the last one commits it; no input is removed before. So it is complete
  // when every one of those files exists, whether or not each meta record still reads
  // (one damaged by a flipped byte must not make the others look orphaned: once the inputs
  // are gone they hold the only copy). Writers never use those ids (docs/COMPACTION.md).
  // The newest complete one replaces every segment below its first output: older segments,
  // and outputs of earlier compactions, are all superseded.
  auto exists = [&](uint32_t id) { return std::binary_search(ids->begin(), ids->end(), id); };
  uint32_t floor = 0;
  std::set<uint32_t> complete;  // ids of the outputs of complete compactions
  for (const auto& [id, meta] : metas) {
    bool all = true;
    for (uint32_t i = 0; i < meta.output_count && all; ++i) {
      auto it = metas.find(meta.first_output + i);
      const bool sibling = it != metas.end() && it->second.first_output == meta.first_output &&
                           it->second.output_count == meta.output_count;
      // A present output whose meta does not read counts; one that names another
      // compaction does not.
      all = sibling || (it == metas.end() && exists(meta.first_output + i));
    }
    if (!all) continue;
    floor = std::max(floor, meta.first_output);
    for (uint32_t i = 0; i < meta.output_count; ++i) complete.insert(meta.first_output + i);
  }
  std::vector<uint32_t> keep;
  uint64_t superseded = 0, orphaned = 0;
  std::map<uint32_t, bool> undone;  // first output -> seen
  for (uint32_t id : *ids) {
    auto meta = metas.find(id);
    const bool is_complete_output = complete.count(id) > 0;
    const bool incomplete_output = meta != metas.end() && !is_complete_output;
    if (id < floor || incomplete_output) {
      if (id < floor) {
        ++superseded;
      } else {
        // Not all of its outputs were renamed into place: not committed, so every input is
        // still here and these outputs are copies. (Every output of the set has a readable
        // meta record here; an unreadable one in an incomplete set stays, for the scan.)
        ++orphaned;
        undone[meta->second.first_output] = true;
      }
      KVS_RETURN_IF_ERROR(env_->Remove(SegmentPath(id)));  // its hint goes as a stray one
      *changed = true;
      continue;
    }
    keep.push_back(id);
    // With its meta record's bytes, where that reads (a damaged one is dead bytes until
    // repair drops it).
    if (is_complete_output) (*outputs)[id] = meta != metas.end() ? kMetaRecordSize : 0;
  }
  if (superseded > 0) {
    ++recovery_stats_.compactions_finished;
    Warn(fmt::format("finishing an interrupted compaction: removed {} segment(s) below {}",
                     superseded, floor));
  }
  if (orphaned > 0) {
    recovery_stats_.compactions_undone += undone.size();
    Warn(fmt::format("undoing an interrupted compaction: removed {} incomplete output(s)",
                     orphaned));
  }
  *ids = std::move(keep);
  return Status::Ok();
}

Status LogStore::Recover() {
  KVS_ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir_->path()));
  std::vector<uint32_t> ids;
  std::vector<uint32_t> hints;
  bool changed = false;
  for (const std::string& name : names) {
    if (name.ends_with(kRepairSuffix) || name.ends_with(log_format::kCompactingSuffix) ||
        name.ends_with(log_format::kHintTempSuffix)) {
      // An interrupted repair, compaction or hint: the segments it read are still in place.
      KVS_RETURN_IF_ERROR(env_->Remove(dir_->File(name)));
      changed = true;
      continue;
    }
    if (auto id = ParseFileName(name, log_format::kSegmentSuffix)) ids.push_back(*id);
    if (auto id = ParseFileName(name, log_format::kHintSuffix)) hints.push_back(*id);
  }
  std::sort(ids.begin(), ids.end());
  std::map<uint32_t, uint64_t> outputs;
  KVS_RETURN_IF_ERROR(RecoverCompactions(&ids, &outputs, &changed));
  // The active segment is the highest one, the only one whose tail may be torn. Compaction
  // outputs always sit below it (docs/COMPACTION.md), but should the highest be one, it is
  // left closed and a fresh active segment is made above it.
  const bool output_on_top = !ids.empty() && outputs.count(ids.back()) > 0;
  const uint32_t active_id = ids.empty() || output_on_top ? 0 : ids.back();
  for (uint32_t id : hints) {
    // A hint whose segment is gone: left by an unlink cut short. A hint of the active
    // segment: it is about to change, so no hint can describe it.
    if (!std::binary_search(ids.begin(), ids.end(), id) || id == active_id) {
      KVS_RETURN_IF_ERROR(env_->Remove(HintPath(id)));
      changed = true;
    }
  }
  if (changed) KVS_RETURN_IF_ERROR(env_->SyncDir(dir_->path()));

  MutexLock lock(&write_mu_);  // uncontended: no other thread runs yet
  if (ids.empty()) {
    KVS_ASSIGN_OR_RETURN(std::shared_ptr<Segment> first, CreateSegmentFile(1));
    InstallActiveLocked(std::move(first), 0);
    return Status::Ok();
  }

  uint64_t active_end = 0;
  KVS_RETURN_IF_ERROR(RecoverSegments(ids, active_id, outputs, &active_end));
  // A record of an earlier kvs (no database prefix) is a byte shorter than its engine key
  // makes it here: until a compaction rewrites it, live bytes count it a byte high, and dead
  // bytes a byte low.
  uint64_t live = 0;
  std::map<uint32_t, DbKeyCount> per_db;
  index_.ForEach([&](std::string_view key, const IndexEntry& e) {
    live += RecordSize(key.size(), e.value_len);
    uint32_t db = 0;
    std::string_view user_key;
    if (DecodeDbKey(key, &db, &user_key)) {
      DbKeyCount& count = per_db[db];
      ++count.keys;
      if (e.has_expiry()) ++count.expires;
    }
  });
  db_keys_.Reset(std::move(per_db));
  uint64_t disk = 0, meta = 0;
  {
    ReaderLock segs(&segments_mu_);
    for (const auto& [id, seg] : segments_) {
      disk += seg->bytes.load(std::memory_order_relaxed);
      meta += seg->meta_bytes;
    }
  }
  live_bytes_.store(live);
  disk_bytes_.store(disk);
  meta_bytes_.store(meta);

  if (output_on_top) {
    KVS_ASSIGN_OR_RETURN(std::shared_ptr<Segment> fresh, CreateSegmentFile(ids.back() + 1));
    InstallActiveLocked(std::move(fresh), 0);
    return Status::Ok();
  }
  std::shared_ptr<Segment> active = FindSegment(ids.back());
  Preallocate(*active->file, active_end);
  InstallActiveLocked(std::move(active), active_end);
  return Status::Ok();
}

}  // namespace kvs
