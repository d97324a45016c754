// OpTable: the loop's operations, a slab of Op records named by (slot, generation).
//
// Internal to src/uring. Every SQE's user_data is a tag plus the slot and generation of the
// Op it belongs to, so a completion finds its Op in O(1) and a completion for a slot that
// was released and reused (a stale one) is recognised and dropped. Op records are never
// freed while the table lives (only recycled), so a pointer stays dereferenceable across a
// callback that releases it; compare `gen` to know whether it is still the same op.
// Loop thread only.
#pragma once

#include <linux/time_types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace kvs::uring::internal {

// user_data layout: bits 0..31 slot, 32..55 generation (never 0), 56..63 tag.
// An OpId is the user_data of the op's main SQE (tag kMain == 0).
enum class Tag : uint8_t {
  kMain = 0,     // the op's own SQE (accept, recv, send, write, fsync, timer)
  kFsync = 1,    // the fdatasync linked after a WriteAt's write
  kBackoff = 2,  // an Accept's back-off timer after -EMFILE and friends
  kWakeup = 3,   // the multishot poll on the wake-up eventfd (no slot)
  kIgnore = 4,   // fire-and-forget SQEs whose result nobody needs (cancel, close)
};

constexpr uint32_t kGenBits = 24;
constexpr uint32_t kGenMask = (1u << kGenBits) - 1;

constexpr uint64_t PackUserData(uint32_t slot, uint32_t gen, Tag tag) {
  return uint64_t{slot} | (uint64_t{gen & kGenMask} << 32) |
         (uint64_t{static_cast<uint8_t>(tag)} << 56);
}
constexpr uint32_t SlotOf(uint64_t user_data) { return static_cast<uint32_t>(user_data); }
constexpr uint32_t GenOf(uint64_t user_data) {
  return static_cast<uint32_t>(user_data >> 32) & kGenMask;
}
constexpr Tag TagOf(uint64_t user_data) { return static_cast<Tag>(user_data >> 56); }

enum class OpKind : uint8_t { kFree, kAccept, kRecv, kSend, kWrite, kFsync, kTimer };

// One reaped CQE, copied out of the ring so the CQ slot is free before callbacks run.
struct Completion {
  uint64_t user_data;
  int32_t res;
  uint32_t flags;
};

struct Op {
  OpKind kind = OpKind::kFree;
  uint32_t slot = 0;
  uint32_t gen = 1;
  int fd = -1;
  unsigned inflight = 0;               // SQEs of this op whose final CQE has not been reaped
  bool cancelled = false;              // callbacks dropped; later CQEs only do bookkeeping
  bool finished = false;               // the op reported its last result
  Tag armed = Tag::kMain;              // which SQE a Cancel must target (accept: main or back-off)
  std::function<void(int)> on_result;  // accept, send, write, fsync
  std::function<void(int, std::string_view)> on_recv;  // recv
  std::function<void()> on_fire;                       // timer
  // Send / WriteAt state. `data` lives here because the kernel reads it until the CQE.
  std::string data;
  size_t done = 0;           // bytes sent / written so far
  uint64_t offset = 0;       // WriteAt: file offset of data[0]
  bool datasync = false;     // WriteAt: link an fdatasync after the write
  bool round_write = false;  // WriteAt: this round submitted a write (not only an fsync)
  int write_res = 0;         // WriteAt: results of the current round's chain
  int fsync_res = 0;
  __kernel_timespec ts{};  // timers: the kernel reads it at submit time

  uint64_t id() const { return PackUserData(slot, gen, Tag::kMain); }
  uint64_t user_data(Tag tag) const { return PackUserData(slot, gen, tag); }
};

class OpTable {
 public:
  OpTable() = default;
  OpTable(const OpTable&) = delete;
  OpTable& operator=(const OpTable&) = delete;

  // A fresh op of `kind` with a new generation.
  Op* Alloc(OpKind kind);
  // Recycles op: drops its callbacks and data, bumps the generation (so its id goes stale).
  // REQUIRES: op->inflight == 0.
  void Release(Op* op);
  // The live op named by user_data (any tag), or nullptr if free or of another generation.
  Op* Find(uint64_t user_data) const;

  size_t live() const { return live_; }
  // Calls fn(Op*) for each live op. fn must not Alloc or Release.
  template <typename Fn>
  void ForEachLive(Fn&& fn) {
    for (auto& op : ops_) {
      if (op->kind != OpKind::kFree) fn(op.get());
    }
  }

 private:
  std::vector<std::unique_ptr<Op>> ops_;  // stable addresses: Ops never move
  std::vector<uint32_t> free_;
  size_t live_ = 0;
};

}  // namespace kvs::uring::internal
