#include "store/db_key.h"

namespace kvs {

void AppendDbPrefix(uint32_t db, std::string* out) {
  for (; db >= 0x80; db >>= 7) out->push_back(static_cast<char>((db & 0x7f) | 0x80));
  out->push_back(static_cast<char>(db));
}

void AppendDbKey(uint32_t db, std::string_view user_key, std::string* out) {
  out->reserve(out->size() + DbKeyPrefixSize(db) + user_key.size());
  AppendDbPrefix(db, out);
  out->append(user_key);
}

std::string EncodeDbKey(uint32_t db, std::string_view user_key) {
  std::string out;
  AppendDbKey(db, user_key, &out);
  return out;
}

bool DecodeDbKey(std::string_view engine_key, uint32_t* db, std::string_view* user_key) {
  uint64_t value = 0;
  for (size_t i = 0; i < engine_key.size() && i < kMaxDbPrefixBytes; ++i) {
    const auto byte = static_cast<uint8_t>(engine_key[i]);
    value |= uint64_t{byte & 0x7fu} << (7 * i);
    if ((byte & 0x80) != 0) continue;
    // The last byte: a zero there after others means a longer form than needed.
    if ((byte == 0 && i > 0) || value > UINT32_MAX) return false;
    *db = static_cast<uint32_t>(value);
    *user_key = engine_key.substr(i + 1);
    return true;
  }
  return false;  // empty, cut short, or too long
}

std::string DbKeyPrefix(uint32_t db) {
  std::string prefix;
  AppendDbPrefix(db, &prefix);
  return prefix;
}

std::string DbKeyPrefixEnd(uint32_t db) {
  std::string end = DbKeyPrefix(db);
  end.back() = static_cast<char>(end.back() + 1);
  return end;
}

}  // namespace kvs
