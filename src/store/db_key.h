// Engine keys: a Redis database number and a user key in one byte string, the database as
// an unsigned LEB128 varint (one byte below 128) followed by the user key's bytes. So an
// engine key is never empty (the user key "" of db 0 is "\x00"), and one database's keys
// share a prefix. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kvs {

inline constexpr size_t kMaxDbPrefixBytes = 5;

inline void AppendDbPrefix(uint32_t db, std::string* out) {
  while (db >= 0x80) {
    out->push_back(static_cast<char>((db & 0x7f) | 0x80));
    db >>= 7;
  }
  out->push_back(static_cast<char>(db));
}

inline std::string EncodeDbKey(uint32_t db, std::string_view user_key) {
  std::string out;
  out.reserve(user_key.size() + 1);
  AppendDbPrefix(db, &out);
  out.append(user_key);
  return out;
}

// False when `engine_key` does not start with a well-formed varint.
inline bool DecodeDbKey(std::string_view engine_key, uint32_t* db, std::string_view* user_key) {
  uint32_t value = 0;
  for (size_t i = 0; i < engine_key.size() && i < kMaxDbPrefixBytes; ++i) {
    const auto byte = static_cast<uint8_t>(engine_key[i]);
    value |= static_cast<uint32_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      *db = value;
      *user_key = engine_key.substr(i + 1);
      return true;
    }
  }
  return false;
}

}  // namespace kvs
