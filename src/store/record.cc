#include "store/record.h"

#include <cstring>

#include "store/crc32c.h"
#include "store/engine.h"

namespace kvs {
namespace {

using log_format::kHeaderSize;

void PutFixed32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void PutFixed64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
uint32_t GetFixed32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t GetFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

}  // namespace

void AppendRecord(std::string* dst, uint64_t seq, log_format::Kind kind, uint8_t flags,
                  std::string_view key, std::string_view value) {
  const size_t start = dst->size();
  dst->resize(start + kHeaderSize + key.size() + value.size());
  char* p = dst->data() + start;
  PutFixed64(p + log_format::kSeqOffset, seq);
  p[log_format::kTypeOffset] = static_cast<char>(static_cast<uint8_t>(kind) | flags);
  PutFixed32(p + log_format::kKeyLenOffset, static_cast<uint32_t>(key.size()));
  PutFixed32(p + log_format::kValueLenOffset, static_cast<uint32_t>(value.size()));
  if (!key.empty()) std::memcpy(p + kHeaderSize, key.data(), key.size());
  if (!value.empty()) std::memcpy(p + kHeaderSize + key.size(), value.data(), value.size());
  const size_t covered = kHeaderSize - 4 + key.size() + value.size();
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
                       kind == static_cast<uint8_t>(log_format::Kind::kTombstone);
  if (!kind_ok || (out->type & ~log_format::kValidTypeBits) != 0 || out->seq == 0 ||
      out->key_len == 0 || out->key_len > kMaxKeyBytes || out->value_len > kMaxValueBytes ||
      (out->kind() == log_format::Kind::kTombstone && out->value_len != 0)) {
    return HeaderCheck::kImplausible;
  }
  return HeaderCheck::kOk;
}

bool VerifyRecord(std::string_view bytes, const RecordHeader& header, RecordView* out) {
  const uint32_t actual = crc32c::Extend(0, bytes.data() + 4, bytes.size() - 4);
  if (crc32c::Unmask(header.masked_crc) != actual) return false;
  out->header = header;
  out->key = bytes.substr(kHeaderSize, header.key_len);
  out->value = bytes.substr(kHeaderSize + header.key_len, header.value_len);
  return true;
}

}  // namespace kvs
