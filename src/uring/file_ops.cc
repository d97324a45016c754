// File operations of Loop: positional writes with an optional linked fdatasync (the group
// commit's primitive), fsync, and close.
#include <liburing.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <utility>

#include "uring/loop.h"
#include "uring/op_table.h"

namespace kvs::uring {

using internal::Completion;
using internal::Op;
using internal::OpKind;
using internal::Tag;

namespace {
constexpr size_t kMaxChunk = size_t{1} << 30;
}  // namespace

void Loop::WriteAt(int fd, std::string data, uint64_t offset, bool datasync,
                   std::function<void(int)> on_done) {
  assert(on_loop_thread());
  if (data.empty() && !datasync) {
    deferred_.push_back([cb = std::move(on_done)] {
      if (cb) cb(0);
    });
    return;
  }
  Op* op = ops_->Alloc(OpKind::kWrite);
  op->fd = fd;
  op->data = std::move(data);
  op->offset = offset;
  op->datasync = datasync;
  op->on_result = std::move(on_done);
  TrackFd(op);
  if (FdClosing(fd)) {
    FailLater(op, -EBADF);
    return;
  }
  SubmitWrite(op);
}

// One round: a write of the rest, linked to an fdatasync if asked. A chain cannot span
// submits, so room for both SQEs is made first.
void Loop::SubmitWrite(Op* op) {
  const size_t remaining = op->data.size() - op->done;
  op->round_write = remaining > 0;
  op->write_res = 0;
  op->fsync_res = 0;
  const unsigned need = (op->round_write ? 1 : 0) + (op->datasync ? 1 : 0);
  Reserve(need);
  if (io_uring_sq_space_left(ring_.get()) < need) {
    FailLater(op, -EBUSY);  // only when the kernel refuses to take SQEs
    return;
  }
  // With room for the whole chain, GetSqe cannot submit between the two SQEs.
  if (op->round_write) {
    struct io_uring_sqe* sqe = GetSqe();
    const size_t len = std::min(remaining, kMaxChunk);
    io_uring_prep_write(sqe, op->fd, op->data.data() + op->done, static_cast<unsigned>(len),
                        op->offset + op->done);
    io_uring_sqe_set_data64(sqe, op->user_data(Tag::kMain));
    if (op->datasync) sqe->flags |= IOSQE_IO_LINK;
    ++op->inflight;
  }
  if (op->datasync) {
    struct io_uring_sqe* sqe = GetSqe();
    io_uring_prep_fsync(sqe, op->fd, IORING_FSYNC_DATASYNC);
    io_uring_sqe_set_data64(sqe, op->user_data(Tag::kFsync));
    ++op->inflight;
  }
}

void Loop::SetWriteResultHookForTesting(std::function<int(bool, int)> fn) {
  assert(on_loop_thread());
  write_result_hook_ = std::move(fn);
}

void Loop::OnWrite(Op* op, const Completion& c) {
  --op->inflight;
  const bool fsync = internal::TagOf(c.user_data) == Tag::kFsync;
  const int result = write_result_hook_ ? write_result_hook_(fsync, c.res) : c.res;
  (fsync ? op->fsync_res : op->write_res) = result;
  if (op->inflight > 0) return;  // the other half of the chain is still out
  // A linked fdatasync that ran and failed is final whatever became of the write: the page
  // cache may have dropped the dirty pages, so the next round's fsync could "succeed"
  // without the data being safe. (-ECANCELED: it never ran, as after a short write.)
  if (op->datasync && op->fsync_res < 0 && op->fsync_res != -ECANCELED) {
    CompleteOneShot(op, op->fsync_res);
    return;
  }
  // After Close(fd) the number may be about to name another file: never resume on it.
  const bool resumable = !op->cancelled && !FdClosing(op->fd);
  if (op->round_write) {
    const int res = op->write_res;
    if (res < 0) {
      if ((res == -EAGAIN || res == -EINTR) && resumable) {
        SubmitWrite(op);
        return;
      }
      CompleteOneShot(op, res);  // the linked fsync, if any, was cancelled
      return;
    }
    if (res == 0) {
      CompleteOneShot(op, -EIO);  // no progress on a non-empty write: would loop forever
      return;
    }
    op->done += static_cast<size_t>(res);
    if (op->done < op->data.size()) {
      // Short write: it cancelled the linked fsync (-ECANCELED). Resume at offset+done with
      // a new fsync; the cancelled one never ran (checked above), so nothing is retried.
      if (!resumable) {
        CompleteOneShot(op, -ECANCELED);
      } else {
        SubmitWrite(op);
      }
      return;
    }
  }
  // Everything is written. A failed fsync is final: the page cache may have dropped the
  // dirty pages, so a retry could "succeed" without the data being safe.
  CompleteOneShot(op, op->datasync && op->fsync_res < 0 ? op->fsync_res : 0);
}

void Loop::Fsync(int fd, bool datasync, std::function<void(int)> on_done) {
  assert(on_loop_thread());
  Op* op = ops_->Alloc(OpKind::kFsync);
  op->fd = fd;
  op->on_result = std::move(on_done);
  TrackFd(op);
  if (FdClosing(fd)) {
    FailLater(op, -EBADF);
    return;
  }
  struct io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) {
    FailLater(op, -EBUSY);
    return;
  }
  io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
  io_uring_sqe_set_data64(sqe, op->user_data(Tag::kMain));
  ++op->inflight;
}

void Loop::OnFsync(Op* op, const Completion& c) {
  --op->inflight;
  CompleteOneShot(op, c.res);
}

}  // namespace kvs::uring
