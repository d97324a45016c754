// DirSyncEnv: an Env that records the directories it fsyncs (SyncDir) and can fail those
// fsyncs, for tests of what a creation or rename makes durable. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "base/mutex.h"
#include "store/env.h"

namespace kvs::testing {

class DirSyncEnv : public EnvWrapper {
 public:
  DirSyncEnv() : EnvWrapper(Env::Default()) {}

  // SyncDir fails with err_no (0: succeeds again), without syncing.
  void FailDirSyncs(int err_no) {
    MutexLock lock(&mu_);
    fail_errno_ = err_no;
  }
  // The directories synced so far, in call order (failed calls included).
  std::vector<std::string> synced() {
    MutexLock lock(&mu_);
    return synced_;
  }

  Status SyncDir(const std::string& dir) override {
    {
      MutexLock lock(&mu_);
      synced_.push_back(dir);
      if (fail_errno_ != 0) return Status::FromErrno("fsync " + dir, fail_errno_);
    }
    return target()->SyncDir(dir);
  }

 private:
  Mutex mu_;
  int fail_errno_ GUARDED_BY(mu_) = 0;
  std::vector<std::string> synced_ GUARDED_BY(mu_);
};

}  // namespace kvs::testing
