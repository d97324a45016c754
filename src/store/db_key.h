// Engine keys: how the server names a key of a Redis database (SELECT 0..15) to an Engine.
//
// An engine key is the database number as an unsigned LEB128 varint (7 bits a byte, low
// bits first, the high bit set on every byte but the last; one byte for db < 128) followed by
// the user's key bytes, which may be empty. So an engine key is never empty ("" in db 0 is
// "\x00"), and the varint is self-delimiting: every key of database d starts with
// DbKeyPrefix(d) and no key of another database does. In byte order the keys of one database
// are contiguous, in [DbKeyPrefix(d), DbKeyPrefixEnd(d)).
//
// Engines store engine keys as opaque bytes; data written before databases existed holds raw
// user keys, which the engines read as db 0's (docs/FORMAT.md "Engine keys"). Pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kvs {

// The longest database prefix: the varint of a uint32_t.
inline constexpr size_t kMaxDbPrefixBytes = 5;

// Bytes of the varint of `db` (1 for db < 128).
constexpr size_t DbKeyPrefixSize(uint32_t db) {
  size_t n = 1;
  for (; db >= 0x80; db >>= 7) ++n;
  return n;
}

// Appends the varint of `db` (DbKeyPrefix(db)) to `out`.
void AppendDbPrefix(uint32_t db, std::string* out);

// Appends the engine key of `user_key` in database `db` to `out`.
void AppendDbKey(uint32_t db, std::string_view user_key, std::string* out);

// The engine key of `user_key` in database `db`.
std::string EncodeDbKey(uint32_t db, std::string_view user_key);

// Splits `engine_key` into its database and user key (which views `engine_key`). False when
// the key does not start with a well-formed varint: empty, cut short, longer than
// kMaxDbPrefixBytes, over UINT32_MAX, or not in its shortest form (so that every (db, key)
// pair has exactly one engine key).
bool DecodeDbKey(std::string_view engine_key, uint32_t* db, std::string_view* user_key);

// The prefix that every engine key of database `db` starts with (its varint).
std::string DbKeyPrefix(uint32_t db);

// The smallest string above every key that starts with DbKeyPrefix(db): the prefix with its
// last byte plus one (a varint's last byte is below 0x80, so this never carries). The end of
// a range delete of a whole database (FLUSHDB).
std::string DbKeyPrefixEnd(uint32_t db);

}  // namespace kvs
