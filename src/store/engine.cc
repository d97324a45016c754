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

Status CheckWriteOp(const WriteBatch::Op& op) {
  if (op.kind != WriteBatch::OpKind::kPut && !op.value.empty()) {
    return Status::InvalidArgument("a delete carries no value");
  }
  if (op.kind != WriteBatch::OpKind::kPut && op.expire_at_ms != kNoExpiry) {
    return Status::InvalidArgument("a delete carries no expiry time");
  }
  if (op.expire_at_ms < 0) return Status::InvalidArgument("negative expiry time");
  if (op.key.empty() && op.kind != WriteBatch::OpKind::kDeletePrefix) {
    return Status::InvalidArgument("empty key");
  }
  if (op.key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument(
        fmt::format("key of {} bytes exceeds the limit of {} bytes", op.key.size(), kMaxKeyBytes));
  }
  if (op.value.size() > kMaxValueBytes) {
    return Status::InvalidArgument(fmt::format("value of {} bytes exceeds the limit of {} bytes",
                                               op.value.size(), kMaxValueBytes));
  }
  return Status::Ok();
}

std::optional<bool> BatchKeyState::Exists(std::string_view key) const {
  if (auto it = keys_.find(key); it != keys_.end()) return it->second;
  for (std::string_view prefix : prefixes_) {
    if (key.starts_with(prefix)) return false;
  }
  return std::nullopt;
}

void BatchKeyState::Apply(const WriteBatch::Op& op) {
  switch (op.kind) {
    case WriteBatch::OpKind::kPut:
      keys_[op.key] = true;
      break;
    case WriteBatch::OpKind::kDelete:
      keys_[op.key] = false;
      break;
    case WriteBatch::OpKind::kDeletePrefix:
      for (auto& [key, exists] : keys_) {
        if (key.starts_with(op.key)) exists = false;
      }
      prefixes_.push_back(op.key);
      break;
  }
}

std::optional<std::map<uint32_t, DbKeyCount>> Engine::KeysPerDb() const { return std::nullopt; }

Result<bool> Engine::Contains(std::string_view key, bool cached_only) {
  Result<StoredValue> value = Read(key, cached_only);
  if (value.ok()) return true;
  if (value.status().IsNotFound()) return false;
  return value.status();
}

Status Engine::ForEachKey(const std::function<Status(std::string_view key)>& fn) {
  return ForEach([&fn](std::string_view key, std::string_view, int64_t) { return fn(key); });
}

Status Engine::Set(std::string_view key, std::string_view value) {
  WriteBatch batch;
  batch.Put(key, value);
  std::vector<Status> results;
  KVS_RETURN_IF_ERROR(Write(batch, &results));
  return results[0];
}

Status Engine::Remove(std::string_view key) {
  WriteBatch batch;
  batch.Delete(key);
  std::vector<Status> results;
  KVS_RETURN_IF_ERROR(Write(batch, &results));
  return results[0];
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
