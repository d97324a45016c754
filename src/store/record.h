// Encoding and decoding of one log record (layout in store/log_format.h). Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/log_format.h"

namespace kvs {

struct RecordHeader {
  uint32_t masked_crc = 0;
  uint64_t seq = 0;
  uint8_t type = 0;
  uint32_t key_len = 0;
  uint32_t value_len = 0;

  log_format::Kind kind() const {
    return static_cast<log_format::Kind>(type & log_format::kKindMask);
  }
  bool batch_start() const { return (type & log_format::kBatchStart) != 0; }
  bool batch_end() const { return (type & log_format::kBatchEnd) != 0; }
  // The key is an engine key; false for a record of an earlier kvs (db 0, bare user key).
  bool key_has_db() const { return (type & log_format::kKeyHasDb) != 0; }
  // A prefix tombstone: removes every older record whose key starts with this key.
  bool key_is_prefix() const { return (type & log_format::kKeyIsPrefix) != 0; }
  // A put whose value field starts with its expiry time (log_format::kHasExpiry).
  bool has_expiry() const { return (type & log_format::kHasExpiry) != 0; }
  uint64_t record_size() const { return log_format::kHeaderSize + key_len + value_len; }
};

// A decoded record; key and value view the buffer it was decoded from.
struct RecordView {
  RecordHeader header;
  std::string_view key;
  std::string_view value;    // the user's value: without the expiry time's 8 bytes
  int64_t expire_at_ms = 0;  // kNoExpiry unless header.has_expiry()
};

inline uint64_t RecordSize(size_t key_len, size_t value_len) {
  return log_format::kHeaderSize + key_len + value_len;
}

// The value length field of a put of `value_size` bytes, with or without an expiry time.
inline uint32_t StoredValueLen(size_t value_size, int64_t expire_at_ms) {
  return static_cast<uint32_t>(value_size + (expire_at_ms != 0 ? log_format::kExpiryBytes : 0));
}

// Appends one encoded record to `dst`. `flags` is kBatchStart and/or kBatchEnd, and
// kKeyIsPrefix for a prefix tombstone; a put or tombstone always gets kKeyHasDb too (its key
// is an engine key), a kMeta record never. A put with `expire_at_ms` (not kNoExpiry) gets
// kHasExpiry and the time before its value.
// REQUIRES: key and value within the limits of engine.h; value empty and no expiry time for
// a tombstone; expire_at_ms >= 0.
void AppendRecord(std::string* dst, uint64_t seq, log_format::Kind kind, uint8_t flags,
                  std::string_view key, std::string_view value, int64_t expire_at_ms = 0);

// The engine key a stored key field stands for: itself when `has_db` (kKeyHasDb), else
// (written by an earlier kvs) db 0's engine key of it, built in `*scratch`. The result views
// `stored` or `*scratch`.
std::string_view EngineKeyOf(bool has_db, std::string_view stored, std::string* scratch);
// True when the stored key field (`has_db` as above) stands for `engine_key`.
bool StoredKeyIs(bool has_db, std::string_view stored, std::string_view engine_key);

enum class HeaderCheck {
  kOk,
  kZero,         // every header byte is zero: preallocated space, the clean end of a log
  kImplausible,  // a field no writer produces (type, seq, lengths)
};

// Decodes the fixed header at the start of `bytes` (REQUIRES: size >= kHeaderSize) and checks
// that every field is one a writer could have produced.
HeaderCheck DecodeHeader(std::string_view bytes, RecordHeader* out);

// Checks the CRC of a whole record (`bytes` holds exactly header.record_size() bytes) and
// fills `out`. False on a checksum mismatch.
bool VerifyRecord(std::string_view bytes, const RecordHeader& header, RecordView* out);

// The value of a kMeta record: which compaction wrote this segment (log_format.h).
struct CompactionMeta {
  uint32_t first_output = 0;  // F: the compaction's outputs are segments F .. F+N-1
  uint32_t output_index = 0;  // i: this segment is F+i
  uint32_t output_count = 0;  // N >= 1

  uint32_t segment_id() const { return first_output + output_index; }
};

std::string EncodeCompactionMeta(const CompactionMeta& meta);
// False when `value` is not a well-formed meta value of a known version.
bool DecodeCompactionMeta(std::string_view value, CompactionMeta* out);
// Size of a whole kMeta record.
inline constexpr uint64_t kMetaRecordSize =
    log_format::kHeaderSize + log_format::kMetaKey.size() + log_format::kMetaValueSize;

}  // namespace kvs
