// Test-only encoders of what earlier kvs versions wrote, before Redis databases: records
// without kKeyHasDb (a bare user key) and version 1 hint files (docs/FORMAT.md "Engine
// keys"). The store itself never writes either any more.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "store/coding.h"
#include "store/crc32c.h"
#include "store/log_format.h"
#include "store/record.h"

namespace kvs::testing {

// A record exactly as an earlier kvs wrote it: AppendRecord's bytes without kKeyHasDb, and
// the checksum made over them again.
inline void AppendLegacyRecord(std::string* dst, uint64_t seq, log_format::Kind kind, uint8_t flags,
                               std::string_view key, std::string_view value) {
  const size_t start = dst->size();
  AppendRecord(dst, seq, kind, flags, key, value);
  char* p = dst->data() + start;
  p[log_format::kTypeOffset] =
      static_cast<char>(static_cast<uint8_t>(p[log_format::kTypeOffset]) & ~log_format::kKeyHasDb);
  PutFixed32(p, crc32c::Mask(crc32c::Extend(0, p + 4, dst->size() - start - 4)));
}

inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Turns the hint file at `path`, whose entries must all be of records without kKeyHasDb
// (HintEntry::key_has_db false), into the version 1 file an earlier kvs wrote: its magic, and
// the checksum over the file made again.
inline void MakeHintVersion1(const std::string& path) {
  std::string bytes = ReadWholeFile(path);
  bytes.replace(0, log_format::kHintMagicV1.size(), log_format::kHintMagicV1);
  PutFixed32(bytes.data() + bytes.size() - 4,
             crc32c::Mask(crc32c::Extend(0, bytes.data(), bytes.size() - 4)));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace kvs::testing
