// LogStore: the "kvs" engine. A Bitcask-style log of CRC'd records in segment files
// `<n>.log` (format: store/log_format.h, docs/FORMAT.md) plus an in-memory sharded hash
// index of key -> newest record. Values stay on disk; a Get is one index lookup + one pread.
//
// Thread-safety: every Engine method may be called from any thread. Writes are serialised
// by one writer slot (write_mu_ is held only for moments, never across I/O); reads take only
// an index shard's shared lock and a segment reference, so they never wait for a write's
// fsync.
//
// Group commit: the io_uring loop does its own I/O through the LogWriter seam
// (store/log_writer.h): Prepare encodes a whole batch and reserves its place in the active
// segment, the loop writes (and fdatasyncs) those bytes, and Commit publishes them to the
// index. Prepare never waits: a segment roll runs on the roller thread, and the zero-filler
// (store/zero_filler.h) has its own; Prepare says WouldBlock meanwhile.
//
// Compaction (docs/COMPACTION.md): a background thread, or Compact() called inline, copies
// the live records of the closed segments into new segments with hint files and swaps them
// in crash-safely; readers hold segments by reference, so a swap never fails a read. The
// same thread writes the hint file of every segment the writer closes (WriteHints()).
//
// Expiry: an index entry carries its key's expiry time (KeyTable keeps it beside the entry);
// every read decides by Options::clock whether the key still exists, so an expired key is
// hidden from the moment its time passes. Its record goes when the server deletes it (a
// tombstone, even though the delete answers NotFound), when compaction meets it expired,
// or when a start finds it expired (docs/COMPACTION.md, docs/FORMAT.md).
//
// Lock order (docs/SERVER.md "Locks"): compact_mu_ -> write_mu_ -> segments_mu_ ->
// (an index shard's lock, ZeroFiller's, failure_mu_, compactor_mu_); sync_mu_ alone;
// scan_mu_ -> an index shard's lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "store/data_dir.h"
#include "store/db_key_counts.h"
#include "store/engine.h"
#include "store/env.h"
#include "store/index.h"
#include "store/log_writer.h"
#include "store/zero_filler.h"

namespace kvs {

class LogStore final : public Engine, public LogWriter {
 public:
  // Opens or creates the store in options.data_dir, recovering from its segments.
  // Errors: Busy (locked), InvalidArgument (other engine), Corruption (damaged record outside
  // the active segment's tail, unless options.repair), IOError.
  static Result<std::unique_ptr<LogStore>> Open(const Options& options, Env* env = Env::Default());
  ~LogStore() override;

  std::string_view name() const override { return "kvs"; }
  // cached_only: the pread with RWF_NOWAIT.
  Result<StoredValue> Read(std::string_view key, bool cached_only) override;
  Result<bool> Contains(std::string_view key, bool cached_only) override;  // the index only
  Status Write(const WriteBatch& batch, std::vector<Status>* op_results) override;
  Status Sync() override;
  EngineStats Stats() const override;
  Status ForEach(const PairFn& fn) override;
  Status ForEachKey(const std::function<Status(std::string_view key)>& fn) override;
  std::optional<std::map<uint32_t, DbKeyCount>> KeysPerDb() const override;
  ExpiredScan ScanExpired(size_t max_visited) override;

  // ---- Group commit, for the io_uring loop (store/log_writer.h) ------------------------

  LogWriter* log_writer() override { return this; }
  Result<Prepared> Prepare(const WriteBatch& batch, std::function<void()> ready) override
      EXCLUDES(write_mu_);
  Status WriteInline(const Prepared& batch) override;
  void WriteAsync(Prepared&& batch, uring::Loop& loop,
                  std::function<void(Prepared&& batch, Status io)> done) override;
  Status Commit(Prepared&& batch, const Status& io) override EXCLUDES(write_mu_);

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
  // (id -> meta record size). Leaves no tombstone in the index. Sets *active_end to where
  // the active segment's data ends.
  Status RecoverSegments(const std::vector<uint32_t>& ids, uint32_t active_id,
                         const std::map<uint32_t, uint64_t>& outputs, uint64_t* active_end)
      REQUIRES(write_mu_);
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
  Status CompactLocked() REQUIRES(compact_mu_);
  Status WriteOutputs(const std::vector<LiveRecord>& live, const std::vector<OutputPlan>& plan,
                      const std::map<uint32_t, std::shared_ptr<Segment>>& inputs);
  void RemoveOutputFiles(uint32_t first, size_t count);
  void CompactionLoop();

  // ---- Hint files of closed segments (log_hints.cc)
  // Queues closed segment `id` for a hint; `rolled`: closed by the writer in this run (a
  // clean shutdown writes those that are still queued).
  void QueueHint(uint32_t id, bool rolled) EXCLUDES(compactor_mu_);
  Status WritePendingHints(bool rolled_only);
  Status WriteHintLocked(uint32_t id) REQUIRES(compact_mu_);
  void MaybeWakeCompactor();
  uint64_t DeadBytes() const;

  // ---- Segments (log_store.cc)
  // Creates, preallocates and syncs segment file `id` and its directory entry: a segment
  // ready to become the active one. Blocking I/O: never on the loop thread.
  Result<std::shared_ptr<Segment>> CreateSegmentFile(uint32_t id);
  // Makes `seg` the active segment (an empty one, or `end` bytes of recovered records).
  void InstallActiveLocked(std::shared_ptr<Segment> seg, uint64_t end) REQUIRES(write_mu_);
  void Preallocate(File& file, uint64_t from);
  // Closes the active segment at its exact length (truncate + fsync) and makes a new one,
  // `next_id` (0: next_segment_id_), the active one. REQUIRES: rolling_, set by the caller
  // (Prepare for the roller thread, or a compaction), so that no batch is prepared
  // meanwhile; clears it and calls the waiters. A failure turns the store read-only; with
  // `for_writer`, the writer that asked for the roll gets the failure itself (the next
  // Prepare), as if it had rolled. Blocking I/O: never on the loop thread.
  Status RollActive(uint32_t next_id, bool for_writer) EXCLUDES(write_mu_);
  void RollerLoop() EXCLUDES(write_mu_);
  // rolling_ and writer_busy_ are clear again: wakes blocking waiters, hands back the others.
  std::vector<std::function<void()>> TakeWaitersLocked() REQUIRES(write_mu_);
  // Applies a prefix tombstone to the index: every key starting with `prefix` whose entry
  // is older than `seq` goes (and into `removed`).
  void ErasePrefix(std::string_view prefix, uint64_t seq, DbKeyCounts::Delta* removed);
  std::string SegmentPath(uint32_t id) const;
  std::string HintPath(uint32_t id) const;
  std::shared_ptr<Segment> FindSegment(uint32_t id) const EXCLUDES(segments_mu_);
  // Read, reading the record with PReadCached when cached_only.
  Result<StoredValue> Lookup(std::string_view key, bool cached_only);
  int64_t NowMs() const { return clock_->NowMs(); }
  void Warn(std::string_view msg) const;
  Status ReadOnlyError() const EXCLUDES(failure_mu_);
  void Fail(const Status& why) REQUIRES(write_mu_);
  void PeriodicSyncLoop() EXCLUDES(sync_mu_);

  const Options options_;
  const std::shared_ptr<ExpiryClock> clock_;  // options_.clock, or the system's
  Env* const env_;
  const std::unique_ptr<DataDir> dir_;
  Index index_;
  RecoveryStats recovery_stats_;       // written by Open only

  // ScanExpired's place in its walk over the keys that have an expiry time.
  Mutex scan_mu_;
  Index::TtlCursor ttl_cursor_ GUARDED_BY(scan_mu_);

  // Compaction. compact_mu_ serialises compactions (held for a whole one) and hint writes.
  Mutex compact_mu_ ACQUIRED_BEFORE(write_mu_);
  bool compaction_disabled_ GUARDED_BY(compact_mu_) = false;  // a swap half applied in memory

  // The writer's state. write_mu_ is held only for moments, never across I/O: the loop
  // thread takes it in Prepare and Commit.
  Mutex write_mu_ ACQUIRED_BEFORE(segments_mu_);
  CondVar state_cv_;  // writer_busy_ or rolling_ cleared (for threads that may wait)
  bool writer_busy_ GUARDED_BY(write_mu_) = false;  // a batch is prepared, not committed
  bool rolling_ GUARDED_BY(write_mu_) = false;      // RollActive is closing the active segment
  bool roll_wanted_ GUARDED_BY(write_mu_) = false;  // the roller thread's work
  bool roller_stopping_ GUARDED_BY(write_mu_) = false;
  CondVar roller_cv_;
  // Callers of Prepare that got WouldBlock, to call once the way is clear.
  std::vector<std::function<void()>> waiters_ GUARDED_BY(write_mu_);
  std::shared_ptr<Segment> active_ GUARDED_BY(write_mu_);
  uint64_t write_offset_ GUARDED_BY(write_mu_) = 0;  // next byte of the active segment
  uint64_t next_seq_ GUARDED_BY(write_mu_) = 1;
  // Ids are never reused (compaction reserves ranges).
  uint32_t next_segment_id_ GUARDED_BY(write_mu_) = 1;
  bool failed_ GUARDED_BY(write_mu_) = false;
  Status roll_failure_ GUARDED_BY(write_mu_);  // a writer's failed roll, for its Prepare
  std::thread roller_thread_;

  mutable SharedMutex segments_mu_;
  std::map<uint32_t, std::shared_ptr<Segment>> segments_ GUARDED_BY(segments_mu_);

  // Null when Options::zero_fill_ahead_bytes is 0. Set by Open, reset by the destructor
  // after every thread that uses it stopped.
  std::unique_ptr<ZeroFiller> zero_filler_;

  mutable Mutex failure_mu_;
  std::string failure_ GUARDED_BY(failure_mu_);  // why the store is read-only

  // Space accounting: dead bytes = disk - live - meta (docs/COMPACTION.md).
  std::atomic<uint64_t> live_bytes_{0};  // records the index points at
  DbKeyCounts db_keys_;                  // the index's keys (and expires) per database
  std::atomic<uint64_t> disk_bytes_{0};  // records in the segment map (+ reserved ones)
  std::atomic<uint64_t> meta_bytes_{0};  // kMeta records in the segment map
  std::atomic<uint64_t> fsyncs_{0};
  std::atomic<uint64_t> compactions_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> batched_ops_{0};
  std::atomic<bool> read_only_{false};

  // kPeriodic: a thread that calls Sync() every options_.sync_interval_ms.
  Mutex sync_mu_;
  CondVar sync_cv_;
  bool stopping_ GUARDED_BY(sync_mu_) = false;
  std::thread sync_thread_;

  // The background compactor sleeps on compactor_cv_ until a commit finds
  // CompactionWanted(), a hint is queued, or shutdown.
  Mutex compactor_mu_;
  CondVar compactor_cv_;
  bool compactor_wake_ GUARDED_BY(compactor_mu_) = false;
  bool compactor_stopping_ GUARDED_BY(compactor_mu_) = false;
  struct PendingHint {
    uint32_t id;
    bool rolled;
  };
  std::vector<PendingHint> pending_hints_ GUARDED_BY(compactor_mu_);
  // Back-off after a failure.
  uint64_t retry_dead_bytes_ GUARDED_BY(compactor_mu_) = 0;
  std::atomic<bool> shutting_down_{false};  // makes a running compaction, and the queue of
                                            // hints of scanned segments, give up
  std::thread compactor_thread_;
};

}  // namespace kvs
