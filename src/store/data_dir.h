// DataDir: a data directory this process holds: its LOCK taken, its ENGINE file checked.
//
// Opening creates the directory if needed, takes an exclusive flock on `LOCK` (a second
// server on the same directory gets Busy), reads `ENGINE` and refuses a directory made by
// another engine (InvalidArgument naming both), and writes `ENGINE` durably on first use.
// The lock is held until the DataDir is destroyed. Immutable after Open; thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"
#include "store/env.h"

namespace kvs {

inline constexpr std::string_view kEngineFileName = "ENGINE";
inline constexpr std::string_view kLockFileName = "LOCK";

class DataDir {
 public:
  // `engine` is "kvs" or "rocksdb".
  static Result<std::unique_ptr<DataDir>> Open(Env* env, const std::string& path,
                                               std::string_view engine);

  // The engine recorded in `path`/ENGINE, or "" when the directory or file does not exist.
  static Result<std::string> RecordedEngine(Env* env, const std::string& path);

  const std::string& path() const { return path_; }
  const std::string& engine() const { return engine_; }
  // `path()/name`.
  std::string File(std::string_view name) const;

 private:
  DataDir(std::string path, std::string engine, std::unique_ptr<FileLock> lock)
      : path_(std::move(path)), engine_(std::move(engine)), lock_(std::move(lock)) {}

  const std::string path_;
  const std::string engine_;
  const std::unique_ptr<FileLock> lock_;
};

}  // namespace kvs
