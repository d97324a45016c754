#include "store/hint_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "store/chunked_file.h"
#include "store/coding.h"
#include "store/crc32c.h"
#include "store/engine.h"
#include "store/record.h"
#include "store/segment_reader.h"

namespace kvs {

using log_format::kHintEntryHeaderSize;
using log_format::kHintMagic;
using log_format::kHintMagicV1;
using log_format::kHintTrailerSize;

namespace {
constexpr size_t kFlushBytes = 1 << 20;
}  // namespace

HintWriter::HintWriter(std::unique_ptr<File> file) : file_(std::move(file)) {
  buf_.append(kHintMagic);
}

Status HintWriter::Add(const HintEntry& e) {
  const size_t start = buf_.size();
  const bool expiry = e.expire_at_ms != 0;
  buf_.resize(start + kHintEntryHeaderSize + (expiry ? log_format::kExpiryBytes : 0));
  char* p = buf_.data() + start;
  PutFixed32(p, static_cast<uint32_t>(e.key.size()));
  p[4] = static_cast<char>(static_cast<uint8_t>(e.kind) |
                           (e.key_has_db ? log_format::kKeyHasDb : uint8_t{0}) |
                           (e.key_is_prefix ? log_format::kKeyIsPrefix : uint8_t{0}) |
                           (expiry ? log_format::kHasExpiry : uint8_t{0}));
  PutFixed64(p + 5, e.seq);
  PutFixed64(p + 13, e.offset);
  PutFixed32(p + 21, e.value_len);
  if (expiry) PutFixed64(p + kHintEntryHeaderSize, static_cast<uint64_t>(e.expire_at_ms));
  buf_.append(e.key);
  ++count_;
  return buf_.size() >= kFlushBytes ? Flush() : Status::Ok();
}

Status HintWriter::Flush() {
  crc_ = crc32c::Extend(crc_, buf_.data(), buf_.size());
  KVS_RETURN_IF_ERROR(file_->PWrite(written_, buf_));
  written_ += buf_.size();
  buf_.clear();
  return Status::Ok();
}

Status HintWriter::Finish(uint64_t segment_size) {
  char trailer[kHintTrailerSize];
  PutFixed64(trailer, count_);
  PutFixed64(trailer + 8, segment_size);
  buf_.append(trailer, 16);  // the checksum goes after the bytes it covers
  const uint32_t crc = crc32c::Extend(crc_, buf_.data(), buf_.size());
  char masked[4];
  PutFixed32(masked, crc32c::Mask(crc));
  buf_.append(masked, 4);
  KVS_RETURN_IF_ERROR(file_->PWrite(written_, buf_));
  written_ += buf_.size();
  buf_.clear();
  return file_->Sync();
}

Status WriteSegmentHint(const File& segment, std::unique_ptr<File> out) {
  KVS_ASSIGN_OR_RETURN(uint64_t size, segment.Size());
  SegmentReader reader(segment, size);
  HintWriter writer(std::move(out));
  auto bad = [&](uint64_t offset, std::string_view why) {
    return Status::Corruption(fmt::format("{}: {} at offset {}", segment.path(), why, offset));
  };
  // Entries of the batch being read: a hint lists complete batches only, as a scan would.
  std::vector<std::pair<std::string, HintEntry>> batch;
  uint64_t off = 0;
  while (true) {
    KVS_ASSIGN_OR_RETURN(SegmentReader::Item item, reader.ReadAt(off));
    if (item.outcome == SegmentReader::Outcome::kEnd) break;
    if (item.outcome == SegmentReader::Outcome::kZeroTail) {
      return bad(off, "zeros after the records");
    }
    if (item.outcome == SegmentReader::Outcome::kBad) return bad(off, item.reason);
    const RecordHeader& h = item.record.header;
    if (h.kind() == log_format::Kind::kMeta) {
      // A compaction output's first record, a batch of its own; not an entry.
      if (off != 0 || !h.batch_start() || !h.batch_end()) {
        return bad(off, "compaction meta record out of place");
      }
      off += h.record_size();
      continue;
    }
    if (h.batch_start() != batch.empty()) return bad(off, "write batch not well formed");
    batch.emplace_back(std::string(item.record.key),
                       HintEntry{{}, h.kind(), h.seq, off, h.value_len, h.key_has_db(),
                                 h.key_is_prefix(), item.record.expire_at_ms});
    off += h.record_size();
    if (!h.batch_end()) continue;
    for (auto& [key, entry] : batch) {
      entry.key = key;
      KVS_RETURN_IF_ERROR(writer.Add(entry));
    }
    batch.clear();
  }
  if (!batch.empty()) return bad(off, "write batch cut short");
  return writer.Finish(size);
}

Status ReadHintFile(const File& file, uint64_t segment_size,
                    const std::function<void(const HintEntry&)>& fn) {
  KVS_ASSIGN_OR_RETURN(uint64_t size, file.Size());
  auto bad = [&](std::string_view why) {
    return Status::Corruption(fmt::format("{}: {}", file.path(), why));
  };
  if (size < kHintMagic.size() + kHintTrailerSize) return bad("too short for a hint file");
  // Streamed through one chunk buffer, whatever the file's size: the checksum first, then
  // every entry checked, then handed out (all or nothing).
  ChunkedFile in(file, size);
  KVS_ASSIGN_OR_RETURN(std::string_view magic, in.Fetch(0, kHintMagic.size()));
  if (magic != kHintMagic && magic != kHintMagicV1) return bad("bad magic");
  static_assert(kHintMagicV1.size() == kHintMagic.size());
  // A version 1 hint comes from before databases: no entry may claim an engine key.
  const uint8_t kind_bits = magic == kHintMagic ? log_format::kHintKindBits : log_format::kKindMask;
  uint32_t crc = 0;
  for (uint64_t off = 0; off < size - 4;) {
    KVS_ASSIGN_OR_RETURN(std::string_view chunk,
                         in.Fetch(off, std::min<uint64_t>(ChunkedFile::kChunk, size - 4 - off)));
    if (chunk.empty()) return bad("shorter than its size");
    crc = crc32c::Extend(crc, chunk.data(), chunk.size());
    off += chunk.size();
  }
  KVS_ASSIGN_OR_RETURN(std::string_view trailer,
                       in.Fetch(size - kHintTrailerSize, kHintTrailerSize));
  if (trailer.size() != kHintTrailerSize) return bad("shorter than its size");
  if (crc32c::Unmask(GetFixed32(trailer.data() + 16)) != crc) return bad("checksum mismatch");
  const uint64_t count = GetFixed64(trailer.data());
  const uint64_t described = GetFixed64(trailer.data() + 8);
  if (described != segment_size) {
    return bad(fmt::format("describes a segment of {} bytes, not {}", described, segment_size));
  }
  const uint64_t end = size - kHintTrailerSize;
  for (int pass = 0; pass < 2; ++pass) {
    uint64_t entries = 0;
    // A chunk at a time: each entry is parsed where it lies in the chunk; the one that
    // straddles the chunk's end starts the next chunk.
    for (uint64_t off = kHintMagic.size(); off < end;) {
      KVS_ASSIGN_OR_RETURN(std::string_view chunk,
                           in.Fetch(off, std::min<uint64_t>(ChunkedFile::kChunk, end - off)));
      if (chunk.size() != std::min<uint64_t>(ChunkedFile::kChunk, end - off)) {
        return bad("shorter than its size");
      }
      size_t pos = 0;
      while (chunk.size() - pos >= kHintEntryHeaderSize) {
        const char* p = chunk.data() + pos;
        HintEntry e;
        const uint32_t key_len = GetFixed32(p);
        if (key_len > chunk.size() - pos - kHintEntryHeaderSize) break;  // in the next chunk
        const auto kind_byte = static_cast<uint8_t>(p[4]);
        const bool expiry = (kind_byte & log_format::kHasExpiry) != 0;
        const size_t header = kHintEntryHeaderSize + (expiry ? log_format::kExpiryBytes : 0);
        if (chunk.size() - pos < header || key_len > chunk.size() - pos - header) break;
        e.kind = static_cast<log_format::Kind>(kind_byte & log_format::kKindMask);
        e.key_has_db = (kind_byte & log_format::kKeyHasDb) != 0;
        e.key_is_prefix = (kind_byte & log_format::kKeyIsPrefix) != 0;
        e.seq = GetFixed64(p + 5);
        e.offset = GetFixed64(p + 13);
        e.value_len = GetFixed32(p + 21);
        if (expiry) e.expire_at_ms = static_cast<int64_t>(GetFixed64(p + kHintEntryHeaderSize));
        // The limits of a record (record.cc DecodeHeader).
        if ((key_len == 0 && !e.key_is_prefix) ||
            (e.key_is_prefix && (e.kind != log_format::Kind::kTombstone || !e.key_has_db)) ||
            key_len > (e.key_has_db ? kMaxKeyBytes : kMaxUserKeyBytes) ||
            e.seq == 0 || (kind_byte & ~kind_bits) != 0 ||
            (e.kind != log_format::Kind::kPut && e.kind != log_format::Kind::kTombstone) ||
            e.value_len > kMaxValueBytes + (expiry ? log_format::kExpiryBytes : 0) ||
            (expiry && (e.kind != log_format::Kind::kPut || !e.key_has_db ||
                        e.value_len < log_format::kExpiryBytes || e.expire_at_ms <= 0)) ||
            (e.kind == log_format::Kind::kTombstone && e.value_len != 0) ||
            e.offset > segment_size || RecordSize(key_len, e.value_len) > segment_size - e.offset) {
          return bad(fmt::format("malformed entry at {}", off + pos));
        }
        e.key = std::string_view(p + header, key_len);
        if (pass == 1) fn(e);
        pos += header + key_len;
        ++entries;
      }
      // A chunk holds at least one whole entry (an entry is far smaller than a chunk), unless
      // the entries end before the trailer does.
      if (pos == 0) return bad(fmt::format("entry cut at {}", off));
      off += pos;
    }
    if (entries != count) {
      return bad(fmt::format("holds {} entries, trailer says {}", entries, count));
    }
  }
  return Status::Ok();
}

Result<uint64_t> HintEntryCount(const File& file) {
  KVS_ASSIGN_OR_RETURN(uint64_t size, file.Size());
  if (size < kHintMagic.size() + kHintTrailerSize) return uint64_t{0};
  char count[8];
  KVS_ASSIGN_OR_RETURN(size_t n, file.PRead(size - kHintTrailerSize, count));
  if (n != sizeof count) return uint64_t{0};
  // Unverified: never more than the entries that fit in the file.
  return std::min<uint64_t>(GetFixed64(count), size / kHintEntryHeaderSize);
}

}  // namespace kvs
