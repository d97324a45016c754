// Helpers shared by the RocksDB engine's files (rocksdb_engine.cc, rocksdb_key_format.cc).
#pragma once

#include <rocksdb/slice.h>
#include <rocksdb/status.h>

#include <string_view>

#include "base/status.h"

namespace kvs {

inline rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

// The one place a rocksdb::Status becomes a kvs Status. `what` names the operation.
Status FromRocks(const rocksdb::Status& s, std::string_view what);

}  // namespace kvs
