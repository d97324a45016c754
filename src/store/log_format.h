// The segment file format: constants only. The prose specification is docs/FORMAT.md.
//
// A segment `<n>.log` is a sequence of records, each:
//
//   offset  size  field
//   0       4     masked CRC32C of bytes [4, record end)        (little-endian)
//   4       8     sequence number, >= 1                          (little-endian)
//   12      1     type: kind (low 2 bits) | kKeyIsPrefix | kHasExpiry | kKeyHasDb |
//                 kBatchStart | kBatchEnd
//   13      4     key length, 1 .. kMaxKeyBytes (0 .. with kKeyIsPrefix) (little-endian)
//   17      4     value length, 0 .. kMaxValueBytes (0 for a tombstone; with kHasExpiry
//                 8 .. kMaxValueBytes + 8)
//   21      ...   key bytes, then value bytes
//
// Expiry (kHasExpiry, only on a kPut with kKeyHasDb): the value field starts with the key's
// expiry time, 8 bytes little-endian (ms since the Unix epoch, >= 1), and the user's value
// follows; the value length counts those 8 bytes. A put without the flag has no expiry time.
// Once that time has passed the record counts as a tombstone of its key: recovery and
// compaction drop it, and it still shadows every older record of the key. An earlier kvs
// refuses such a record as implausible (an unknown type bit) rather than misreading it.
//
// Records of one write batch are contiguous in one segment; the first carries kBatchStart
// and the last kBatchEnd (a one-record batch carries both). Type 0 is reserved, so the
// zeros of preallocated space never parse as a record.
//
// Keys: a put or tombstone with kKeyHasDb holds an engine key (store/db_key.h: database
// varint + user key); every record written since databases exist has it. One without it was
// written by an earlier kvs, when keys were bare user keys: its key means db 0, engine key
// "\x00" + the stored bytes, and is at most kMaxUserKeyBytes long. Compaction rewrites such
// records in the new form; repair converts the ones it keeps. A flag per record, not a
// version per file: a start goes on appending to an earlier version's active segment.
//
// Prefix tombstones (FLUSHDB, FLUSHALL): a tombstone with kKeyIsPrefix removes every key
// that starts with its key field (an engine-key prefix, empty for every key) and whose
// record has a lower sequence number; keys written after it are untouched. It never enters
// the index: recovery applies it once every segment is read, and compaction drops it with
// the inputs it covers (every record it can remove is in an input, docs/COMPACTION.md).
//
// A segment written by compaction starts with one kMeta record (its own batch; key
// kMetaKey, value laid out below) that names the compaction it belongs to; see
// docs/COMPACTION.md. Meta records never enter the index.
//
// A hint file `<n>.hint` sits beside a closed segment `<n>.log` (one the writer rolled
// away from, or a compaction output; log_hints.cc) and lists its records without their
// values, so recovery can rebuild the index without reading values:
//
//   header   8 bytes  kHintMagic
//   entries  each:    key length (4) | kind (1) | sequence (8) | record offset (8) |
//                     value length (4) | [expiry time (8)] | key bytes
//                     (kind: the record's kind, | kKeyIsPrefix | kHasExpiry | kKeyHasDb as
//                     in the record; value length is the record's; the expiry time is there
//                     only with kHasExpiry. A kHintMagicV1 file, from an earlier kvs, never
//                     has a flag.)
//   trailer  20 bytes entry count (8) | size of <n>.log (8) | masked CRC32C (4) of every
//                     byte of the file before it
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
  kMeta = 3,  // compaction metadata; only as the first record of a compaction output
};
inline constexpr uint8_t kKindMask = 0x03;
// A tombstone of every key that starts with this record's key (above). Only on kTombstone.
inline constexpr uint8_t kKeyIsPrefix = 0x08;
// The record carries an expiry time (above). Only on kPut with kKeyHasDb.
inline constexpr uint8_t kHasExpiry = 0x10;
inline constexpr size_t kExpiryBytes = 8;
// The key is an engine key (with its database prefix). Only on kPut and kTombstone. Bit
// 0x04 is free.
inline constexpr uint8_t kKeyHasDb = 0x20;
inline constexpr uint8_t kBatchStart = 0x40;
inline constexpr uint8_t kBatchEnd = 0x80;
inline constexpr uint8_t kValidTypeBits =
    kKindMask | kKeyIsPrefix | kHasExpiry | kKeyHasDb | kBatchStart | kBatchEnd;

inline constexpr std::string_view kSegmentSuffix = ".log";
inline constexpr std::string_view kHintSuffix = ".hint";
// Compaction writes its outputs under temporary names ending in this; a start removes them.
inline constexpr std::string_view kCompactingSuffix = ".compacting";
// The hint of a closed segment is written as `<n>.hint.writing`, then renamed; a start
// removes leftovers.
inline constexpr std::string_view kHintTempSuffix = ".writing";

// ---- The kMeta record --------------------------------------------------------------------
inline constexpr std::string_view kMetaKey = "kvs.compaction";
// Value: version (4) = kMetaVersion | first output id F (4) | output index i (4) |
//        output count N (4).
// This segment is output i of the compaction whose outputs are segments F .. F+N-1. Once all
// N are in place, that compaction replaces every segment with an id below F.
inline constexpr uint32_t kMetaVersion = 1;
inline constexpr size_t kMetaValueSize = 4 + 4 + 4 + 4;
// The meta record's sequence number: it orders nothing, but a record needs one >= 1.
inline constexpr uint64_t kMetaSeq = 1;

// ---- Hint files --------------------------------------------------------------------------
// Written since databases exist: an entry's kind byte may carry kKeyHasDb (and, since
// FLUSHDB writes prefix tombstones, kKeyIsPrefix; since expiry, kHasExpiry). The magic did
// not change for kHasExpiry: an earlier kvs checks every entry's kind byte against the
// bits it knows before using any entry, so it rejects such a hint whole (and then refuses
// the segment's records), while a hint without expiry times stays readable by it.
inline constexpr std::string_view kHintMagic = "KVSHINT2";
// Written by earlier versions: every key is a bare user key (db 0). Still read.
inline constexpr std::string_view kHintMagicV1 = "KVSHINT1";
// The bits of an entry's kind byte.
inline constexpr uint8_t kHintKindBits = kKindMask | kKeyIsPrefix | kHasExpiry | kKeyHasDb;
inline constexpr size_t kHintEntryHeaderSize = 4 + 1 + 8 + 8 + 4;
inline constexpr size_t kHintTrailerSize = 8 + 8 + 4;

}  // namespace kvs::log_format
