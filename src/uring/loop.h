// Loop: one io_uring event loop (Redis ae.c's role, on io_uring). It knows operations and
// completions only: no keys, no JSON, no storage.
//
// Ownership and threads: a Loop is created, run and destroyed on ONE thread (the ring is
// SINGLE_ISSUER); every method except Post() and Stop() must be called on that thread,
// usually from inside a callback. Callbacks run on the loop thread, one at a time, and may
// call any Loop method (re-entrancy is safe). The loop owns the bytes of every Send/WriteAt
// until their callback ran; receive data is lent for the duration of one callback.
// Errors are values: callbacks get a result (bytes, an fd) or -errno; ResultToStatus()
// (uring/error.h) turns one into a Status.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/mutex.h"
#include "base/result.h"
#include "base/status.h"
#include "uring/error.h"

struct io_uring;
struct io_uring_sqe;

namespace kvs::uring {

struct LoopOptions {
  unsigned sq_entries = 512;     // submission queue size; SQEs beyond it force a submit
  unsigned cq_entries = 16384;   // completion queue size (>= sq_entries); overflow is slow
  unsigned buffer_count = 4096;  // provided receive buffers (power of two, <= 32768)
  unsigned buffer_size = 16384;  // bytes per receive buffer (one recv chunk at most)
};

// Names an armed Accept/Recv or timer, for Cancel. 0 is never a valid id.
using OpId = uint64_t;

namespace internal {
struct Op;
class OpTable;
class BufferRing;
struct Completion;
}  // namespace internal

class Loop {
 public:
  // Sets up the ring with SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG|SUBMIT_ALL (falling back
  // to COOP_TASKRUN, then to no flags, on -EINVAL), registers the ring fd, the provided
  // buffer ring (group 0) and the wake-up eventfd. Must be called on the thread that will
  // call Run(). InvalidArgument on bad options, IOError/NotSupported from the kernel.
  static Result<std::unique_ptr<Loop>> Create(const LoopOptions& options = {});

  // Pending callbacks are dropped, never called. Cancels what is in flight and waits
  // (bounded) for the kernel to release the memory it points into. Loop thread only.
  ~Loop();

  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Runs until Stop(). Each iteration: reap and dispatch all completions, run posted tasks,
  // return receive buffers, call the before-wait hook, then one submit-and-wait (which does
  // not block if there is work left). Non-OK only on a fatal ring error. Can run again
  // after it returned.
  Status Run();

  // Makes Run() return after its current iteration. Any thread; also before Run().
  // REQUIRES: the Loop outlives this call — Run() may return (and its thread destroy the
  // Loop) before Stop() called from another thread has returned.
  void Stop();

  // Runs fn on the loop thread soon (next iteration), exactly once, in Post order per
  // producer. Any thread. Wakes the loop only if it announced it is about to sleep.
  // Tasks still queued when the Loop is destroyed are dropped.
  void Post(std::function<void()> fn);

  // fn runs each iteration after completions and posted tasks, just before the loop
  // submits and waits (the group-commit point, like Redis beforeSleep). Work it queues is
  // submitted in the same call; tasks it posts make the loop not block.
  void SetBeforeWait(std::function<void()> fn);

  // Multishot accept on a listening socket: on_accept(fd) per new connection (SOCK_CLOEXEC,
  // blocking mode; the callee owns fd), or on_accept(-errno) for information. The op goes
  // on after an error (re-armed when the kernel ends the multishot; after -EMFILE/-ENFILE/
  // -ENOBUFS/-ENOMEM only after a short back-off timer) unless the error is fatal (-EBADF,
  // -EINVAL, -ENOTSOCK, -EOPNOTSUPP), which is then the last call.
  OpId Accept(int listen_fd, std::function<void(int fd_or_neg_errno)> on_accept);

  // Multishot recv through the provided-buffer ring: on_recv(n > 0, data) per chunk, in
  // stream order; `data` is valid only during the call. on_recv(0, {}) on EOF,
  // on_recv(-errno, {}) on error; either is the last call. Running out of buffers (-ENOBUFS)
  // and the kernel ending the multishot are handled inside and never reported.
  // REQUIRES: at most one Recv per fd at a time.
  OpId Recv(int fd, std::function<void(int res, std::string_view data)> on_recv);

  // Sends all of `data` (MSG_NOSIGNAL), resuming short sends. on_done(total bytes sent) or
  // on_done(-errno) of the first failure; with empty data on_done(0) next iteration.
  // REQUIRES: at most one Send per fd outstanding (the caller queues the rest).
  void Send(int fd, std::string data, std::function<void(int res)> on_done);

  // Writes all of `data` at `offset` (resuming short writes at offset + written), then, if
  // `datasync`, an fdatasync linked to the last write. on_done(0) when all is written (and
  // synced), or -errno of the first failure. A failed fsync is reported, never retried.
  // Writes to one fd are not ordered against each other: the caller keeps one in flight.
  void WriteAt(int fd, std::string data, uint64_t offset, bool datasync,
               std::function<void(int res)> on_done);

  // fsync (or fdatasync) of fd. on_done(0) or -errno. Not ordered against other ops.
  void Fsync(int fd, bool datasync, std::function<void(int res)> on_done);

  // One-shot timer: on_fire() once after `delay` (negative counts as zero), unless Cancelled.
  OpId After(std::chrono::nanoseconds delay, std::function<void()> on_fire);

  // Ends an Accept, Recv or timer. Guaranteed on return: its callback is never called
  // again (called from inside that callback too). The loop swallows the op's later
  // completions and owns its bookkeeping until the kernel's final one. Unknown or finished
  // ids are ignored.
  void Cancel(OpId id);

  // Closes fd asynchronously (IORING_OP_CLOSE), but only once no Send, WriteAt or Fsync of
  // this loop can still submit on it: until then the number stays taken, so a socket or file
  // that later gets the same number never receives the rest of their bytes. A Send in
  // flight is cancelled and a short Send or WriteAt is not resumed: their callbacks get
  // -ECANCELED (or their result, had they already finished). Send/WriteAt/Fsync on fd while
  // its close waits fail with -EBADF. Cancel the Accept/Recv reading fd first.
  void Close(int fd);

  // Test seam for a fault the kernel cannot be made to produce on demand (a short write
  // whose linked fdatasync ran and failed all the same): each CQE of a WriteAt, its write
  // (linked_fsync false) or its fdatasync, reaches the loop as the result fn returns for it.
  // Loop thread only; an empty fn removes it.
  void SetWriteResultHookForTesting(std::function<int(bool linked_fsync, int res)> fn);

  struct Stats {
    uint64_t iterations;    // Run() loop iterations
    uint64_t submits;       // io_uring_submit* calls (including those forced by a full SQ)
    uint64_t completions;   // CQEs reaped
    uint64_t cq_overflows;  // times the CQ overflowed (backlog seen, or CQEs dropped)
    uint64_t enobufs;       // recv multishots ended because the buffer ring ran dry
    uint64_t wakeups;       // eventfd wake-ups seen by the loop
    uint64_t posted;        // posted tasks run
  };
  Stats stats() const;  // loop thread
  bool on_loop_thread() const;

 private:
  explicit Loop(const LoopOptions& options);

  Status Init();
  Status RunOnce();
  unsigned Reap();
  void Dispatch(const internal::Completion& c);
  void RunTasks();
  void FlushBuffers();
  bool HasPendingWork();

  // SQE acquisition: submits and retries when the SQ is full; nullptr only if the kernel
  // refuses to take more. Reserve(n) makes room for a whole linked chain.
  struct io_uring_sqe* GetSqe();
  void Reserve(unsigned n);
  void SubmitCancel(uint64_t user_data);
  void ReleaseIfDone(internal::Op* op);
  void EndMultishot(internal::Op* op);
  void CompleteOneShot(internal::Op* op, int res);
  void FailLater(internal::Op* op, int res);

  void ArmAccept(internal::Op* op);
  void ArmAcceptBackoff(internal::Op* op);
  void OnAccept(internal::Op* op, const internal::Completion& c);
  void ArmRecv(internal::Op* op);
  void OnRecv(internal::Op* op, const internal::Completion& c);
  void RearmStarved();
  void SubmitSend(internal::Op* op);
  void OnSend(internal::Op* op, const internal::Completion& c);
  void SubmitWrite(internal::Op* op);
  void OnWrite(internal::Op* op, const internal::Completion& c);
  void OnFsync(internal::Op* op, const internal::Completion& c);
  void OnTimer(internal::Op* op, const internal::Completion& c);

  // fd_uses_ bookkeeping (loop.cc): ops count in at creation and out at their last result.
  void TrackFd(internal::Op* op);
  void UntrackFd(internal::Op* op);
  bool FdClosing(int fd) const;
  void SubmitClose(int fd);

  void ArmWakeup();
  void OnWakeup(const internal::Completion& c);
  void WriteEventfd();

  const LoopOptions options_;
  std::unique_ptr<struct io_uring> ring_;
  bool ring_ready_ = false;
  std::unique_ptr<internal::BufferRing> buffers_;
  std::unique_ptr<internal::OpTable> ops_;
  std::vector<OpId> starved_;                    // recvs waiting for buffers after -ENOBUFS
  std::vector<std::function<void()>> deferred_;  // loop-thread completions for next iteration
  // Indexed by fd: the Send/WriteAt/Fsync ops that may still submit on it, and whether a
  // Close waits for them to end. A Send is resumed by fd number, so the number must not be
  // freed (and reused by an accept) while one can.
  struct FdUse {
    uint32_t ops = 0;
    bool close_pending = false;
    OpId send = 0;  // the fd's Send in flight (at most one), to cancel at Close
  };
  std::vector<FdUse> fd_uses_;
  std::function<void()> before_wait_;
  std::function<int(bool, int)> write_result_hook_;  // tests only
  std::thread::id loop_thread_;
  int event_fd_ = -1;
  bool wakeup_armed_ = false;
  bool destroying_ = false;
  uint32_t last_koverflow_ = 0;
  Stats stats_{};

  // Cross-thread state: the wake-up protocol (wakeup.cc).
  std::atomic<bool> stop_{false};
  std::atomic<bool> sleeping_{false};  // the loop is about to block in the kernel
  Mutex tasks_mu_;
  std::vector<std::function<void()>> tasks_ GUARDED_BY(tasks_mu_);
};

}  // namespace kvs::uring
