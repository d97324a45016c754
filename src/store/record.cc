#include "store/record.h"

#include <cstring>

#include "store/coding.h"
#include "store/crc32c.h"
#include "store/db_key.h"
#include "store/engine.h"

namespace kvs {
namespace {

using log_format::kHeaderSize;

}  // namespace

void AppendRecord(std::string* dst, uint64_t seq, log_format::Kind kind, uint8_t flags,
                  std::string_view key, std::string_view value, int64_t expire_at_ms) {
  const size_t start = dst->size();
  const uint32_t value_len = StoredValueLen(value.size(), expire_at_ms);
  dst->resize(start + kHeaderSize + key.size() + value_len);
  char* p = dst->data() + start;
  PutFixed64(p + log_format::kSeqOffset, seq);
  flags &= static_cast<uint8_t>(~log_format::kHasExpiry);
  if (kind == log_format::Kind::kMeta) {
    flags &= static_cast<uint8_t>(~log_format::kKeyHasDb);
  } else {
    flags |= log_format::kKeyHasDb;
  }
  if (expire_at_ms != 0) flags |= log_format::kHasExpiry;
  p[log_format::kTypeOffset] = static_cast<char>(static_cast<uint8_t>(kind) | flags);
  PutFixed32(p + log_format::kKeyLenOffset, static_cast<uint32_t>(key.size()));
  PutFixed32(p + log_format::kValueLenOffset, value_len);
  char* v = p + kHeaderSize;
  if (!key.empty()) std::memcpy(v, key.data(), key.size());
  v += key.size();
  if (expire_at_ms != 0) {
    PutFixed64(v, static_cast<uint64_t>(expire_at_ms));
    v += log_format::kExpiryBytes;
  }
  if (!value.empty()) std::memcpy(v, value.data(), value.size());
  const size_t covered = kHeaderSize - 4 + key.size() + value_len;
  PutFixed32(p, crc32c::Mask(crc32c::Extend(0, p + 4, covered)));
}

HeaderCheck DecodeHeader(std::string_view bytes, RecordHeader* out) {
  const char* p = bytes.data();
  out->masked_crc = GetFixed32(p + log_format::kCrcOffset);
  out->seq = GetFixed64(p + log_format::kSeqOffset);
  out->type = static_cast<uint8_t>(p[log_format::kTypeOffset]);
  out->key_len = GetFixed32(p + log_format::kKeyLenOffset);
  out->value_len = GetFixed32(p + log_format::kValueLenOffset);
  if (out->masked_crc == 0 && out->seq == 0 && out->type == 0 && out->key_len == 0 &&
      out->value_len == 0) {
    return HeaderCheck::kZero;
  }
  const uint8_t kind = out->type & log_format::kKindMask;
  const bool kind_ok = kind == static_cast<uint8_t>(log_format::Kind::kPut) ||
                       kind == static_cast<uint8_t>(log_format::Kind::kTombstone) ||
                       kind == static_cast<uint8_t>(log_format::Kind::kMeta);
  // A key without its database prefix comes from a version whose limit was the user key's.
  const uint32_t max_key =
      out->key_has_db() || out->kind() == log_format::Kind::kMeta ? kMaxKeyBytes : kMaxUserKeyBytes;
  const bool prefix = out->key_is_prefix();
  const bool expiry = out->has_expiry();
  if (!kind_ok || (out->type & ~log_format::kValidTypeBits) != 0 || out->seq == 0 ||
      (out->key_len == 0 && !prefix) || out->key_len > max_key ||
      out->value_len > kMaxValueBytes + (expiry ? log_format::kExpiryBytes : 0) ||
      (expiry && (out->kind() != log_format::Kind::kPut || !out->key_has_db() ||
                  out->value_len < log_format::kExpiryBytes)) ||
      (out->kind() == log_format::Kind::kTombstone && out->value_len != 0) ||
      (prefix && (out->kind() != log_format::Kind::kTombstone || !out->key_has_db())) ||
      (out->kind() == log_format::Kind::kMeta && out->key_has_db())) {
    return HeaderCheck::kImplausible;
  }
  return HeaderCheck::kOk;
}

std::string_view EngineKeyOf(bool has_db, std::string_view stored, std::string* scratch) {
  if (has_db) return stored;
  scratch->clear();
  AppendDbKey(0, stored, scratch);
  return *scratch;
}

bool StoredKeyIs(bool has_db, std::string_view stored, std::string_view engine_key) {
  if (has_db) return stored == engine_key;
  static_assert(DbKeyPrefixSize(0) == 1);  // db 0's prefix is the single byte 0
  return engine_key.size() == stored.size() + 1 && engine_key[0] == '\0' &&
         engine_key.substr(1) == stored;
}

bool VerifyRecord(std::string_view bytes, const RecordHeader& header, RecordView* out) {
  const uint32_t actual = crc32c::Extend(0, bytes.data() + 4, bytes.size() - 4);
  if (crc32c::Unmask(header.masked_crc) != actual) return false;
  out->header = header;
  out->key = bytes.substr(kHeaderSize, header.key_len);
  out->value = bytes.substr(kHeaderSize + header.key_len, header.value_len);
  out->expire_at_ms = 0;
  if (header.has_expiry()) {
    const auto at = static_cast<int64_t>(GetFixed64(out->value.data()));
    // Checksummed, so written this way: but a time no writer produces is still damage.
    if (at <= 0) return false;
    out->expire_at_ms = at;
    out->value.remove_prefix(log_format::kExpiryBytes);
  }
  return true;
}

std::string EncodeCompactionMeta(const CompactionMeta& meta) {
  std::string out(log_format::kMetaValueSize, '\0');
  char* p = out.data();
  PutFixed32(p, log_format::kMetaVersion);
  PutFixed32(p + 4, meta.first_output);
  PutFixed32(p + 8, meta.output_index);
  PutFixed32(p + 12, meta.output_count);
  return out;
}

bool DecodeCompactionMeta(std::string_view value, CompactionMeta* out) {
  if (value.size() != log_format::kMetaValueSize) return false;
  const char* p = value.data();
  if (GetFixed32(p) != log_format::kMetaVersion) return false;
  out->first_output = GetFixed32(p + 4);
  out->output_index = GetFixed32(p + 8);
  out->output_count = GetFixed32(p + 12);
  return out->first_output != 0 && out->output_count != 0 &&
         out->output_index < out->output_count &&
         uint64_t{out->first_output} + out->output_count <= UINT32_MAX;
}

}  // namespace kvs
