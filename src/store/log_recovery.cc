// LogStore recovery: rebuild the index from the segments, cut a torn tail off the active
// segment, refuse (or, with --repair, drop) damaged records anywhere else.
//
// What counts as a torn tail (docs/FORMAT.md "Recovery"): in the newest segment, anything
// after the last complete write batch, provided no valid batch-start record follows the
// damage. A write that was never acknowledged can leave any bytes there (zeros, a prefix,
// pages out of order); a later complete batch after damaged bytes cannot come from a crash,
// so that is corruption.

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

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
  };
  std::vector<Scanned> records;  // of complete batches only, in file order
  uint64_t valid_end = 0;        // end of the last complete batch
  uint64_t file_size = 0;
  bool clean_end = true;         // nothing but zeros (or nothing) after valid_end
  bool corrupt = false;          // damage that is not a torn tail
  uint64_t bad_offset = 0;
  std::string reason;            // why the bytes at bad_offset are not a valid batch
};

namespace {

// "<n>.log" -> n (n >= 1); nullopt for any other name.
std::optional<uint32_t> ParseSegmentName(std::string_view name) {
  if (!name.ends_with(log_format::kSegmentSuffix)) return std::nullopt;
  std::string_view digits = name.substr(0, name.size() - log_format::kSegmentSuffix.size());
  uint32_t id = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || id == 0 ||
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
    batch.push_back({std::string(item.record.key), e});
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

Result<uint64_t> LogStore::RecoverSegment(uint32_t id, bool active) {
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
    KVS_RETURN_IF_ERROR(RepairSegment(id));
    return RecoverSegment(id, active);
  }
  if (!scan.clean_end) {
    // A torn final write: never acknowledged (its sync never finished), so cut it off. The
    // cut must be durable before new records are written over that range.
    Warn(fmt::format("{}: discarding {} bytes of an incomplete write at offset {} ({})", path,
                     scan.file_size - scan.valid_end, scan.valid_end, scan.reason));
    KVS_RETURN_IF_ERROR(file->Truncate(scan.valid_end));
    KVS_RETURN_IF_ERROR(file->Sync());
  }
  for (SegmentScan::Scanned& r : scan.records) {
    r.entry.segment = id;
    // Sequence numbers decide, whatever the file order; tombstones stay in the index until
    // every segment is read, so that an older put read later cannot resurrect the key.
    index_.Upsert(r.key, r.entry);
    next_seq_ = std::max(next_seq_, r.entry.seq + 1);
  }
  auto seg = std::make_shared<Segment>();
  seg->id = id;
  seg->file = std::move(file);
  std::unique_lock lock(segments_mu_);
  segments_[id] = std::move(seg);
  return scan.valid_end;
}

Status LogStore::RepairSegment(uint32_t id) {
  const std::string path = SegmentPath(id);
  const std::string tmp_path = path + std::string(kRepairSuffix);
  KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> in, env_->Open(path, OpenMode::kRead));
  KVS_ASSIGN_OR_RETURN(uint64_t size, in->Size());
  KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> out, env_->Open(tmp_path, OpenMode::kCreate));
  KVS_RETURN_IF_ERROR(out->Truncate(0));

  SegmentReader reader(*in, size);
  std::string buf;
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
    // members, and a half batch must still read back as whole records.
    const RecordView& r = item.record;
    AppendRecord(&buf, r.header.seq, r.header.kind(), kBatchStart | kBatchEnd, r.key, r.value);
    ++kept;
    off += r.header.record_size();
    if (buf.size() >= (4u << 20)) KVS_RETURN_IF_ERROR(flush());
  }
  KVS_RETURN_IF_ERROR(flush());
  KVS_RETURN_IF_ERROR(out->Sync());
  out.reset();
  in.reset();
  KVS_RETURN_IF_ERROR(env_->Rename(tmp_path, path));
  KVS_RETURN_IF_ERROR(env_->SyncDir(dir_->path()));
  Warn(fmt::format("repair: {}: kept {} records, dropped {} damaged region(s), {} bytes", path,
                   kept, regions, dropped_bytes));
  return Status::Ok();
}

Status LogStore::Recover() {
  KVS_ASSIGN_OR_RETURN(std::vector<std::string> names, env_->ListDir(dir_->path()));
  std::vector<uint32_t> ids;
  for (const std::string& name : names) {
    if (name.ends_with(kRepairSuffix)) {
      // An interrupted repair: the original segment is still in place, untouched.
      KVS_RETURN_IF_ERROR(env_->Remove(dir_->File(name)));
      continue;
    }
    if (auto id = ParseSegmentName(name)) ids.push_back(*id);
  }
  std::sort(ids.begin(), ids.end());

  std::lock_guard lock(write_mu_);
  if (ids.empty()) return CreateSegmentLocked(1);

  uint64_t closed = 0, active_end = 0;
  for (uint32_t id : ids) {
    const bool active = id == ids.back();
    KVS_ASSIGN_OR_RETURN(uint64_t end, RecoverSegment(id, active));
    (active ? active_end : closed) += end;
  }
  // Every segment is read: tombstones have done their job in the index.
  index_.EraseIf([](std::string_view, const IndexEntry& e) { return e.tombstone(); });
  uint64_t live = 0;
  index_.ForEach([&](std::string_view key, const IndexEntry& e) {
    live += RecordSize(key.size(), e.value_len);
  });
  live_bytes_.store(live);
  dead_bytes_.store(closed + active_end - live);
  closed_bytes_.store(closed);

  active_ = FindSegment(ids.back());
  write_offset_ = active_end;
  active_bytes_.store(active_end);
  Preallocate(*active_->file, active_end);
  return Status::Ok();
}

}  // namespace kvs
