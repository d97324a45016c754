// History: the thread-safe recorder of client operations (raft/linearizability.h).
#include <cassert>
#include <chrono>
#include <utility>

#include "raft/linearizability.h"

namespace kvs::lin {

History::History(std::function<int64_t()> clock)
    : clock_(clock ? std::move(clock) : [] {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(
                   std::chrono::steady_clock::now().time_since_epoch())
            .count();
      }) {}

size_t History::Invoke(int client, OpType type, std::string key, std::string value) {
  std::lock_guard<std::mutex> lock(mu_);
  Op op;
  op.client = client;
  op.type = type;
  op.key = std::move(key);
  if (type == OpType::kSet) op.value = std::move(value);
  op.invoke_ns = clock_();
  ops_.push_back(std::move(op));
  outcomes_.push_back(Outcome::kPending);
  return ops_.size() - 1;
}

void History::Complete(size_t handle, bool found, std::string value) {
  std::lock_guard<std::mutex> lock(mu_);
  assert(handle < ops_.size() && outcomes_[handle] == Outcome::kPending);
  Op& op = ops_[handle];
  op.complete_ns = clock_();
  if (op.type != OpType::kSet) op.found = found;
  if (op.type == OpType::kGet && found) op.value = std::move(value);
  outcomes_[handle] = Outcome::kCompleted;
}

void History::Fail(size_t handle) {
  std::lock_guard<std::mutex> lock(mu_);
  assert(handle < ops_.size() && outcomes_[handle] == Outcome::kPending);
  outcomes_[handle] = Outcome::kFailed;
}

void History::Indeterminate(size_t handle) {
  std::lock_guard<std::mutex> lock(mu_);
  assert(handle < ops_.size() && outcomes_[handle] == Outcome::kPending);
  outcomes_[handle] = Outcome::kIndeterminate;
}

std::vector<Op> History::ops() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Op> out;
  out.reserve(ops_.size());
  for (size_t i = 0; i < ops_.size(); ++i) {
    if (outcomes_[i] == Outcome::kFailed) continue;
    out.push_back(ops_[i]);
    if (outcomes_[i] != Outcome::kCompleted) {
      out.back().indeterminate = true;
      out.back().found = false;
      out.back().complete_ns = 0;
      if (out.back().type == OpType::kGet) out.back().value.clear();
    }
  }
  return out;
}

}  // namespace kvs::lin
