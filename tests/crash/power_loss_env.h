// PowerLossEnv: an Env that remembers what is durable, so a test can cut the power and see
// only that. Built on EnvWrapper like FaultInjectionEnv (store/test_util.h), modeled on
// LevelDB's FaultInjectionTestEnv and RocksDB's FaultInjectionTestFS.
//
// - File contents: a Sync/DataSync makes the file's current bytes (and size) its durable
//   image. Writes, truncations and allocations after it are lost at power loss, except that
//   RestoreDurableState may let random 4 KiB pages of them survive (pages written back out
//   of order, as a kernel may do).
// - Names: creations, renames and removals become durable with SyncDir of their directory;
//   at power loss a name not made durable disappears (or reverts to its old file).
// - Power cut: CutPower() (or CutPowerAfter(n) mutating operations) makes every later
//   mutating call fail with EIO and change nothing, like a machine that is gone. Close the
//   store, then RestoreDurableState() rewrites the directory to what survived.
// - Disk faults: FailWrites / FailSyncs make writes or syncs fail with an errno (an ENOSPC
//   write may leave a prefix written first, as a real short write does).
//
// Thread-safe. Tracks the files of one directory (the data directory), adopting those
// present at construction as durable. Durability is modeled, not delegated: syncs are not
// passed to the disk (a test's files need not survive a real power cut).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "store/env.h"

namespace kvs::crash {

class PowerLossEnv : public EnvWrapper {
 public:
  PowerLossEnv(const std::string& dir, uint64_t seed);

  // Power goes off now / after `ops` more mutating operations (pwrite, sync, truncate,
  // allocate, create, rename, remove, directory sync).
  void CutPower();
  void CutPowerAfter(uint64_t ops);
  bool powered_off() const { return off_.load(); }

  // REQUIRES: powered off and every File of this Env closed. Rewrites the directory to its
  // durable state; with `torn_pages`, each unsynced 4 KiB page within the durable size
  // survives with probability 1/2.
  Status RestoreDurableState(bool torn_pages);

  // Disk faults, sticky until ClearFaults(). `after_ops` lets that many operations of the
  // kind succeed first. `partial` (writes): half of the data is written before the error.
  void FailWrites(int err_no, uint64_t after_ops = 0, bool partial = false);
  void FailSyncs(int err_no, uint64_t after_ops = 0);
  void ClearFaults();
  // Sync/DataSync/SyncDir calls since construction, and how many of them failed.
  uint64_t sync_calls() const { return sync_calls_.load(); }
  uint64_t failed_syncs() const { return failed_syncs_.load(); }
  uint64_t failed_writes() const { return failed_writes_.load(); }
  // Sync/DataSync/SyncDir calls after the first injected fault (a retried fsync shows here).
  uint64_t syncs_after_fault() const;

  Result<std::unique_ptr<File>> Open(const std::string& path, OpenMode mode) override;
  Status Rename(const std::string& from, const std::string& to) override;
  Status Remove(const std::string& path) override;
  Status SyncDir(const std::string& dir) override;

 private:
  class TrackedFile;
  struct Inode {
    std::string durable;  // contents as of the last successful sync
  };

  // Counts one mutating operation; false (EIO) once the power is off.
  bool Tick();
  Status PowerError(const std::string& what) const;
  // Fault checks: the errno to fail with, or 0.
  int WriteFault();
  int SyncFault();
  void MarkFault();

  const std::string dir_;
  std::mt19937_64 rng_;  // guarded by mu_

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Inode>> names_;          // guarded by mu_
  std::map<std::string, std::shared_ptr<Inode>> durable_names_;  // guarded by mu_

  std::atomic<bool> off_{false};
  std::atomic<uint64_t> ops_{0};
  std::atomic<uint64_t> cut_after_{UINT64_MAX};

  std::atomic<int> write_errno_{0};
  std::atomic<int64_t> write_fault_after_{0};
  std::atomic<bool> partial_writes_{false};
  std::atomic<int> sync_errno_{0};
  std::atomic<int64_t> sync_fault_after_{0};
  std::atomic<uint64_t> sync_calls_{0};
  std::atomic<uint64_t> failed_syncs_{0};
  std::atomic<uint64_t> failed_writes_{0};
  std::atomic<uint64_t> fault_mark_{UINT64_MAX};  // sync_calls_ at the first fault
};

}  // namespace kvs::crash
