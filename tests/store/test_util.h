// Helpers for store tests: a temporary directory and a fault-injecting Env.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/mutex.h"
#include "store/env.h"

namespace kvs::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kvs-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Drops the file's pages from the page cache. False when the kernel kept some cached (a
// test that needs a read to miss the cache skips then).
inline bool EvictFromPageCache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  bool evicted = ::fstat(fd, &st) == 0 && ::fdatasync(fd) == 0 &&
                 ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0;
  if (evicted && st.st_size > 0) {
    const auto len = static_cast<size_t>(st.st_size);
    void* map = ::mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
      evicted = false;
    } else {
      const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
      std::vector<unsigned char> resident((len + page - 1) / page);
      evicted = ::mincore(map, len, resident.data()) == 0;
      for (unsigned char r : resident) evicted = evicted && (r & 1) == 0;
      ::munmap(map, len);
    }
  }
  ::close(fd);
  return evicted;
}

// An Env whose files fail writes or syncs on demand (EIO, ENOSPC, ...): the store's reaction
// to disk faults is tested through it. Failing is sticky until cleared.
class FaultInjectionEnv : public EnvWrapper {
 public:
  FaultInjectionEnv() : EnvWrapper(Env::Default()) {}

  void FailWrites(int err_no) { write_errno_ = err_no; }
  void FailSyncs(int err_no) { sync_errno_ = err_no; }
  // While set, PReadCached finds nothing cached (as after an eviction): the kernel's own
  // answer cannot be forced, because an RWF_NOWAIT read may start readahead and, on a fast
  // disk, return the data it brought in.
  void SetUncached(bool uncached) { uncached_ = uncached; }
  void Clear() {
    write_errno_ = 0;
    sync_errno_ = 0;
    uncached_ = false;
  }

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    auto f = target()->Open(path, mode);
    if (!f.ok()) return f;
    return std::unique_ptr<File>(std::make_unique<FaultyFile>(this, std::move(f).value()));
  }

 private:
  class FaultyFile : public FileWrapper {
   public:
    FaultyFile(FaultInjectionEnv* env, std::unique_ptr<File> base)
        : FileWrapper(std::move(base)), env_(env) {}
    Status PWrite(uint64_t offset, std::span<const char> data) override {
      if (int e = env_->write_errno_.load()) return Status::FromErrno("pwrite " + path(), e);
      return FileWrapper::PWrite(offset, data);
    }
    Result<size_t> PReadCached(uint64_t offset, std::span<char> out) const override {
      if (env_->uncached_.load()) return Status::WouldBlock(path() + " not cached (injected)");
      return FileWrapper::PReadCached(offset, out);
    }
    Status DataSync() override {
      if (int e = env_->sync_errno_.load()) return Status::FromErrno("fdatasync " + path(), e);
      return FileWrapper::DataSync();
    }
    Status Sync() override {
      if (int e = env_->sync_errno_.load()) return Status::FromErrno("fsync " + path(), e);
      return FileWrapper::Sync();
    }

   private:
    FaultInjectionEnv* const env_;
  };

  std::atomic<int> write_errno_{0};
  std::atomic<int> sync_errno_{0};
  std::atomic<bool> uncached_{false};
};

// An Env whose file writes (PWrite) and directory syncs wait at a gate while the test keeps
// it closed: for proving that a caller does not wait for them (a segment roll, the
// zero-filler). Open() lets every waiting call go on.
class GatedEnv : public EnvWrapper {
 public:
  GatedEnv() : EnvWrapper(Env::Default()) {}
  ~GatedEnv() override { Open(); }

  void CloseWrites() { SetClosed(&writes_closed_); }
  void CloseDirSyncs() { SetClosed(&dir_syncs_closed_); }
  void Open() {
    MutexLock lock(&mu_);
    writes_closed_ = false;
    dir_syncs_closed_ = false;
    cv_.SignalAll();
  }
  // Waits (up to 30 s: a bound against hanging, not a timing) until `n` calls wait at the
  // gate; false if they never came.
  bool AwaitWaiting(int n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    MutexLock lock(&mu_);
    while (waiting_ < n) {
      if (!cv_.WaitUntil(&mu_, deadline) && waiting_ < n) return false;
    }
    return true;
  }

  Status SyncDir(const std::string& dir) override {
    Pass(&dir_syncs_closed_);
    return target()->SyncDir(dir);
  }
  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    auto f = target()->Open(path, mode);
    if (!f.ok()) return f;
    return std::unique_ptr<File>(std::make_unique<GatedFile>(this, std::move(f).value()));
  }

 private:
  class GatedFile : public FileWrapper {
   public:
    GatedFile(GatedEnv* env, std::unique_ptr<File> base)
        : FileWrapper(std::move(base)), env_(env) {}
    Status PWrite(uint64_t offset, std::span<const char> data) override {
      env_->Pass(&env_->writes_closed_);
      return FileWrapper::PWrite(offset, data);
    }

   private:
    GatedEnv* const env_;
  };

  void SetClosed(bool* closed) {
    MutexLock lock(&mu_);
    *closed = true;
  }
  void Pass(bool* closed) {
    MutexLock lock(&mu_);
    if (!*closed) return;
    ++waiting_;
    cv_.SignalAll();
    while (*closed) cv_.Wait(&mu_);
    --waiting_;
  }

  Mutex mu_;
  CondVar cv_;
  bool writes_closed_ GUARDED_BY(mu_) = false;
  bool dir_syncs_closed_ GUARDED_BY(mu_) = false;
  int waiting_ GUARDED_BY(mu_) = 0;
};

}  // namespace kvs::testing
