#include "store/engine.h"

#include <fmt/format.h>

#include "store/data_dir.h"
#include "store/log_store.h"
#include "store/rocksdb_engine.h"

namespace kvs {

Result<FsyncPolicy> ParseFsyncPolicy(std::string_view text) {
  if (text == "always") return FsyncPolicy::kAlways;
  if (text == "periodic") return FsyncPolicy::kPeriodic;
  if (text == "never") return FsyncPolicy::kNever;
  return Status::InvalidArgument(
      fmt::format("unknown fsync policy '{}' (expected always, periodic or never)", text));
}

std::string_view FsyncPolicyName(FsyncPolicy policy) {
  switch (policy) {
    case FsyncPolicy::kAlways:
      return "always";
    case FsyncPolicy::kPeriodic:
      return "periodic";
    case FsyncPolicy::kNever:
      return "never";
  }
  return "unknown";
}

Result<std::unique_ptr<Engine>> OpenEngine(std::string_view engine_name, const Options& options) {
  std::string name(engine_name);
  if (name.empty()) {
    KVS_ASSIGN_OR_RETURN(name, DataDir::RecordedEngine(Env::Default(), options.data_dir));
    if (name.empty()) name = "kvs";
  }
  if (name == "kvs") {
    KVS_ASSIGN_OR_RETURN(std::unique_ptr<LogStore> store, LogStore::Open(options));
    return std::unique_ptr<Engine>(std::move(store));
  }
  if (name == "rocksdb") {
    KVS_ASSIGN_OR_RETURN(std::unique_ptr<RocksDbEngine> db, RocksDbEngine::Open(options));
    return std::unique_ptr<Engine>(std::move(db));
  }
  return Status::InvalidArgument(
      fmt::format("unknown engine '{}' (expected kvs or rocksdb)", engine_name));
}

}  // namespace kvs
