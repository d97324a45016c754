// Loop core: ring setup and teardown, the iteration, reaping and the one dispatch switch,
// SQE acquisition, Cancel and timers. The operations live in net_ops.cc and file_ops.cc,
// the cross-thread wake-up protocol in wakeup.cc.
#include "uring/loop.h"

#include <liburing.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <string>
#include <utility>

#include "uring/buffer_ring.h"
#include "uring/op_table.h"

namespace kvs::uring {

using internal::Completion;
using internal::Op;
using internal::OpKind;
using internal::Tag;

namespace {

constexpr uint16_t kBufferGroup = 0;
constexpr unsigned kReapBatch = 256;
// How long ~Loop waits for the kernel to give back the memory of cancelled operations.
constexpr auto kTeardownLimit = std::chrono::seconds(5);

bool IsPowerOfTwo(unsigned v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace

// ---------------------------------------------------------------------------------------
// Setup and teardown

Result<std::unique_ptr<Loop>> Loop::Create(const LoopOptions& options) {
  if (options.sq_entries == 0 || options.cq_entries < options.sq_entries) {
    return Status::InvalidArgument("LoopOptions: need 0 < sq_entries <= cq_entries, got " +
                                   std::to_string(options.sq_entries) + " and " +
                                   std::to_string(options.cq_entries));
  }
  if (!IsPowerOfTwo(options.buffer_count) || options.buffer_count > 32768) {
    return Status::InvalidArgument(
        "LoopOptions: buffer_count must be a power of two in [1, 32768], not " +
        std::to_string(options.buffer_count));
  }
  if (options.buffer_size == 0) return Status::InvalidArgument("LoopOptions: buffer_size 0");
  std::unique_ptr<Loop> loop(new Loop(options));
  KVS_RETURN_IF_ERROR(loop->Init());
  return loop;
}

Loop::Loop(const LoopOptions& options)
    : options_(options),
      ring_(std::make_unique<struct io_uring>()),
      ops_(std::make_unique<internal::OpTable>()),
      loop_thread_(std::this_thread::get_id()) {}

Status Loop::Init() {
  // Newest first; -EINVAL means the kernel does not know a flag. SINGLE_ISSUER +
  // DEFER_TASKRUN run completions' task work only when we ask for events, on this thread;
  // TASKRUN_FLAG tells us (IORING_SQ_TASKRUN) when such work waits, so a peek is not fooled.
  constexpr unsigned kAttempts[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
          IORING_SETUP_SUBMIT_ALL,
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL,
      0,
  };
  int ret = -EINVAL;
  for (unsigned flags : kAttempts) {
    struct io_uring_params params = {};
    params.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    params.cq_entries = options_.cq_entries;
    ret = io_uring_queue_init_params(options_.sq_entries, ring_.get(), &params);
    if (ret != -EINVAL) break;
  }
  if (ret < 0) return ResultToStatus("io_uring_queue_init_params", ret);
  ring_ready_ = true;
  // Saves an fget/fput per io_uring_enter; optional (5.18+), so failure is not an error.
  (void)io_uring_register_ring_fd(ring_.get());

  KVS_ASSIGN_OR_RETURN(
      buffers_, internal::BufferRing::Create(ring_.get(), kBufferGroup, options_.buffer_count,
                                             options_.buffer_size));

  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) return Status::FromErrno("eventfd for loop wake-ups", errno);
  ArmWakeup();
  return Status::Ok();
}

Loop::~Loop() {
  if (ring_ready_) {
    destroying_ = true;
    // Callbacks are dropped, never called. Collect them first and destroy them only after
    // the table is consistent: a captured object's destructor may call back into the loop.
    std::vector<std::function<void(int)>> dropped_results;
    std::vector<std::function<void(int, std::string_view)>> dropped_recvs;
    std::vector<std::function<void()>> dropped_timers;
    std::vector<Op*> idle;
    ops_->ForEachLive([&](Op* op) {
      op->cancelled = true;
      dropped_results.push_back(std::move(op->on_result));
      dropped_recvs.push_back(std::move(op->on_recv));
      dropped_timers.push_back(std::move(op->on_fire));
      if (op->inflight == 0) idle.push_back(op);
    });
    for (Op* op : idle) ops_->Release(op);
    starved_.clear();
    deferred_.clear();

    // Cancel everything in the kernel, then wait (bounded) until every op's final CQE came
    // back: until then the kernel may still read a Send's bytes or write a buffer.
    if (struct io_uring_sqe* sqe = GetSqe()) {
      io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
      io_uring_sqe_set_data64(sqe, internal::PackUserData(0, 0, Tag::kIgnore));
    }
    const auto deadline = std::chrono::steady_clock::now() + kTeardownLimit;
    while ((ops_->live() > 0 || wakeup_armed_) && std::chrono::steady_clock::now() < deadline) {
      struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 100'000'000};
      struct io_uring_cqe* cqe = nullptr;
      int ret = io_uring_submit_and_wait_timeout(ring_.get(), &cqe, 1, &ts, nullptr);
      if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) break;
      Reap();
    }
    deferred_.clear();
    // Ops the kernel never gave back no longer matter: close what Close was asked to.
    for (size_t fd = 0; fd < fd_uses_.size(); ++fd) {
      if (fd_uses_[fd].close_pending) close(static_cast<int>(fd));
    }
    fd_uses_.clear();
  }
  buffers_.reset();  // unregisters from the ring, so before queue_exit
  if (ring_ready_) io_uring_queue_exit(ring_.get());
  if (event_fd_ >= 0) close(event_fd_);
}

// ---------------------------------------------------------------------------------------
// The iteration

Status Loop::Run() {
  assert(on_loop_thread());
  Status status;
  while (!stop_.load(std::memory_order_acquire)) {
    status = RunOnce();
    if (!status.ok()) break;
  }
  // What callbacks queued in the last iteration goes to the kernel now, not at the next Run.
  (void)io_uring_submit(ring_.get());
  ++stats_.submits;
  stop_.store(false, std::memory_order_relaxed);
  return status;
}

Status Loop::RunOnce() {
  ++stats_.iterations;
  Reap();
  RunTasks();
  FlushBuffers();
  if (before_wait_) before_wait_();
  // Whatever the hook queued is submitted by the call below; if it (or a task) left work
  // for the loop itself, the call must not block.
  const bool block = !HasPendingWork();
  struct io_uring_cqe* cqe = nullptr;
  int ret = io_uring_submit_and_wait_timeout(ring_.get(), &cqe, block ? 1 : 0, nullptr, nullptr);
  sleeping_.store(false, std::memory_order_relaxed);
  ++stats_.submits;
  // -ETIME/-EINTR: woken early. -EAGAIN: nothing to submit or reap. -EBUSY: the CQ
  // overflowed and the kernel wants us to reap first, which the next iteration does.
  if (ret >= 0 || ret == -ETIME || ret == -EINTR || ret == -EAGAIN || ret == -EBUSY) {
    return Status::Ok();
  }
  return ResultToStatus("io_uring_submit_and_wait_timeout", ret);
}

unsigned Loop::Reap() {
  // The kernel sets IORING_SQ_CQ_OVERFLOW while CQEs wait in its overflow list (it flushes
  // them when we next ask for events, which peek_batch does) and counts dropped ones.
  if (IO_URING_READ_ONCE(*ring_->sq.kflags) & IORING_SQ_CQ_OVERFLOW) ++stats_.cq_overflows;
  const uint32_t dropped = IO_URING_READ_ONCE(*ring_->cq.koverflow);
  if (dropped != last_koverflow_) {
    stats_.cq_overflows += dropped - last_koverflow_;
    last_koverflow_ = dropped;
  }

  std::array<struct io_uring_cqe*, kReapBatch> cqes;
  std::array<Completion, kReapBatch> batch;
  unsigned total = 0;
  // Bounded, so that a flood of completions cannot starve posted tasks.
  while (total < options_.cq_entries) {
    const unsigned n = io_uring_peek_batch_cqe(ring_.get(), cqes.data(), kReapBatch);
    if (n == 0) break;
    for (unsigned i = 0; i < n; ++i) {
      batch[i] = Completion{cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
    }
    // Free the CQ slots before running callbacks: they may submit, and the kernel may post.
    io_uring_cq_advance(ring_.get(), n);
    stats_.completions += n;
    for (unsigned i = 0; i < n; ++i) Dispatch(batch[i]);
    total += n;
  }
  return total;
}

void Loop::Dispatch(const Completion& c) {
  const Tag tag = internal::TagOf(c.user_data);
  if (tag == Tag::kWakeup) {
    OnWakeup(c);
    return;
  }
  // A buffer the kernel filled is ours whatever became of the op: it goes back to the ring
  // at this iteration's Flush, after the callback read it.
  if (c.flags & IORING_CQE_F_BUFFER) {
    buffers_->Return(static_cast<uint16_t>(c.flags >> IORING_CQE_BUFFER_SHIFT));
  }
  if (tag == Tag::kIgnore) return;
  Op* op = ops_->Find(c.user_data);
  if (op == nullptr) return;  // stale: its slot was released and reused
  switch (op->kind) {
    case OpKind::kAccept:
      OnAccept(op, c);
      break;
    case OpKind::kRecv:
      OnRecv(op, c);
      break;
    case OpKind::kSend:
      OnSend(op, c);
      break;
    case OpKind::kWrite:
      OnWrite(op, c);
      break;
    case OpKind::kFsync:
      OnFsync(op, c);
      break;
    case OpKind::kTimer:
      OnTimer(op, c);
      break;
    case OpKind::kFree:
      break;
  }
}

void Loop::FlushBuffers() {
  buffers_->Flush();
  RearmStarved();
}

void Loop::SetBeforeWait(std::function<void()> fn) {
  assert(on_loop_thread());
  before_wait_ = std::move(fn);
}

Loop::Stats Loop::stats() const { return stats_; }

bool Loop::on_loop_thread() const { return std::this_thread::get_id() == loop_thread_; }

// ---------------------------------------------------------------------------------------
// SQEs and op bookkeeping

struct io_uring_sqe* Loop::GetSqe() {
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (struct io_uring_sqe* sqe = io_uring_get_sqe(ring_.get())) return sqe;
    // SQ full: hand what is queued to the kernel and retry.
    int ret = io_uring_submit(ring_.get());
    ++stats_.submits;
    if (ret < 0 && ret != -EBUSY && ret != -EAGAIN && ret != -EINTR) break;
  }
  return nullptr;
}

void Loop::Reserve(unsigned n) {
  if (io_uring_sq_space_left(ring_.get()) < n) {
    (void)io_uring_submit(ring_.get());
    ++stats_.submits;
  }
}

void Loop::SubmitCancel(uint64_t user_data) {
  struct io_uring_sqe* sqe = GetSqe();
  // Without an SQE the op stays armed until its fd closes; its CQEs are swallowed anyway.
  if (sqe == nullptr) return;
  io_uring_prep_cancel64(sqe, user_data, 0);
  io_uring_sqe_set_data64(sqe, internal::PackUserData(0, 0, Tag::kIgnore));
}

void Loop::ReleaseIfDone(Op* op) {
  if (op->inflight == 0 && (op->cancelled || op->finished)) ops_->Release(op);
}

void Loop::EndMultishot(Op* op) {
  op->finished = true;
  if (op->inflight == 0) {
    ops_->Release(op);
    return;
  }
  // Still armed in the kernel (an error CQE with F_MORE): stop it, swallow what follows.
  op->cancelled = true;
  SubmitCancel(op->user_data(op->armed));
}

void Loop::CompleteOneShot(Op* op, int res) {
  assert(op->inflight == 0);
  std::function<void(int)> cb = std::move(op->on_result);
  const bool call = !op->cancelled;
  UntrackFd(op);
  ops_->Release(op);
  if (call && cb) cb(res);
}

// ---------------------------------------------------------------------------------------
// Closing an fd that ops may still use

void Loop::TrackFd(Op* op) {
  if (op->fd < 0) return;
  const auto fd = static_cast<size_t>(op->fd);
  if (fd >= fd_uses_.size()) fd_uses_.resize(std::max(fd + 1, fd_uses_.size() * 2));
  ++fd_uses_[fd].ops;
  if (op->kind == OpKind::kSend) fd_uses_[fd].send = op->id();
}

void Loop::UntrackFd(Op* op) {
  if (op->fd < 0 || static_cast<size_t>(op->fd) >= fd_uses_.size()) return;
  FdUse& use = fd_uses_[static_cast<size_t>(op->fd)];
  if (use.ops == 0) return;
  if (use.send == op->id()) use.send = 0;
  if (--use.ops > 0 || !use.close_pending) return;
  use = FdUse();
  SubmitClose(op->fd);  // the last op that could resume on it is over
}

bool Loop::FdClosing(int fd) const {
  return fd >= 0 && static_cast<size_t>(fd) < fd_uses_.size() &&
         fd_uses_[static_cast<size_t>(fd)].close_pending;
}

void Loop::Close(int fd) {
  assert(on_loop_thread());
  if (fd >= 0 && static_cast<size_t>(fd) < fd_uses_.size() &&
      fd_uses_[static_cast<size_t>(fd)].ops > 0) {
    FdUse& use = fd_uses_[static_cast<size_t>(fd)];
    if (use.close_pending) return;
    use.close_pending = true;
    // A send waiting for room in the socket may wait forever: pull it back. Its final CQE
    // (cancelled, or a result that came first) then closes the fd.
    if (Op* send = ops_->Find(use.send); send != nullptr && send->inflight > 0) {
      SubmitCancel(send->user_data(Tag::kMain));
    }
    return;
  }
  SubmitClose(fd);
}

void Loop::SubmitClose(int fd) {
  struct io_uring_sqe* sqe = destroying_ ? nullptr : GetSqe();
  if (sqe == nullptr) {
    close(fd);
    return;
  }
  io_uring_prep_close(sqe, fd);
  io_uring_sqe_set_data64(sqe, internal::PackUserData(0, 0, Tag::kIgnore));
}

void Loop::FailLater(Op* op, int res) {
  deferred_.push_back([this, id = op->id(), res] {
    if (Op* o = ops_->Find(id)) CompleteOneShot(o, res);
  });
}

void Loop::Cancel(OpId id) {
  assert(on_loop_thread());
  Op* op = ops_->Find(id);
  if (op == nullptr || op->cancelled || op->finished) return;
  op->cancelled = true;
  // If Cancel runs inside the op's own callback, that callback was moved out by the
  // dispatcher and is destroyed when it returns; these are then empty.
  auto on_result = std::move(op->on_result);
  auto on_recv = std::move(op->on_recv);
  auto on_fire = std::move(op->on_fire);
  if (op->inflight == 0) {
    ops_->Release(op);  // not in the kernel (a recv waiting for buffers)
  } else if (op->kind == OpKind::kAccept || op->kind == OpKind::kRecv ||
             op->kind == OpKind::kTimer) {
    SubmitCancel(op->user_data(op->armed));
  }
  // A Send/WriteAt cannot be pulled back: it completes silently, keeping its bytes alive.
}

// ---------------------------------------------------------------------------------------
// Timers

OpId Loop::After(std::chrono::nanoseconds delay, std::function<void()> on_fire) {
  assert(on_loop_thread());
  Op* op = ops_->Alloc(OpKind::kTimer);
  op->on_fire = std::move(on_fire);
  const int64_t ns = std::max<int64_t>(0, delay.count());
  op->ts.tv_sec = ns / 1'000'000'000;
  op->ts.tv_nsec = ns % 1'000'000'000;
  struct io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) {
    // Fire next iteration rather than never: a timer that fires late is still a timer.
    deferred_.push_back([this, id = op->id()] {
      if (Op* o = ops_->Find(id)) OnTimer(o, Completion{id, -ETIME, 0});
    });
    return op->id();
  }
  io_uring_prep_timeout(sqe, &op->ts, 0, 0);
  io_uring_sqe_set_data64(sqe, op->user_data(Tag::kMain));
  ++op->inflight;
  return op->id();
}

void Loop::OnTimer(Op* op, const Completion& c) {
  (void)c;  // -ETIME when it expired; anything else (an error) fires it too, never silently
  if (op->inflight > 0) --op->inflight;
  if (op->cancelled) {
    ReleaseIfDone(op);
    return;
  }
  std::function<void()> cb = std::move(op->on_fire);
  ops_->Release(op);
  if (cb) cb();
}

}  // namespace kvs::uring
