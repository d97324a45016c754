#include "store/data_dir.h"

#include <fmt/format.h>

namespace kvs {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

std::string DataDir::File(std::string_view name) const { return fmt::format("{}/{}", path_, name); }

Result<std::string> DataDir::RecordedEngine(Env* env, const std::string& path) {
  const std::string engine_file = fmt::format("{}/{}", path, kEngineFileName);
  KVS_ASSIGN_OR_RETURN(bool exists, env->Exists(engine_file));
  if (!exists) return std::string();
  KVS_ASSIGN_OR_RETURN(std::string text, ReadFile(env, engine_file));
  std::string_view name = Trim(text);
  if (name != "kvs" && name != "rocksdb") {
    return Status::Corruption(
        fmt::format("{}: unknown engine '{}' (expected kvs or rocksdb)", engine_file, name));
  }
  return std::string(name);
}

Result<std::unique_ptr<DataDir>> DataDir::Open(Env* env, const std::string& path,
                                               std::string_view engine) {
  if (engine != "kvs" && engine != "rocksdb") {
    return Status::InvalidArgument(
        fmt::format("unknown engine '{}' (expected kvs or rocksdb)", engine));
  }
  KVS_RETURN_IF_ERROR(env->CreateDir(path));
  // The lock comes first: the ENGINE check below must not race another process's first start.
  KVS_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock,
                       env->LockFile(fmt::format("{}/{}", path, kLockFileName)));
  KVS_ASSIGN_OR_RETURN(std::string recorded, RecordedEngine(env, path));
  if (recorded.empty()) {
    KVS_RETURN_IF_ERROR(WriteFileAtomic(env, path, std::string(kEngineFileName),
                                        fmt::format("{}\n", engine)));
  } else if (recorded != engine) {
    return Status::InvalidArgument(fmt::format(
        "data directory {} holds engine '{}', cannot open it with engine '{}'", path, recorded,
        engine));
  }
  return std::unique_ptr<DataDir>(new DataDir(path, std::string(engine), std::move(lock)));
}

}  // namespace kvs
