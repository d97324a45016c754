// ZeroFiller: keeps the blocks just ahead of the log's end written with zeros, a chunk at a
// time, from a thread of its own (Options::zero_fill_ahead_bytes; docs/PERFORMANCE.md
// "fdatasync into written blocks"). A record appended into blocks written once costs its
// fdatasync no journal commit, unlike one appended into blocks only fallocate'd.
//
// The writer tells it where the log ends (TryReserve) and which segment is active
// (SetSegment / Detach). Records never land where the filler is writing: TryReserve refuses
// a range the filler is zeroing at that moment, and calls `ready` once it is free, so the
// writer (the server's loop) never waits for the filler's write + fdatasync.
//
// All file I/O goes through the Env, on a descriptor of the filler's own: the kernel reports
// a writeback error to every open file description once, so the filler's fdatasyncs can
// never swallow an error that the writer's own fdatasync must see. A failed fill is only a
// lost optimisation: it is reported through `warn` and the filler stops.
//
// Thread-safety: every method may be called from any thread. Only Detach() waits (for the
// filler's write in progress to end); the others take the filler's mutex for a moment.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "store/env.h"

namespace kvs {

class ZeroFiller {
 public:
  // Fills up to `ahead_bytes` past the log's end, never past `segment_bytes`.
  ZeroFiller(Env* env, uint64_t ahead_bytes, uint64_t segment_bytes,
             std::function<void(std::string_view)> warn);
  ~ZeroFiller();  // stops and joins the thread
  ZeroFiller(const ZeroFiller&) = delete;
  ZeroFiller& operator=(const ZeroFiller&) = delete;

  // `path` is the active segment now; its log ends at `end` (the blocks below are the
  // writer's). Fills ahead of it from now on.
  void SetSegment(const std::string& path, uint64_t end) EXCLUDES(mu_);

  // The writer is about to write [begin, end) of the active segment. True: go ahead, the
  // filler keeps out of it (and now fills ahead of `end`). False: the filler is zeroing part
  // of it right now; `ready` is called (on the filler's thread) once it is done, and the
  // writer asks again. Never waits.
  bool TryReserve(uint64_t begin, uint64_t end, std::function<void()> ready) EXCLUDES(mu_);

  // Stops filling the active segment and waits until no write of the filler's is in it,
  // so it can be truncated or closed. Fills nothing until the next SetSegment. Not for the
  // loop thread: it waits for a 1 MiB write + fdatasync at most.
  void Detach() EXCLUDES(mu_);

  // Fills nothing more, for good (the store failed a write: it touches the disk no more).
  // A chunk under way finishes. Never waits.
  void Stop() EXCLUDES(mu_);

  // Bytes zeroed so far (INFO, tests).
  uint64_t bytes_filled() const EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);
  uint64_t BeginLocked() const REQUIRES(mu_);  // where the next chunk starts
  bool DueLocked() const REQUIRES(mu_);
  void NotifyReadyLocked(std::vector<std::function<void()>>* out) REQUIRES(mu_);

  Env* const env_;
  const uint64_t ahead_bytes_;
  const uint64_t segment_bytes_;
  const std::function<void(std::string_view)> warn_;

  mutable Mutex mu_;
  CondVar work_cv_;  // the filler's work, stopping, and the end of a claim (Detach)
  std::string path_ GUARDED_BY(mu_);         // the active segment; empty: detached
  uint64_t generation_ GUARDED_BY(mu_) = 0;  // counts SetSegment calls
  uint64_t log_end_ GUARDED_BY(mu_) = 0;     // the writer's reserved bytes end here
  uint64_t zeroed_until_ GUARDED_BY(mu_) = 0;
  // While claimed_, the filler writes [claim_begin_, claim_end_) without the lock.
  bool claimed_ GUARDED_BY(mu_) = false;
  uint64_t claim_begin_ GUARDED_BY(mu_) = 0;
  uint64_t claim_end_ GUARDED_BY(mu_) = 0;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool failed_ GUARDED_BY(mu_) = false;  // a fill failed, or Stop(): fills nothing more
  uint64_t filled_ GUARDED_BY(mu_) = 0;
  std::vector<std::function<void()>> ready_ GUARDED_BY(mu_);  // refused writers to call back

  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace kvs
