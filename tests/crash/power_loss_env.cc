#include "crash/power_loss_env.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

namespace kvs::crash {
namespace {

constexpr uint64_t kPage = 4096;
constexpr std::string_view kLockName = "LOCK";  // flock'd, never written: not tracked

Result<std::string> ReadAll(const File& file) {
  KVS_ASSIGN_OR_RETURN(uint64_t size, file.Size());
  std::string out(size, '\0');
  KVS_ASSIGN_OR_RETURN(size_t n, file.PRead(0, out));
  out.resize(n);
  return out;
}

}  // namespace

class PowerLossEnv::TrackedFile final : public File {
 public:
  TrackedFile(PowerLossEnv* env, std::shared_ptr<Inode> inode, std::unique_ptr<File> base)
      : env_(env), inode_(std::move(inode)), base_(std::move(base)) {}

  Status PWrite(uint64_t offset, std::span<const char> data) override {
    if (!env_->Tick()) return env_->PowerError("pwrite " + path());
    if (int e = env_->WriteFault()) {
      env_->failed_writes_.fetch_add(1);
      env_->MarkFault();
      if (env_->partial_writes_.load()) {
        // A short write: part of the data reached the file before the error.
        (void)base_->PWrite(offset, data.first(data.size() / 2));
      }
      return Status::FromErrno("pwrite " + path(), e);
    }
    return base_->PWrite(offset, data);
  }
  Result<size_t> PRead(uint64_t offset, std::span<char> out) const override {
    return base_->PRead(offset, out);
  }
  Status DataSync() override { return SyncImpl("fdatasync"); }
  Status Sync() override { return SyncImpl("fsync"); }
  Status Truncate(uint64_t size) override {
    if (!env_->Tick()) return env_->PowerError("ftruncate " + path());
    return base_->Truncate(size);
  }
  Status Allocate(uint64_t offset, uint64_t len) override {
    if (!env_->Tick()) return env_->PowerError("fallocate " + path());
    return base_->Allocate(offset, len);
  }
  Result<uint64_t> Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  Status SyncImpl(const char* call) {
    env_->sync_calls_.fetch_add(1);
    if (!env_->Tick()) return env_->PowerError(fmt::format("{} {}", call, path()));
    if (int e = env_->SyncFault()) {
      env_->failed_syncs_.fetch_add(1);
      env_->MarkFault();
      return Status::FromErrno(fmt::format("{} {}", call, path()), e);
    }
    // Durability is modeled here, so the real fsync is skipped: it would only cost time.
    KVS_ASSIGN_OR_RETURN(std::string now, ReadAll(*base_));
    std::lock_guard lock(env_->mu_);
    inode_->durable = std::move(now);
    return Status::Ok();
  }

  PowerLossEnv* const env_;
  const std::shared_ptr<Inode> inode_;
  const std::unique_ptr<File> base_;
};

PowerLossEnv::PowerLossEnv(const std::string& dir, uint64_t seed)
    : EnvWrapper(Env::Default()), dir_(dir), rng_(seed) {
  // What is on disk when the test starts counts as durable.
  Result<std::vector<std::string>> names = target()->ListDir(dir_);
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    if (name == kLockName) continue;
    const std::string path = dir_ + "/" + name;
    Result<std::unique_ptr<File>> f = target()->Open(path, OpenMode::kRead);
    if (!f.ok()) continue;
    auto inode = std::make_shared<Inode>();
    if (Result<std::string> bytes = ReadAll(**f); bytes.ok()) inode->durable = std::move(*bytes);
    names_[path] = inode;
    durable_names_[path] = inode;
  }
}

void PowerLossEnv::CutPower() { off_.store(true); }

void PowerLossEnv::CutPowerAfter(uint64_t ops) { cut_after_.store(ops_.load() + ops); }

bool PowerLossEnv::Tick() {
  if (off_.load()) return false;
  if (ops_.fetch_add(1) + 1 > cut_after_.load()) {
    off_.store(true);
    return false;
  }
  return true;
}

Status PowerLossEnv::PowerError(const std::string& what) const {
  return Status::FromErrno(what + " (power is off)", EIO);
}

void PowerLossEnv::FailWrites(int err_no, uint64_t after_ops, bool partial) {
  write_fault_after_.store(static_cast<int64_t>(after_ops));
  partial_writes_.store(partial);
  write_errno_.store(err_no);
}

void PowerLossEnv::FailSyncs(int err_no, uint64_t after_ops) {
  sync_fault_after_.store(static_cast<int64_t>(after_ops));
  sync_errno_.store(err_no);
}

void PowerLossEnv::ClearFaults() {
  write_errno_.store(0);
  sync_errno_.store(0);
}

void PowerLossEnv::MarkFault() {
  uint64_t unset = UINT64_MAX;
  fault_mark_.compare_exchange_strong(unset, sync_calls_.load());
}

uint64_t PowerLossEnv::syncs_after_fault() const {
  const uint64_t mark = fault_mark_.load();
  return mark == UINT64_MAX ? 0 : sync_calls_.load() - mark;
}

int PowerLossEnv::WriteFault() {
  const int e = write_errno_.load();
  if (e == 0 || write_fault_after_.fetch_sub(1) > 0) return 0;
  return e;
}

int PowerLossEnv::SyncFault() {
  const int e = sync_errno_.load();
  if (e == 0 || sync_fault_after_.fetch_sub(1) > 0) return 0;
  return e;
}

Result<std::unique_ptr<File>> PowerLossEnv::Open(const std::string& path, OpenMode mode) {
  KVS_ASSIGN_OR_RETURN(bool existed, target()->Exists(path));
  const bool creates = !existed && (mode == OpenMode::kCreate || mode == OpenMode::kCreateNew);
  if (creates && !Tick()) return PowerError("open " + path);
  KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> base, target()->Open(path, mode));
  std::shared_ptr<Inode> inode;
  {
    std::lock_guard lock(mu_);
    std::shared_ptr<Inode>& slot = names_[path];
    if (slot == nullptr) {
      slot = std::make_shared<Inode>();
      if (existed) {
        // Made behind our back (not through this Env): take it as durable.
        if (Result<std::string> bytes = ReadAll(*base); bytes.ok()) slot->durable = *bytes;
        durable_names_[path] = slot;
      }
    }
    inode = slot;
  }
  return std::unique_ptr<File>(std::make_unique<TrackedFile>(this, inode, std::move(base)));
}

Status PowerLossEnv::Rename(const std::string& from, const std::string& to) {
  if (!Tick()) return PowerError("rename " + from);
  KVS_RETURN_IF_ERROR(target()->Rename(from, to));
  std::lock_guard lock(mu_);
  auto it = names_.find(from);
  if (it != names_.end()) {
    names_[to] = it->second;
    names_.erase(from);
  }
  return Status::Ok();
}

Status PowerLossEnv::Remove(const std::string& path) {
  if (!Tick()) return PowerError("unlink " + path);
  KVS_RETURN_IF_ERROR(target()->Remove(path));
  std::lock_guard lock(mu_);
  names_.erase(path);
  return Status::Ok();
}

Status PowerLossEnv::SyncDir(const std::string& dir) {
  sync_calls_.fetch_add(1);
  if (!Tick()) return PowerError("fsync " + dir);
  if (int e = SyncFault()) {
    failed_syncs_.fetch_add(1);
    MarkFault();
    return Status::FromErrno("fsync " + dir, e);
  }
  std::lock_guard lock(mu_);
  durable_names_ = names_;  // one directory is tracked
  return Status::Ok();
}

Status PowerLossEnv::RestoreDurableState(bool torn_pages) {
  off_.store(true);
  std::lock_guard lock(mu_);
  // Read what every file holds now (by its current name) before rewriting anything.
  std::map<const Inode*, std::string> current;
  for (const auto& [path, inode] : names_) {
    KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> f, target()->Open(path, OpenMode::kRead));
    KVS_ASSIGN_OR_RETURN(current[inode.get()], ReadAll(*f));
  }
  for (const auto& [path, inode] : names_) {
    if (!durable_names_.contains(path)) KVS_RETURN_IF_ERROR(target()->Remove(path));
  }
  for (const auto& [path, inode] : durable_names_) {
    std::string bytes = inode->durable;
    auto now = current.find(inode.get());
    if (torn_pages && now != current.end()) {
      const std::string& cur = now->second;
      for (uint64_t p = 0; p < bytes.size() && p < cur.size(); p += kPage) {
        const uint64_t n = std::min<uint64_t>({kPage, bytes.size() - p, cur.size() - p});
        if (bytes.compare(p, n, cur, p, n) != 0 && rng_() % 2 == 0) bytes.replace(p, n, cur, p, n);
      }
    }
    KVS_ASSIGN_OR_RETURN(std::unique_ptr<File> f, target()->Open(path, OpenMode::kCreate));
    KVS_RETURN_IF_ERROR(f->Truncate(0));
    KVS_RETURN_IF_ERROR(f->PWrite(0, bytes));
  }
  names_ = durable_names_;
  return Status::Ok();
}

}  // namespace kvs::crash
