// Socket operations of Loop: multishot accept, multishot recv on the buffer ring, and
// sends resumed until every byte went out.
#include <liburing.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <climits>
#include <utility>

#include "uring/buffer_ring.h"
#include "uring/loop.h"
#include "uring/op_table.h"

namespace kvs::uring {

using internal::Completion;
using internal::Op;
using internal::OpKind;
using internal::Tag;

namespace {

// Back-off before re-arming an accept that failed for lack of fds or memory: long enough
// not to spin, short enough that clients barely notice once fds are free again.
constexpr int64_t kAcceptBackoffNs = 20'000'000;
// One send/write SQE moves at most this much; results must fit an int.
constexpr size_t kMaxChunk = size_t{1} << 30;

// Calls a multishot op's callback, which may Cancel the op or even reuse its slot. The
// callback is moved out for the call (so Cancel cannot destroy it while it runs) and put
// back if the op is still the same, live one. Returns whether it is.
template <typename Fn, typename... Args>
bool InvokeKeep(Op* op, Fn Op::*member, Args&&... args) {
  const uint32_t gen = op->gen;
  Fn fn = std::move(op->*member);
  if (fn) fn(std::forward<Args>(args)...);
  if (op->gen != gen || op->cancelled || op->finished) return false;
  op->*member = std::move(fn);
  return true;
}

bool IsFatalAcceptError(int err) {
  return err == EBADF || err == EINVAL || err == ENOTSOCK || err == EOPNOTSUPP || err == ECANCELED;
}

bool IsResourceError(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Accept

OpId Loop::Accept(int listen_fd, std::function<void(int)> on_accept) {
  assert(on_loop_thread());
  Op* op = ops_->Alloc(OpKind::kAccept);
  op->fd = listen_fd;
  op->on_result = std::move(on_accept);
  ArmAccept(op);
  return op->id();
}

void Loop::ArmAccept(Op* op) {
  struct io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) {
    deferred_.push_back([this, id = op->id()] {
      Op* o = ops_->Find(id);
      if (o != nullptr && !o->cancelled && o->inflight == 0) ArmAccept(o);
    });
    return;
  }
  io_uring_prep_multishot_accept(sqe, op->fd, nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, op->user_data(Tag::kMain));
  op->armed = Tag::kMain;
  ++op->inflight;
}

void Loop::ArmAcceptBackoff(Op* op) {
  struct io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) {
    ArmAccept(op);  // defers itself the same way
    return;
  }
  op->ts.tv_sec = 0;
  op->ts.tv_nsec = kAcceptBackoffNs;
  io_uring_prep_timeout(sqe, &op->ts, 0, 0);
  io_uring_sqe_set_data64(sqe, op->user_data(Tag::kBackoff));
  op->armed = Tag::kBackoff;
  ++op->inflight;
}

void Loop::OnAccept(Op* op, const Completion& c) {
  if (internal::TagOf(c.user_data) == Tag::kBackoff) {
    --op->inflight;
    if (op->cancelled) {
      ReleaseIfDone(op);
    } else {
      ArmAccept(op);
    }
    return;
  }
  const bool more = (c.flags & IORING_CQE_F_MORE) != 0;
  if (!more) --op->inflight;
  if (op->cancelled) {
    if (c.res >= 0) close(c.res);  // accepted after Cancel: nobody would own it
    ReleaseIfDone(op);
    return;
  }
  if (c.res >= 0) {
    if (InvokeKeep(op, &Op::on_result, c.res) && !more) ArmAccept(op);
    return;
  }
  const int err = -c.res;
  if (IsFatalAcceptError(err)) {
    std::function<void(int)> cb = std::move(op->on_result);
    EndMultishot(op);
    if (cb) cb(c.res);
    return;
  }
  if (!InvokeKeep(op, &Op::on_result, c.res) || more) return;
  if (IsResourceError(err)) {
    ArmAcceptBackoff(op);  // re-arming now would fail again at once: wait a little
  } else {
    ArmAccept(op);  // ECONNABORTED and friends: the next connection is fine
  }
}

// ---------------------------------------------------------------------------------------
// Recv

OpId Loop::Recv(int fd, std::function<void(int, std::string_view)> on_recv) {
  assert(on_loop_thread());
  Op* op = ops_->Alloc(OpKind::kRecv);
  op->fd = fd;
  op->on_recv = std::move(on_recv);
  ArmRecv(op);
  return op->id();
}

void Loop::ArmRecv(Op* op) {
  struct io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) {
    starved_.push_back(op->id());  // retried at the next FlushBuffers
    return;
  }
  io_uring_prep_recv_multishot(sqe, op->fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffers_->group_id();
  io_uring_sqe_set_data64(sqe, op->user_data(Tag::kMain));
  op->armed = Tag::kMain;
  ++op->inflight;
}

void Loop::OnRecv(Op* op, const Completion& c) {
  const bool more = (c.flags & IORING_CQE_F_MORE) != 0;
  if (!more) --op->inflight;
  if (op->cancelled) {
    ReleaseIfDone(op);
    return;
  }
  if (c.res > 0 && (c.flags & IORING_CQE_F_BUFFER)) {
    const auto bid = static_cast<uint16_t>(c.flags >> IORING_CQE_BUFFER_SHIFT);
    const std::string_view data = buffers_->Data(bid, static_cast<unsigned>(c.res));
    // The kernel ends a multishot now and then (it ran out of buffers mid-way, or decided
    // to): re-arm so the stream goes on; no data is lost, it stays in the socket.
    if (InvokeKeep(op, &Op::on_recv, c.res, data) && !more) ArmRecv(op);
    return;
  }
  if (c.res == -ENOBUFS) {
    // Backpressure, not an error: re-armed once buffers came back (RearmStarved).
    ++stats_.enobufs;
    if (!more) starved_.push_back(op->id());
    return;
  }
  if (c.res == -EAGAIN || c.res == -EINTR) {
    if (!more) ArmRecv(op);
    return;
  }
  // EOF (0), an error, or (never expected) data without a buffer: the op is over.
  const int res = c.res > 0 ? -EIO : c.res;
  std::function<void(int, std::string_view)> cb = std::move(op->on_recv);
  EndMultishot(op);
  if (cb) cb(res, std::string_view());
}

void Loop::RearmStarved() {
  if (starved_.empty() || buffers_->available() == 0) return;
  std::vector<OpId> starved;
  starved.swap(starved_);
  for (OpId id : starved) {
    Op* op = ops_->Find(id);
    if (op != nullptr && !op->cancelled && !op->finished && op->inflight == 0) ArmRecv(op);
  }
}

// ---------------------------------------------------------------------------------------
// Send

void Loop::Send(int fd, std::string data, std::function<void(int)> on_done) {
  assert(on_loop_thread());
  if (data.empty()) {
    deferred_.push_back([cb = std::move(on_done)] {
      if (cb) cb(0);
    });
    return;
  }
  Op* op = ops_->Alloc(OpKind::kSend);
  op->fd = fd;
  op->data = std::move(data);
  op->on_result = std::move(on_done);
  TrackFd(op);
  if (FdClosing(fd)) {
    FailLater(op, -EBADF);  // Close was called: nothing more goes out on it
    return;
  }
  SubmitSend(op);
}

void Loop::SubmitSend(Op* op) {
  struct io_uring_sqe* sqe = GetSqe();
  if (sqe == nullptr) {
    FailLater(op, -EBUSY);
    return;
  }
  const size_t len = std::min(op->data.size() - op->done, kMaxChunk);
  io_uring_prep_send(sqe, op->fd, op->data.data() + op->done, len, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, op->user_data(Tag::kMain));
  ++op->inflight;
}

void Loop::OnSend(Op* op, const Completion& c) {
  --op->inflight;
  int res = c.res;
  // After Close(fd) the number may be about to belong to another socket: never resume.
  const bool resumable = !op->cancelled && !FdClosing(op->fd);
  if (res > 0) {
    op->done += static_cast<size_t>(res);
    if (op->done < op->data.size()) {
      if (resumable) {
        SubmitSend(op);  // a short send: the socket buffer was full, send the rest
        return;
      }
      res = -ECANCELED;
    } else {
      res = static_cast<int>(std::min<size_t>(op->done, INT_MAX));
    }
  } else if (res == -EAGAIN || res == -EINTR) {
    if (resumable) {
      SubmitSend(op);
      return;
    }
    res = -ECANCELED;
  } else if (res == 0) {
    res = -EIO;  // zero bytes of a non-empty send: would loop forever
  }
  CompleteOneShot(op, res);
}

}  // namespace kvs::uring
