#include "uring/buffer_ring.h"

#include <liburing.h>
#include <sys/mman.h>

#include <cassert>
#include <cerrno>
#include <string>

#include "uring/error.h"

namespace kvs::uring::internal {

Result<std::unique_ptr<BufferRing>> BufferRing::Create(struct io_uring* ring, uint16_t group_id,
                                                       unsigned count, unsigned size) {
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0) {
    return Status::InvalidArgument("buffer_count must be a power of two in [1, 32768], not " +
                                   std::to_string(count));
  }
  if (size == 0) return Status::InvalidArgument("buffer_size must be > 0");
  std::unique_ptr<BufferRing> br(new BufferRing(ring, group_id, count, size));

  // The descriptor ring must be page-aligned: mmap gives that.
  br->br_bytes_ = sizeof(struct io_uring_buf) * count;
  void* mem =
      mmap(nullptr, br->br_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return Status::FromErrno("mmap of the buffer ring", errno);
  br->br_ = static_cast<struct io_uring_buf_ring*>(mem);

  br->base_bytes_ = size_t{count} * size;
  mem = mmap(nullptr, br->base_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    return Status::FromErrno(
        "mmap of " + std::to_string(br->base_bytes_) + " bytes of receive buffers", errno);
  }
  br->base_ = static_cast<char*>(mem);

  struct io_uring_buf_reg reg = {};
  reg.ring_addr = reinterpret_cast<uintptr_t>(br->br_);
  reg.ring_entries = count;
  reg.bgid = group_id;
  int ret = io_uring_register_buf_ring(ring, &reg, 0);
  if (ret == -EINVAL) {
    return Status::NotSupported("provided buffer rings (kernel 5.19+) are not available");
  }
  if (ret < 0) return ResultToStatus("io_uring_register_buf_ring", ret);
  br->registered_ = true;

  io_uring_buf_ring_init(br->br_);
  const int mask = io_uring_buf_ring_mask(count);
  for (unsigned bid = 0; bid < count; ++bid) {
    io_uring_buf_ring_add(br->br_, br->base_ + size_t{bid} * size, size,
                          static_cast<unsigned short>(bid), mask, static_cast<int>(bid));
  }
  io_uring_buf_ring_advance(br->br_, static_cast<int>(count));
  br->available_ = count;
  br->returned_.reserve(count);
  return br;
}

BufferRing::BufferRing(struct io_uring* ring, uint16_t group_id, unsigned count, unsigned size)
    : ring_(ring), group_id_(group_id), count_(count), size_(size) {}

BufferRing::~BufferRing() {
  if (registered_) (void)io_uring_unregister_buf_ring(ring_, group_id_);
  if (base_ != nullptr) munmap(base_, base_bytes_);
  if (br_ != nullptr) munmap(br_, br_bytes_);
}

std::string_view BufferRing::Data(uint16_t bid, unsigned len) const {
  assert(bid < count_ && len <= size_);
  return std::string_view(base_ + size_t{bid} * size_, len);
}

void BufferRing::Return(uint16_t bid) {
  assert(bid < count_);
  assert(available_ > 0);
  --available_;
  returned_.push_back(bid);
}

unsigned BufferRing::Flush() {
  if (returned_.empty()) return 0;
  const int mask = io_uring_buf_ring_mask(count_);
  int offset = 0;
  for (uint16_t bid : returned_) {
    io_uring_buf_ring_add(br_, base_ + size_t{bid} * size_, size_, bid, mask, offset++);
  }
  io_uring_buf_ring_advance(br_, offset);  // one release store publishes the whole batch
  const auto n = static_cast<unsigned>(returned_.size());
  available_ += n;
  returned_.clear();
  return n;
}

}  // namespace kvs::uring::internal
