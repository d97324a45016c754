// PosixEnv: Env over plain POSIX calls. errno becomes a Status only via Status::FromErrno.

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "store/env.h"
#include "uring/loop.h"

namespace kvs {

Result<size_t> File::PReadCached(uint64_t /*offset*/, std::span<char> /*out*/) const {
  return Status::WouldBlock("this file cannot tell what is cached");
}

void File::WriteAsync(uring::Loop& /*loop*/, std::string data, uint64_t offset, bool datasync,
                      std::function<void(Status)> done) {
  Status s = PWrite(offset, data);
  if (s.ok() && datasync) s = DataSync();
  done(std::move(s));
}

Status Env::CreateDir(const std::string& path) {
  std::string_view full = path;
  while (full.size() > 1 && full.ends_with('/')) full.remove_suffix(1);
  // Parents first, like mkdir -p: `--data-dir a/b` works when a/ does not exist yet.
  size_t slash = full.find('/', 1);
  for (;;) {
    const std::string dir(full.substr(0, slash));
    KVS_ASSIGN_OR_RETURN(bool created, MakeDir(dir));
    if (created) {
      // The new entry lives in the parent: durable only once the parent is synced.
      const size_t up = dir.find_last_of('/');
      KVS_RETURN_IF_ERROR(SyncDir(up == std::string::npos ? "."
                                  : up == 0               ? "/"
                                                          : dir.substr(0, up)));
    }
    if (slash == std::string_view::npos) return Status::Ok();
    slash = full.find('/', slash + 1);
  }
}

namespace {

Status PosixError(std::string_view call, const std::string& path, int err_no) {
  return Status::FromErrno(fmt::format("{} {}", call, path), err_no);
}

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { ::close(fd_); }

  Status PWrite(uint64_t offset, std::span<const char> data) override {
    while (!data.empty()) {
      ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return PosixError("pwrite", path_, errno);
      }
      if (n == 0) return PosixError("pwrite", path_, EIO);  // no progress: never spin
      data = data.subspan(static_cast<size_t>(n));
      offset += static_cast<uint64_t>(n);
    }
    return Status::Ok();
  }

  Result<size_t> PRead(uint64_t offset, std::span<char> out) const override {
    return ReadAt(offset, out, 0);
  }
  Result<size_t> PReadCached(uint64_t offset, std::span<char> out) const override {
    return ReadAt(offset, out, RWF_NOWAIT);
  }

  Status DataSync() override {
    return ::fdatasync(fd_) == 0 ? Status::Ok() : PosixError("fdatasync", path_, errno);
  }
  Status Sync() override {
    return ::fsync(fd_) == 0 ? Status::Ok() : PosixError("fsync", path_, errno);
  }
  Status Truncate(uint64_t size) override {
    return ::ftruncate(fd_, static_cast<off_t>(size)) == 0 ? Status::Ok()
                                                           : PosixError("ftruncate", path_, errno);
  }
  Status Allocate(uint64_t offset, uint64_t len) override {
    int rc = ::posix_fallocate(fd_, static_cast<off_t>(offset), static_cast<off_t>(len));
    if (rc == 0) return Status::Ok();
    if (rc == EOPNOTSUPP) return Status::NotSupported("fallocate " + path_);
    return PosixError("fallocate", path_, rc);
  }
  Result<uint64_t> Size() const override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return PosixError("fstat", path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }
  void WriteAsync(uring::Loop& loop, std::string data, uint64_t offset, bool datasync,
                  std::function<void(Status)> done) override {
    loop.WriteAt(fd_, std::move(data), offset, datasync,
                 [this, datasync, done = std::move(done)](int res) {
                   done(res < 0 ? PosixError(datasync ? "pwrite+fdatasync" : "pwrite", path_, -res)
                                : Status::Ok());
                 });
  }
  const std::string& path() const override { return path_; }

 private:
  // Reads until `out` is full or the file ends. With RWF_NOWAIT the kernel copies what the
  // page cache holds and returns EAGAIN (or a short count) where it would start I/O.
  Result<size_t> ReadAt(uint64_t offset, std::span<char> out, int flags) const {
    size_t done = 0;
    while (done < out.size()) {
      struct iovec iov = {out.data() + done, out.size() - done};
      ssize_t n = ::preadv2(fd_, &iov, 1, static_cast<off_t>(offset + done), flags);
      if (n < 0) {
        if (errno == EINTR) continue;
        if ((flags & RWF_NOWAIT) != 0 && (errno == EAGAIN || errno == EOPNOTSUPP)) {
          return Status::WouldBlock(fmt::format("{} not cached", path_));
        }
        return PosixError("pread", path_, errno);
      }
      if (n == 0) break;  // end of file
      done += static_cast<size_t>(n);
    }
    return done;
  }

  const int fd_;
  const std::string path_;
};

class PosixLock final : public FileLock {
 public:
  explicit PosixLock(int fd) : fd_(fd) {}
  ~PosixLock() override { ::close(fd_); }  // closing drops the flock

 private:
  const int fd_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kRead:
        flags |= O_RDONLY;
        break;
      case OpenMode::kReadWrite:
        flags |= O_RDWR;
        break;
      case OpenMode::kCreate:
        flags |= O_RDWR | O_CREAT;
        break;
      case OpenMode::kCreateNew:
        flags |= O_RDWR | O_CREAT | O_EXCL;
        break;
    }
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) {
      if (errno == ENOENT) return Status::NotFound(fmt::format("{}: no such file", path));
      return PosixError("open", path, errno);
    }
    return std::unique_ptr<File>(std::make_unique<PosixFile>(fd, path));
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return PosixError("rename", from + " to", errno);
    return Status::Ok();
  }

  Status Remove(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("unlink", path, errno);
    return Status::Ok();
  }

  Result<bool> MakeDir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) == 0) return true;
    if (errno != EEXIST) return PosixError("mkdir", path, errno);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat", path, errno);
    if (!S_ISDIR(st.st_mode)) return Status::InvalidArgument(path + " is not a directory");
    return false;
  }

  Result<bool> Exists(const std::string& path) override {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT) return false;
    return PosixError("stat", path, errno);
  }

  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return PosixError("opendir", dir, errno);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return PosixError("readdir", dir, err);
    return names;
  }

  Status SyncDir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError("open", dir, errno);
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    return rc == 0 ? Status::Ok() : PosixError("fsync", dir, err);
  }

  Result<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError("open", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return Status::Busy(
            fmt::format("{} is locked: another kvs-server is using this data directory", path));
      }
      return PosixError("flock", path, err);
    }
    return std::unique_ptr<FileLock>(std::make_unique<PosixLock>(fd));
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();  // never destroyed: used until exit
  return env;
}

Status WriteFileAtomic(Env* env, const std::string& dir, const std::string& name,
                       std::string_view contents) {
  const std::string tmp = dir + "/" + name + ".tmp";
  const std::string final_path = dir + "/" + name;
  {
    KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> f, env->Open(tmp, OpenMode::kCreate));
    KVS_RETURN_IF_ERROR(f->Truncate(0));
    KVS_RETURN_IF_ERROR(f->PWrite(0, contents));
    KVS_RETURN_IF_ERROR(f->Sync());
  }
  KVS_RETURN_IF_ERROR(env->Rename(tmp, final_path));
  return env->SyncDir(dir);
}

Result<std::string> ReadFile(Env* env, const std::string& path) {
  KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> f, env->Open(path, OpenMode::kRead));
  KVS_ASSIGN_OR_RETURN(uint64_t size, f->Size());
  std::string out(size, '\0');
  KVS_ASSIGN_OR_RETURN(size_t n, f->PRead(0, out));
  out.resize(n);
  return out;
}

}  // namespace kvs
