// The segment file format: constants only. The prose specification is docs/FORMAT.md.
//
// A segment `<n>.log` is a sequence of records, each:
//
//   offset  size  field
//   0       4     masked CRC32C of bytes [4, record end)        (little-endian)
//   4       8     sequence number, >= 1                          (little-endian)
//   12      1     type: kind (low 2 bits) | kBatchStart | kBatchEnd
//   13      4     key length, 1 .. kMaxKeyBytes                  (little-endian)
//   17      4     value length, 0 .. kMaxValueBytes (0 for a tombstone)
//   21      ...   key bytes, then value bytes
//
// Records of one write batch are contiguous in one segment; the first carries kBatchStart
// and the last kBatchEnd (a one-record batch carries both). Type 0 is reserved, so the
// zeros of preallocated space never parse as a record.
#pragma once

#include <cstdint>
#include <string_view>

namespace kvs::log_format {

inline constexpr size_t kHeaderSize = 21;
inline constexpr size_t kCrcOffset = 0;
inline constexpr size_t kSeqOffset = 4;
inline constexpr size_t kTypeOffset = 12;
inline constexpr size_t kKeyLenOffset = 13;
inline constexpr size_t kValueLenOffset = 17;

enum class Kind : uint8_t {
  kPut = 1,
  kTombstone = 2,
};
inline constexpr uint8_t kKindMask = 0x03;
inline constexpr uint8_t kBatchStart = 0x40;
inline constexpr uint8_t kBatchEnd = 0x80;
inline constexpr uint8_t kValidTypeBits = kKindMask | kBatchStart | kBatchEnd;

inline constexpr std::string_view kSegmentSuffix = ".log";
inline constexpr std::string_view kHintSuffix = ".hint";

}  // namespace kvs::log_format
