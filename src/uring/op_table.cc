#include "uring/op_table.h"

#include <cassert>
#include <limits>
#include <utility>

namespace kvs::uring::internal {

namespace {
uint32_t NextGen(uint32_t gen) {
  gen = (gen + 1) & kGenMask;
  return gen == 0 ? 1 : gen;  // 0 is reserved so that no OpId is 0
}
}  // namespace

Op* OpTable::Alloc(OpKind kind) {
  Op* op;
  if (free_.empty()) {
    assert(ops_.size() < std::numeric_limits<uint32_t>::max());
    ops_.push_back(std::make_unique<Op>());
    op = ops_.back().get();
    op->slot = static_cast<uint32_t>(ops_.size() - 1);
  } else {
    op = ops_[free_.back()].get();
    free_.pop_back();
  }
  op->kind = kind;
  ++live_;
  return op;
}

void OpTable::Release(Op* op) {
  assert(op->kind != OpKind::kFree && op->inflight == 0);
  const uint32_t slot = op->slot;
  const uint32_t gen = NextGen(op->gen);
  // Callbacks (and what they capture) are destroyed only once the table is consistent
  // again, in case a captured object's destructor calls back into the loop.
  Op old = std::move(*op);
  *op = Op();
  op->slot = slot;
  op->gen = gen;
  free_.push_back(slot);
  --live_;
}

Op* OpTable::Find(uint64_t user_data) const {
  const uint32_t slot = SlotOf(user_data);
  if (slot >= ops_.size()) return nullptr;
  Op* op = ops_[slot].get();
  if (op->kind == OpKind::kFree || op->gen != GenOf(user_data)) return nullptr;
  return op;
}

}  // namespace kvs::uring::internal
