#include "store/chunked_file.h"

#include <algorithm>

namespace kvs {

Result<std::string_view> ChunkedFile::Fetch(uint64_t offset, uint64_t n) {
  if (offset >= size_) return std::string_view();
  n = std::min(n, size_ - offset);
  if (offset >= buf_offset_ && offset + n <= buf_offset_ + buf_.size()) {
    return std::string_view(buf_).substr(offset - buf_offset_, n);
  }
  const uint64_t want = std::min(std::max(n, kChunk), size_ - offset);
  buf_.resize(want);
  KVS_ASSIGN_OR_RETURN(size_t got, file_.PRead(offset, buf_));
  buf_.resize(got);
  buf_offset_ = offset;
  return std::string_view(buf_).substr(0, std::min<uint64_t>(n, got));
}

}  // namespace kvs
