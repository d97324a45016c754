// SegmentReader: reads the records of one segment file in order (recovery, repair,
// compaction). Buffered: one pread per chunk, not per record. Single-threaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "store/chunked_file.h"
#include "store/env.h"
#include "store/record.h"

namespace kvs {

class SegmentReader {
 public:
  enum class Outcome {
    kRecord,    // a valid record at `offset`; `record` views the reader's buffer
    kEnd,       // end of file at `offset`
    kZeroTail,  // from `offset` to the end of file every byte is zero (preallocated space)
    kBad,       // the bytes at `offset` are not a valid record; `reason` says why
  };
  struct Item {
    Outcome outcome = Outcome::kEnd;
    uint64_t offset = 0;
    RecordView record;   // kRecord only; valid until the next call
    std::string reason;  // kBad only
  };

  // REQUIRES: `file` outlives the reader and is not written meanwhile.
  SegmentReader(const File& file, uint64_t file_size)
      : size_(file_size), chunks_(file, file_size) {}

  uint64_t size() const { return size_; }

  // The item at `offset`. I/O errors are returned as the Status.
  Result<Item> ReadAt(uint64_t offset);

  // The first offset >= `from` where a valid record starts (header plausible, checksum
  // matches) and, if `require_batch_start`, that record opens a batch. nullopt if none.
  Result<std::optional<uint64_t>> FindNextValid(uint64_t from, bool require_batch_start);

  // True when every byte in [from, size) is zero.
  Result<bool> AllZeroFrom(uint64_t from);

 private:
  const uint64_t size_;
  ChunkedFile chunks_;
};

}  // namespace kvs
