// LogStore: the "kvs" engine. A Bitcask-style log of CRC'd records in segment files
// `<n>.log` (format: store/log_format.h, docs/FORMAT.md) plus an in-memory sharded hash
// index of key -> newest record. Values stay on disk; a Get is one index lookup + one pread.
//
// Thread-safety: every Engine method may be called from any thread. Writes are serialised
// by one writer lock; reads take only an index shard's shared lock and a segment reference,
// so they never wait for a write's fsync.
//
// Group commit: the io_uring loop does its own I/O through PrepareBatch() / CommitBatch():
// Prepare encodes a whole batch and reserves its place in the active segment, the loop
// writes (and fdatasyncs) those bytes itself, and Commit publishes them to the index. At
// most one prepared batch is outstanding at a time; Write() waits for it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/data_dir.h"
#include "store/engine.h"
#include "store/env.h"
#include "store/index.h"

namespace kvs {

class LogStore final : public Engine {
 public:
  // Opens or creates the store in options.data_dir, recovering from its segments.
  // Errors: Busy (locked), InvalidArgument (other engine), Corruption (damaged record outside
  // the active segment's tail, unless options.repair), IOError.
  static Result<std::unique_ptr<LogStore>> Open(const Options& options,
                                                Env* env = Env::Default());
  ~LogStore() override;

  std::string_view name() const override { return "kvs"; }
  Result<std::string> Get(std::string_view key) override;
  Status Set(std::string_view key, std::string_view value) override;
  Status Remove(std::string_view key) override;
  Status Write(const WriteBatch& batch, std::vector<Status>* op_results) override;
  Status Sync() override;
  EngineStats Stats() const override;

  // ---- Group commit, for the io_uring loop -------------------------------------------

  // One encoded batch and where it goes. Move-only; pass it back to CommitBatch.
  struct PreparedBatch {
    std::string bytes;    // the records, to be written at `offset` of descriptor `fd`
    int fd = -1;
    uint64_t offset = 0;
    bool needs_sync = false;  // kAlways: fdatasync before CommitBatch
    std::vector<Status> op_results;  // filled at prepare (NotFound for absent deletes)

   private:
    friend class LogStore;
    struct Placed {
      size_t op;              // index into the batch
      uint64_t offset;        // record offset in the segment
      uint32_t value_len;
      bool tombstone;
      uint64_t seq;
      std::string key;
    };
    std::vector<Placed> placed;
    uint32_t segment = 0;
  };

  // Validates and encodes `batch`, assigns sequence numbers and reserves its bytes in the
  // active segment (rolling to a new segment first if needed). Deletes of keys that do not
  // exist get NotFound in op_results and write nothing. ReadOnly after a failure.
  // REQUIRES: no other prepared batch outstanding (CommitBatch not yet called).
  Result<PreparedBatch> PrepareBatch(const WriteBatch& batch);

  // Completes a prepared batch. `io` is the outcome of writing prepared.bytes (and, when
  // needs_sync, fdatasync): if OK the records become visible to readers; otherwise the store
  // turns read-only and `io` is returned. Must be called exactly once per PrepareBatch.
  Status CommitBatch(PreparedBatch&& prepared, const Status& io);

 private:
  struct Segment {
    uint32_t id = 0;
    std::unique_ptr<File> file;
  };

  LogStore(const Options& options, Env* env, std::unique_ptr<DataDir> dir);

  struct SegmentScan;

  Status Recover();
  // Rebuilds the index entries of one segment; returns where its valid data ends.
  Result<uint64_t> RecoverSegment(uint32_t id, bool active);
  Result<SegmentScan> ScanSegment(const File& file, bool active);
  Status RepairSegment(uint32_t id);
  Status CreateSegmentLocked(uint32_t id);  // REQUIRES: write_mu_ held (or recovery)
  void Preallocate(File& file, uint64_t from);
  Status RollSegmentLocked();
  std::string SegmentPath(uint32_t id) const;
  std::shared_ptr<Segment> FindSegment(uint32_t id) const;
  void Warn(std::string_view msg) const;
  Status ReadOnlyError() const;  // REQUIRES: write_mu_ held
  void Fail(const Status& why);  // REQUIRES: write_mu_ held
  static Status CheckLimits(const WriteBatch::Op& op);
  void PeriodicSyncLoop();

  const Options options_;
  Env* const env_;
  const std::unique_ptr<DataDir> dir_;
  Index index_;

  mutable std::shared_mutex segments_mu_;
  std::map<uint32_t, std::shared_ptr<Segment>> segments_;  // guarded by segments_mu_

  // The writer's state, guarded by write_mu_.
  std::mutex write_mu_;
  std::condition_variable batch_done_;
  bool batch_outstanding_ = false;
  std::shared_ptr<Segment> active_;
  uint64_t write_offset_ = 0;  // next byte of the active segment to write
  uint64_t next_seq_ = 1;
  bool failed_ = false;

  mutable std::mutex failure_mu_;
  std::string failure_;  // why the store is read-only; guarded by failure_mu_

  std::atomic<uint64_t> live_bytes_{0};
  std::atomic<uint64_t> dead_bytes_{0};
  std::atomic<uint64_t> closed_bytes_{0};  // sizes of the segments before the active one
  std::atomic<uint64_t> active_bytes_{0};  // == write_offset_, readable without the lock
  std::atomic<uint64_t> fsyncs_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> batched_ops_{0};
  std::atomic<bool> read_only_{false};

  // kPeriodic: a thread that calls Sync() every options_.sync_interval_ms.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool stopping_ = false;  // guarded by sync_mu_
  std::thread sync_thread_;
};

}  // namespace kvs
