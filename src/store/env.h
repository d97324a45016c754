// Env: the narrow file-system seam every byte the store reads or writes goes through.
//
// PosixEnv (Env::Default()) is the real one; tests wrap it (FaultInjectionEnv) to fail
// writes and syncs or to drop data that was written but never synced (power loss).
// Modeled on LevelDB's Env. All methods are thread-safe; a File may be used from several
// threads at once for PRead, but writes to one File must be serialised by the caller.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/status.h"

namespace kvs {

namespace uring {
class Loop;
}

// An open file. Closes on destruction (errors from close are ignored: every byte that
// matters has been synced, or reported, before).
class File {
 public:
  File() = default;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  virtual ~File() = default;

  // Writes all of `data` at `offset` (short writes are resumed; an error leaves an unknown
  // prefix written).
  virtual Status PWrite(uint64_t offset, std::span<const char> data) = 0;
  // Reads up to out.size() bytes at `offset`; fewer only at end of file.
  virtual Result<size_t> PRead(uint64_t offset, std::span<char> out) const = 0;
  // PRead from the page cache only: WouldBlock when the bytes are not all cached (reading
  // them would wait for the disk). This default cannot tell, so it always says WouldBlock.
  virtual Result<size_t> PReadCached(uint64_t offset, std::span<char> out) const;
  virtual Status DataSync() = 0;  // fdatasync
  virtual Status Sync() = 0;      // fsync
  virtual Status Truncate(uint64_t size) = 0;
  // Reserves [offset, offset+len) on disk with zeros, changing the file size (no KEEP_SIZE),
  // so later appends inside it do not make fdatasync journal a size change.
  virtual Status Allocate(uint64_t offset, uint64_t len) = 0;
  virtual Result<uint64_t> Size() const = 0;
  // PWrite, then DataSync when `datasync`, without blocking the calling thread where the
  // file can: PosixFile submits them to `loop` (an io_uring write linked to an fdatasync)
  // and calls `done` on the loop thread once both completed. This default does the two
  // calls on the calling thread and calls `done` before returning, so the faults of a test
  // double apply to these writes too. The file must stay open until `done` ran.
  // REQUIRES: called on `loop`'s thread.
  virtual void WriteAsync(uring::Loop& loop, std::string data, uint64_t offset, bool datasync,
                          std::function<void(Status)> done);
  virtual const std::string& path() const = 0;
};

// Forwards every call to a File it owns, so a test double overrides only what it needs
// (the File counterpart of EnvWrapper). WriteAsync is not forwarded: the default, which
// calls this object's PWrite and DataSync, keeps the double's overrides in the path.
class FileWrapper : public File {
 public:
  explicit FileWrapper(std::unique_ptr<File> target) : target_(std::move(target)) {}
  File* target() const { return target_.get(); }

  Status PWrite(uint64_t offset, std::span<const char> data) override {
    return target_->PWrite(offset, data);
  }
  Result<size_t> PRead(uint64_t offset, std::span<char> out) const override {
    return target_->PRead(offset, out);
  }
  Result<size_t> PReadCached(uint64_t offset, std::span<char> out) const override {
    return target_->PReadCached(offset, out);
  }
  Status DataSync() override { return target_->DataSync(); }
  Status Sync() override { return target_->Sync(); }
  Status Truncate(uint64_t size) override { return target_->Truncate(size); }
  Status Allocate(uint64_t offset, uint64_t len) override { return target_->Allocate(offset, len); }
  Result<uint64_t> Size() const override { return target_->Size(); }
  const std::string& path() const override { return target_->path(); }

 private:
  const std::unique_ptr<File> target_;
};

// A held advisory lock (flock); released on destruction.
class FileLock {
 public:
  FileLock() = default;
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  virtual ~FileLock() = default;
};

enum class OpenMode {
  kRead,       // must exist
  kReadWrite,  // must exist
  kCreate,     // read-write; created if missing, kept (not truncated) if present
  kCreateNew,  // read-write; fails if it exists
};

class Env {
 public:
  Env() = default;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  virtual ~Env() = default;

  // The process-wide POSIX implementation. Never deleted.
  static Env* Default();

  virtual Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  virtual Status Remove(const std::string& path) = 0;
  // Creates `path` and its missing parents (like mkdir -p); OK if it is a directory already.
  // Every directory it creates is durable when it returns: the parent of each was fsynced
  // (SyncDir), so a power cut cannot take away a new directory and what was synced in it.
  // Built on MakeDir and SyncDir, so a wrapper's overrides of those apply.
  Status CreateDir(const std::string& path);
  // One mkdir of `path` (its parent must exist): true if it created it, false if a directory
  // was there already. Not durable by itself (CreateDir syncs the parent).
  virtual Result<bool> MakeDir(const std::string& path) = 0;
  virtual Result<bool> Exists(const std::string& path) = 0;
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;  // names only
  // fsync on the directory itself: makes creations, renames and removals in it durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Exclusive non-blocking flock on `path` (created if missing); Busy if held elsewhere.
  virtual Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;
};

// Forwards every call to a target Env, so a test double overrides only what it needs.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    return target_->Open(path, mode);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return target_->Rename(from, to);
  }
  Status Remove(const std::string& path) override { return target_->Remove(path); }
  Result<bool> MakeDir(const std::string& path) override { return target_->MakeDir(path); }
  Result<bool> Exists(const std::string& path) override { return target_->Exists(path); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return target_->ListDir(dir);
  }
  Status SyncDir(const std::string& dir) override { return target_->SyncDir(dir); }
  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    return target_->LockFile(path);
  }

 private:
  Env* const target_;
};

// Writes `contents` to `path` atomically and durably: temp file, fsync, rename, fsync dir.
Status WriteFileAtomic(Env* env, const std::string& dir, const std::string& name,
                       std::string_view contents);
// Reads a whole (small) file.
Result<std::string> ReadFile(Env* env, const std::string& path);

}  // namespace kvs
