// Hint files: `<n>.hint` lists the records of closed segment `<n>.log` without their values
// (layout in store/log_format.h, prose in docs/FORMAT.md), so that recovery rebuilds the
// index from a sequential read of small files instead of every value.
//
// HintWriter appends entries to a file it owns and seals it with a checksummed trailer;
// WriteSegmentHint builds one from a closed segment; ReadHintFile verifies a whole file
// before handing out any entry. Single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "store/env.h"
#include "store/log_format.h"

namespace kvs {

struct HintEntry {
  std::string_view key;  // the record's key field as stored
  log_format::Kind kind = log_format::Kind::kPut;
  uint64_t seq = 0;
  uint64_t offset = 0;  // of the record in the segment
  uint32_t value_len = 0;
  // The record has kKeyHasDb: `key` is an engine key. False for a record of an earlier kvs
  // (db 0, bare user key; record.h EngineKeyOf).
  bool key_has_db = true;
  // A prefix tombstone (log_format::kKeyIsPrefix): `key` is the prefix, possibly empty.
  bool key_is_prefix = false;
  // A put's expiry time (log_format::kHasExpiry), or 0. value_len is the record's field,
  // which counts the time's 8 bytes.
  int64_t expire_at_ms = 0;
};

class HintWriter {
 public:
  // Takes an empty file opened for writing.
  explicit HintWriter(std::unique_ptr<File> file);
  HintWriter(const HintWriter&) = delete;
  HintWriter& operator=(const HintWriter&) = delete;

  Status Add(const HintEntry& entry);
  // Writes the trailer (`segment_size`: the final size of the segment described) and fsyncs.
  Status Finish(uint64_t segment_size);

  uint64_t count() const { return count_; }
  const std::string& path() const { return file_->path(); }

 private:
  Status Flush();

  std::unique_ptr<File> file_;
  std::string buf_;
  uint64_t written_ = 0;  // bytes of the file already written
  uint32_t crc_ = 0;      // CRC32C of the bytes before buf_
  uint64_t count_ = 0;
};

// Writes to `out` (an empty file, which it takes) the hint of the closed segment `segment`,
// reading and checking every record, then fsyncs it. Corruption (naming the segment and
// offset) if the segment holds anything but complete write batches up to its last byte:
// such a segment is left to recovery's scan, which reports or repairs it.
Status WriteSegmentHint(const File& segment, std::unique_ptr<File> out);

// Reads the hint file `file`, which must describe a segment of `segment_size` bytes, and
// calls `fn` for each entry in order. Reads the current format and that of earlier versions
// (kHintMagicV1, whose entries all have key_has_db false). Corruption (naming the file) if the file
// is short, its checksum fails, its trailer disagrees with its entries or with `segment_size`, or
// an entry is malformed; `fn` is not called at all then.
Status ReadHintFile(const File& file, uint64_t segment_size,
                    const std::function<void(const HintEntry&)>& fn);

// The entry count a hint file's trailer claims, unverified (bounded by what the file can
// hold; 0 if it is too short): to size the index before the hints are read.
Result<uint64_t> HintEntryCount(const File& file);

}  // namespace kvs
