// The key format of the RocksDB engine's database, and the one-time migration of a database
// written before Redis databases existed (docs/FORMAT.md "The RocksDB engine").
//
// The data lives in RocksDB's default column family; column family "kvs_expiry" indexes the
// keys that have an expiry time (store/rocksdb_expiry.h). Column family "kvs_meta" holds
// "key_format": "3" once every key there is an engine key (store/db_key.h) and values may
// carry an expiry time ("2": engine keys, no expiry yet; marked "3" at open, nothing else
// changes, so that a kvs without expiry refuses the database instead of reviving expired
// keys). An earlier kvs
// had no "kvs_meta" and stored bare user keys; OpenRocksDb turns each into db 0's engine key
// ("\x00" + key) before anything else reads the database:
//   1. copy every pair to column family "kvs_migrate", as it is, in synced chunks (a crash
//      here leaves the default family untouched: the next open copies again);
//   2. one synced WriteBatch: a range delete of the whole default family + "key_format" =
//      "migrating" (the commit point: from here the pairs are only in "kvs_migrate");
//   3. move the pairs back in synced chunks, each one WriteBatch that puts "\x00" + key in
//      the default family and deletes key from "kvs_migrate" (a crash resumes the move:
//      every pair is in exactly one of the two);
//   4. "key_format" = "3" (synced, and flushed so that no WAL file waits on it), a manual
//      compaction of the default family (the old copies go), then drop "kvs_migrate".
// Memory and each write stay bounded by the chunk size, whatever the database's size; the
// disk holds the data twice during the migration. A new database gets "key_format" = "3"
// at once.
//
// Internal to the store; RocksDbEngine::Open calls it. Single-threaded (nothing else has
// the database yet).
#pragma once

#include <rocksdb/db.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"

namespace kvs {

inline constexpr std::string_view kRocksMetaFamily = "kvs_meta";
inline constexpr std::string_view kRocksMigrateFamily = "kvs_migrate";
inline constexpr std::string_view kRocksExpiryFamily = "kvs_expiry";
inline constexpr std::string_view kRocksKeyFormatKey = "key_format";
inline constexpr std::string_view kRocksKeyFormatCurrent = "3";
// Engine keys, before expiry times existed: upgraded to "3" by the open.
inline constexpr std::string_view kRocksKeyFormatNoExpiry = "2";
inline constexpr std::string_view kRocksKeyFormatMigrating = "migrating";

struct RocksMigrationOptions {
  // Bytes of keys and values per synced write of steps 1 and 3.
  size_t chunk_bytes = 4 << 20;
  // Told what the migration did (a human-readable line), when it had anything to do.
  std::function<void(std::string_view)> on_warning;
  // Tests: called at each step's end and after each chunk with the point's name (also a
  // failpoint, base/failpoint.h): "rocksdb.migrate.copied_chunk", ".cleared",
  // ".moved_chunk", ".marked". True stops the migration there with Aborted, leaving the
  // database as a crash at that point would.
  std::function<bool(std::string_view point)> stop_at;
};

// The open database and the handle of its "kvs_expiry" family. Move-only; the handle is
// destroyed before the database is closed (RocksDB requires it), by Close() or here.
struct RocksDatabase {
  RocksDatabase() = default;
  RocksDatabase(RocksDatabase&&) = default;
  RocksDatabase& operator=(RocksDatabase&&) = delete;  // would close in the wrong order
  ~RocksDatabase() { Close(); }
  // Destroys the handle, then closes the database (errors cannot be reported: recovery
  // copes with whatever state they leave).
  void Close();

  std::unique_ptr<rocksdb::DB> db;
  std::unique_ptr<rocksdb::ColumnFamilyHandle> expiry;
};

// Opens (creating if missing) the RocksDB database at `path` with all its column families
// (`expiry_options` for "kvs_expiry", created if missing), makes its key format current
// (above) and returns it with the default and "kvs_expiry" families in use.
// Errors: RocksDB's (converted); NotSupported for a key format this version does not know
// (written by a newer kvs); Aborted when `migration.stop_at` stopped it.
Result<RocksDatabase> OpenRocksDb(const rocksdb::Options& options,
                                  const rocksdb::ColumnFamilyOptions& expiry_options,
                                  const std::string& path, const RocksMigrationOptions& migration);

}  // namespace kvs
