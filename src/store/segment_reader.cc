#include "store/segment_reader.h"

#include <algorithm>

#include <fmt/format.h>

namespace kvs {

using log_format::kHeaderSize;

Result<SegmentReader::Item> SegmentReader::ReadAt(uint64_t offset) {
  Item item;
  item.offset = offset;
  if (offset >= size_) {
    item.outcome = Outcome::kEnd;
    return item;
  }
  KVS_ASSIGN_OR_RETURN(std::string_view head, chunks_.Fetch(offset, kHeaderSize));
  RecordHeader header;
  if (head.size() < kHeaderSize) {
    KVS_ASSIGN_OR_RETURN(bool zeros, AllZeroFrom(offset));
    item.outcome = zeros ? Outcome::kZeroTail : Outcome::kBad;
    item.reason = fmt::format("truncated record header ({} of {} bytes)", head.size(), kHeaderSize);
    return item;
  }
  switch (DecodeHeader(head, &header)) {
    case HeaderCheck::kZero: {
      KVS_ASSIGN_OR_RETURN(bool zeros, AllZeroFrom(offset));
      item.outcome = zeros ? Outcome::kZeroTail : Outcome::kBad;
      item.reason = "zeroed record header followed by data";
      return item;
    }
    case HeaderCheck::kImplausible:
      item.outcome = Outcome::kBad;
      item.reason = fmt::format("invalid record header (type {:#04x}, seq {}, key length {}, "
                                "value length {})",
                                header.type, header.seq, header.key_len, header.value_len);
      return item;
    case HeaderCheck::kOk:
      break;
  }
  if (offset + header.record_size() > size_) {
    item.outcome = Outcome::kBad;
    item.reason = fmt::format("record of {} bytes runs past the end of the file ({} bytes)",
                              header.record_size(), size_);
    return item;
  }
  KVS_ASSIGN_OR_RETURN(std::string_view bytes, chunks_.Fetch(offset, header.record_size()));
  if (!VerifyRecord(bytes, header, &item.record)) {
    item.outcome = Outcome::kBad;
    item.reason = "checksum mismatch";
    return item;
  }
  item.outcome = Outcome::kRecord;
  return item;
}

Result<std::optional<uint64_t>> SegmentReader::FindNextValid(uint64_t from,
                                                             bool require_batch_start) {
  for (uint64_t off = from; off + kHeaderSize <= size_; ++off) {
    KVS_ASSIGN_OR_RETURN(std::string_view head, chunks_.Fetch(off, kHeaderSize));
    RecordHeader header;
    // Cheap plausibility first: random bytes almost never pass it, so the CRC is rare.
    if (DecodeHeader(head, &header) != HeaderCheck::kOk) continue;
    if (require_batch_start && !header.batch_start()) continue;
    if (off + header.record_size() > size_) continue;
    KVS_ASSIGN_OR_RETURN(std::string_view bytes, chunks_.Fetch(off, header.record_size()));
    RecordView view;
    if (VerifyRecord(bytes, header, &view)) return std::optional<uint64_t>(off);
  }
  return std::optional<uint64_t>();
}

Result<bool> SegmentReader::AllZeroFrom(uint64_t from) {
  for (uint64_t off = from; off < size_;) {
    KVS_ASSIGN_OR_RETURN(std::string_view chunk, chunks_.Fetch(off, ChunkedFile::kChunk));
    if (chunk.empty()) break;
    if (std::any_of(chunk.begin(), chunk.end(), [](char c) { return c != 0; })) return false;
    off += chunk.size();
  }
  return true;
}

}  // namespace kvs
