// BufferRing: a provided-buffer ring (IORING_REGISTER_PBUF_RING) for multishot receives.
//
// Internal to src/uring. Owns two anonymous mappings: the ring of buffer descriptors the
// kernel picks from and the buffers themselves (count x size bytes). liburing 2.3 has no
// io_uring_setup_buf_ring, so Create() maps and registers the ring by hand. Buffers the
// kernel filled are returned with Return() (queued) and published in one Flush() per loop
// iteration, so the data of a completion stays valid until the iteration's Flush().
// Loop thread only; must be destroyed before its io_uring.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "base/result.h"

struct io_uring;
struct io_uring_buf_ring;

namespace kvs::uring::internal {

class BufferRing {
 public:
  // REQUIRES: count is a power of two in [1, 32768]; size > 0.
  static Result<std::unique_ptr<BufferRing>> Create(struct io_uring* ring, uint16_t group_id,
                                                    unsigned count, unsigned size);
  ~BufferRing();  // unregisters the group and unmaps

  BufferRing(const BufferRing&) = delete;
  BufferRing& operator=(const BufferRing&) = delete;

  uint16_t group_id() const { return group_id_; }
  // The first len bytes of buffer bid. REQUIRES: bid < count, len <= size.
  std::string_view Data(uint16_t bid, unsigned len) const;
  // A CQE handed us buffer bid: it is ours until the next Flush().
  void Return(uint16_t bid);
  // Makes every returned buffer visible to the kernel again; how many there were.
  unsigned Flush();
  // Buffers the kernel can still pick, as far as the reaped CQEs tell.
  unsigned available() const { return available_; }

 private:
  BufferRing(struct io_uring* ring, uint16_t group_id, unsigned count, unsigned size);

  struct io_uring* const ring_;
  const uint16_t group_id_;
  const unsigned count_;
  const unsigned size_;
  bool registered_ = false;
  struct io_uring_buf_ring* br_ = nullptr;
  size_t br_bytes_ = 0;
  char* base_ = nullptr;
  size_t base_bytes_ = 0;
  unsigned available_ = 0;
  std::vector<uint16_t> returned_;  // waiting for Flush()
};

}  // namespace kvs::uring::internal
