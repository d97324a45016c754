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
//
// Compaction (docs/COMPACTION.md): a background thread, or Compact() called inline, copies
// the live records of the closed segments into new segments with hint files and swaps them
// in crash-safely; readers hold segments by reference, so a swap never fails a read. The
// same thread writes the hint file of every segment the writer closes (WriteHints()).
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
  static Result<std::unique_ptr<LogStore>> Open(const Options& options, Env* env = Env::Default());
  ~LogStore() override;

  std::string_view name() const override { return "kvs"; }
  Result<std::string> Get(std::string_view key) override;
  Result<std::string> GetCached(std::string_view key) override;  // the pread with RWF_NOWAIT
  Status Write(const WriteBatch& batch, std::vector<Status>* op_results) override;
  Status Sync() override;
  EngineStats Stats() const override;
  Status ForEach(
      const std::function<Status(std::string_view key, std::string_view value)>& fn) override;

  // ---- Group commit, for the io_uring loop -------------------------------------------

  // One encoded batch and where it goes. Move-only; pass it back to CommitBatch.
  struct PreparedBatch {
    std::string bytes;  // the records, to be written at `offset` of descriptor `fd`
    int fd = -1;
    uint64_t offset = 0;
    bool needs_sync = false;         // kAlways: fdatasync before CommitBatch
    std::vector<Status> op_results;  // filled at prepare (NotFound for absent deletes)

   private:
    friend class LogStore;
    struct Placed {
      size_t op;        // index into the batch
      uint64_t offset;  // record offset in the segment
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

  // Writes a prepared batch's bytes, and fdatasyncs them when needs_sync, on the calling
  // thread: what the loop otherwise does through io_uring. Returns the `io` to pass to
  // CommitBatch.
  Status WritePrepared(const PreparedBatch& prepared);

  // Completes a prepared batch. `io` is the outcome of writing prepared.bytes (and, when
  // needs_sync, fdatasync): if OK the records become visible to readers; otherwise the store
  // turns read-only and `io` is returned. Must be called exactly once per PrepareBatch.
  Status CommitBatch(PreparedBatch&& prepared, const Status& io);

  // ---- Compaction (docs/COMPACTION.md) -------------------------------------------------

  // Compacts now, on the calling thread, whatever the thresholds: closes the active segment
  // (a fresh one takes over) and copies the live records of every closed segment into new
  // segments with hint files, then swaps them in. OK and nothing done when nothing was ever
  // written. Reads and writes go on meanwhile (the write lock is held only to close the
  // active segment); compactions are serialised. Errors leave the data as it was (the
  // outputs are removed); Aborted when the store is shutting down, ReadOnly after a failed
  // write. Any thread; the background thread (Options::background_compaction) calls it when
  // CompactionWanted().
  Status Compact();

  // True when the dead bytes (overwritten or removed records, and tombstones) reach both
  // Options::compaction_min_dead_bytes and Options::compaction_dead_ratio of all segments.
  bool CompactionWanted() const;

  // Writes, on the calling thread, the hint files still missing: of the segments closed
  // since Open and of the closed segments Open had to scan (docs/FORMAT.md "Hint files").
  // The background thread (Options::background_compaction) does this by itself after each
  // roll; a clean shutdown writes those of rolled segments that it has not reached. Serialised
  // with compactions. Each failure is also passed to Options::on_warning; the first one is
  // returned, and that segment stays without a hint (recovery scans it).
  Status WriteHints();

  // How the last Open rebuilt the index: for tests and the restart benchmark.
  struct RecoveryStats {
    uint64_t segments_from_hints = 0;   // closed segments loaded from their hint file
    uint64_t segments_scanned = 0;      // segments read record by record
    uint64_t compactions_finished = 0;  // interrupted swaps completed (inputs removed)
    uint64_t compactions_undone = 0;    // incomplete compactions whose outputs were removed
  };
  RecoveryStats recovery_stats() const { return recovery_stats_; }

 private:
  // One segment file, shared by the segment map and in-flight readers. A segment that a
  // compaction replaced is marked obsolete and dropped from the map; the last holder's
  // reference closes the file and unlinks it (and its hint), so a read in flight never
  // finds its file gone.
  struct Segment {
    Segment(Env* e, uint32_t segment_id, std::unique_ptr<File> f)
        : env(e), id(segment_id), file(std::move(f)) {}
    Segment(const Segment&) = delete;
    Segment& operator=(const Segment&) = delete;
    ~Segment();

    Env* const env;
    const uint32_t id;
    const std::unique_ptr<File> file;
    std::atomic<uint64_t> bytes{0};  // bytes of records (the active one: reserved so far)
    uint64_t meta_bytes = 0;         // its kMeta record, for a compaction output
    std::string hint_path;           // its hint file, if it has one; set under compact_mu_
    std::atomic<bool> obsolete{false};
  };

  LogStore(const Options& options, Env* env, std::unique_ptr<DataDir> dir);

  struct SegmentScan;
  struct RecoveryTally;
  struct LiveRecord;
  struct OutputPlan;

  // ---- Recovery (log_recovery.cc)
  Status Recover();
  // Loads every segment of `ids` (sorted; `active_id` is the active one, 0 if none) into the
  // index and the segment map, several segments at a time; `outputs`: compaction outputs
  // (id -> meta record size). Sets *active_end to where the active segment's data ends.
  Status RecoverSegments(const std::vector<uint32_t>& ids, uint32_t active_id,
                         const std::map<uint32_t, uint64_t>& outputs, uint64_t* active_end);
  // The per-segment steps below may run on several threads at once, one segment each; what
  // they find (warnings included) goes to `tally`, merged by RecoverSegments.
  // Rebuilds the index entries of one segment; returns where its valid data ends.
  Result<uint64_t> RecoverSegment(uint32_t id, bool active, RecoveryTally* tally);
  Result<SegmentScan> ScanSegment(const File& file, bool active);
  Status RepairSegment(uint32_t id, RecoveryTally* tally);
  // Loads closed segment `id`'s index entries from its hint file. False (with a warning)
  // when the hint is missing or unusable and the segment must be scanned instead.
  Result<bool> RecoverFromHint(uint32_t id, uint64_t meta_bytes, RecoveryTally* tally);
  // Finishes compactions whose outputs are all in place (removes the segments they
  // replace) and undoes the others (removes their outputs). `ids` (sorted) is updated to
  // the segments that stay; `outputs` receives the compaction outputs among them (id ->
  // meta record size). Sets *changed when it removed a file.
  Status RecoverCompactions(std::vector<uint32_t>* ids, std::map<uint32_t, uint64_t>* outputs,
                            bool* changed);

  // ---- Compaction (log_compaction.cc)
  Status CompactLocked();  // REQUIRES: compact_mu_ held
  Status WriteOutputs(const std::vector<LiveRecord>& live, const std::vector<OutputPlan>& plan,
                      const std::map<uint32_t, std::shared_ptr<Segment>>& inputs);
  void RemoveOutputFiles(uint32_t first, size_t count);
  void CompactionLoop();

  // ---- Hint files of closed segments (log_hints.cc)
  // Queues closed segment `id` for a hint; `rolled`: closed by the writer in this run (a
  // clean shutdown writes those that are still queued).
  void QueueHint(uint32_t id, bool rolled);
  Status WritePendingHints(bool rolled_only);
  Status WriteHintLocked(uint32_t id);  // REQUIRES: compact_mu_ held
  void MaybeWakeCompactor();
  uint64_t DeadBytes() const;

  // ---- Segments (log_store.cc)
  // Creates segment `id` as the new active one. REQUIRES: write_mu_ held (or recovery).
  Status CreateSegmentLocked(uint32_t id);
  void Preallocate(File& file, uint64_t from);
  // Closes the active segment and makes `next_id` (default: next_segment_id_) the active one.
  // REQUIRES: write_mu_ held, no batch outstanding.
  Status RollSegmentLocked(uint32_t next_id = 0);
  std::string SegmentPath(uint32_t id) const;
  std::string HintPath(uint32_t id) const;
  std::shared_ptr<Segment> FindSegment(uint32_t id) const;
  // Get, reading the record with PReadCached when cached_only.
  Result<std::string> Lookup(std::string_view key, bool cached_only);
  void Warn(std::string_view msg) const;
  Status ReadOnlyError() const;  // REQUIRES: write_mu_ held
  void Fail(const Status& why);  // REQUIRES: write_mu_ held
  void PeriodicSyncLoop();
  // The zero-filler (Options::zero_fill_ahead_bytes): writes zeros, a chunk at a time, just
  // ahead of write_offset_ in the active segment, with its own fdatasync.
  void ZeroFillLoop();
  // Waits until the zero-filler writes nothing in the active segment at or below `end`
  // (end = UINT64_MAX: nothing at all, before the segment is truncated or replaced).
  void AwaitZeroFillLocked(std::unique_lock<std::mutex>& lock, uint64_t end);
  // The filler's next range starts here: the first whole block past the reserved bytes
  // (the block holding write_offset_ is written already), or past what it zeroed.
  uint64_t ZeroFillBeginLocked() const;
  // ...and is due while it starts below this distance ahead of the log's end.
  uint64_t ZeroFillTargetLocked() const;
  bool ZeroFillDueLocked() const;

  const Options options_;
  Env* const env_;
  const std::unique_ptr<DataDir> dir_;
  Index index_;
  RecoveryStats recovery_stats_;       // written by Open only
  uint64_t recovered_tombstones_ = 0;  // Open only: tombstones that entered the index

  mutable std::shared_mutex segments_mu_;
  std::map<uint32_t, std::shared_ptr<Segment>> segments_;  // guarded by segments_mu_

  // The writer's state, guarded by write_mu_.
  std::mutex write_mu_;
  std::condition_variable batch_done_;
  bool batch_outstanding_ = false;
  std::shared_ptr<Segment> active_;
  uint64_t write_offset_ = 0;  // next byte of the active segment to write
  uint64_t next_seq_ = 1;
  uint32_t next_segment_id_ = 1;  // ids are never reused (compaction reserves ranges)
  bool failed_ = false;
  // Zero-filling, also guarded by write_mu_: [write_offset_, zeroed_until_) of the active
  // segment holds written zeros; while zero_claimed_, the filler writes
  // from zero_claim_begin_ on without the lock, and records never go there.
  uint64_t zeroed_until_ = 0;
  bool zero_claimed_ = false;
  uint64_t zero_claim_begin_ = 0;
  bool zero_fill_stopping_ = false;
  std::condition_variable zero_cv_;  // the filler's work, and the end of its claims
  std::thread zero_thread_;

  mutable std::mutex failure_mu_;
  std::string failure_;  // why the store is read-only; guarded by failure_mu_

  // Space accounting: dead bytes = disk - live - meta (docs/COMPACTION.md).
  std::atomic<uint64_t> live_bytes_{0};  // records the index points at
  std::atomic<uint64_t> disk_bytes_{0};  // records in the segment map (+ reserved ones)
  std::atomic<uint64_t> meta_bytes_{0};  // kMeta records in the segment map
  std::atomic<uint64_t> fsyncs_{0};
  std::atomic<uint64_t> compactions_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> batched_ops_{0};
  std::atomic<bool> read_only_{false};

  // kPeriodic: a thread that calls Sync() every options_.sync_interval_ms.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  bool stopping_ = false;  // guarded by sync_mu_
  std::thread sync_thread_;

  // Compaction. compact_mu_ serialises compactions (held for a whole one). The background
  // thread sleeps on compactor_cv_ until a commit finds CompactionWanted(), or shutdown.
  std::mutex compact_mu_;
  bool compaction_disabled_ = false;  // guarded by compact_mu_: a swap half applied in memory
  std::mutex compactor_mu_;
  std::condition_variable compactor_cv_;
  bool compactor_wake_ = false;      // guarded by compactor_mu_
  bool compactor_stopping_ = false;  // guarded by compactor_mu_
  struct PendingHint {
    uint32_t id;
    bool rolled;
  };
  std::vector<PendingHint> pending_hints_;  // guarded by compactor_mu_
  uint64_t retry_dead_bytes_ = 0;           // guarded by compactor_mu_: back-off after a failure
  std::atomic<bool> shutting_down_{false};  // makes a running compaction, and the queue of
                                            // hints of scanned segments, give up
  std::thread compactor_thread_;
};

}  // namespace kvs
