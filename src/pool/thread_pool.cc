#include "pool/thread_pool.h"

#include "pool/shared_queue_pool.h"
#include "pool/tbb_pool.h"
#include "pool/work_stealing_pool.h"

namespace kvs {

ThreadPool::~ThreadPool() = default;

Result<PoolKind> ParsePoolKind(std::string_view name) {
  if (name == "stealing") return PoolKind::kStealing;
  if (name == "shared") return PoolKind::kShared;
  if (name == "tbb") return PoolKind::kTbb;
  return Status::InvalidArgument("unknown thread pool '" + std::string(name) +
                                 "' (accepted: stealing, shared, tbb)");
}

std::string_view PoolKindName(PoolKind kind) {
  switch (kind) {
    case PoolKind::kStealing:
      return "stealing";
    case PoolKind::kShared:
      return "shared";
    case PoolKind::kTbb:
      return "tbb";
  }
  return "unknown";
}

std::unique_ptr<ThreadPool> MakePool(PoolKind kind, size_t threads) {
  switch (kind) {
    case PoolKind::kStealing:
      return std::make_unique<WorkStealingPool>(threads);
    case PoolKind::kShared:
      return std::make_unique<SharedQueuePool>(threads);
    case PoolKind::kTbb:
      return std::make_unique<TbbPool>(threads);
  }
  return nullptr;
}

}  // namespace kvs
