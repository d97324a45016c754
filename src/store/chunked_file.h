// ChunkedFile: reads a file mostly front to back through one buffer of about a megabyte,
// so that a reader walking records or hint entries makes one pread per chunk, not one per
// item, and holds a megabyte however large the file. Single-threaded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"
#include "store/env.h"

namespace kvs {

class ChunkedFile {
 public:
  static constexpr uint64_t kChunk = 1 << 20;

  // REQUIRES: `file` outlives this and is not written meanwhile.
  ChunkedFile(const File& file, uint64_t file_size) : file_(file), size_(file_size) {}

  uint64_t size() const { return size_; }

  // A view of bytes [offset, offset + n) of the file, clipped at its end; valid until the
  // next call. Reads (at least kChunk bytes) only when the range is not buffered.
  Result<std::string_view> Fetch(uint64_t offset, uint64_t n);

 private:
  const File& file_;
  const uint64_t size_;
  std::string buf_;  // bytes [buf_offset_, buf_offset_ + buf_.size()) of the file
  uint64_t buf_offset_ = 0;
};

}  // namespace kvs
