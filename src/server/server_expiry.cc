// The active expirer (docs/EXPIRY.md): keys whose time has passed are hidden from every
// read at once by the engine; this reclaims them, as Redis's activeExpireCycle does, by
// writing ordinary deletes through the group commit, so that a delete is as durable (and,
// in a cluster, as replicated) as any write, and a restart with a clock set back cannot
// bring the key back.
//
// Every kExpireCycle the pool samples the keys that have an expiry time (Engine::
// ScanExpired, kSampleKeys at a time, again while more than a tenth of a sample had
// expired, within kScanBudget and kMaxKeysPerCycle), and posts the expired ones to the loop.
// The loop checks each again against the newest state (a write staged or completed
// meanwhile decides the key, and the key is left alone) and stages its delete. When a
// cycle stopped at a bound, the next one starts at once: a million expired keys go in
// rounds of kMaxKeysPerCycle deletes, each costing the loop well under a millisecond.
//
// In a cluster only the leader expires keys, after a Raft barrier (its engine then holds
// every committed entry, another leader's included); followers hide expired keys from
// their own reads and apply the leader's deletes.

#include <spdlog/spdlog.h>

#include <chrono>

#include "server/server_impl.h"

namespace kvs {

namespace {

constexpr auto kExpireCycle = std::chrono::milliseconds(100);  // Redis's hz 10
constexpr auto kExpireCycleSoon = std::chrono::milliseconds(1);
constexpr size_t kSampleKeys = 20;  // ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP
// Sample again while more than this percentage of a sample had expired
// (ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE).
constexpr size_t kAcceptableStalePercent = 10;
constexpr size_t kMaxKeysPerCycle = 2048;
constexpr auto kScanBudget = std::chrono::milliseconds(5);  // pool time per cycle

}  // namespace

void Server::Impl::ScheduleExpireCycle(bool soon) {
  loop_->After(soon ? kExpireCycleSoon : kExpireCycle, [this] { StartExpireCycle(); });
}

void Server::Impl::StartExpireCycle() {
  if (shutting_down_) return;
  if (cluster_ != nullptr && cluster_->CachedInfo().state != "leader") {
    ScheduleExpireCycle(false);
    return;
  }
  expire_cycle_running_ = true;
  auto run = [this] {
    std::vector<std::string> keys;
    bool more = false;
    const auto deadline = std::chrono::steady_clock::now() + kScanBudget;
    for (;;) {
      ExpiredScan scan = engine_->ScanExpired(kSampleKeys);
      const size_t expired = scan.keys.size();
      for (std::string& key : scan.keys) keys.push_back(std::move(key));
      if (scan.visited == 0 || expired * 100 <= scan.visited * kAcceptableStalePercent) break;
      if (keys.size() >= kMaxKeysPerCycle || std::chrono::steady_clock::now() >= deadline) {
        more = true;
        break;
      }
    }
    loop_->Post([this, keys = std::move(keys), more]() mutable {
      if (cluster_ != nullptr && !keys.empty() && !shutting_down_) {
        // Decide on the newest committed state: every entry applied here first.
        cluster_->Barrier([this, keys = std::move(keys), more](Status fence) mutable {
          loop_->Post([this, keys = std::move(keys), more, fence = std::move(fence)]() mutable {
            if (!fence.ok()) keys.clear();  // not the leader any more: its successor expires
            OnExpiredKeys(std::move(keys), more && fence.ok());
          });
        });
        return;
      }
      OnExpiredKeys(std::move(keys), more);
    });
  };
  if (Status spawned = pool_->Spawn(std::move(run)); !spawned.ok()) {
    expire_cycle_running_ = false;
    ScheduleExpireCycle(false);
  }
}

void Server::Impl::OnExpiredKeys(std::vector<std::string> keys, bool more) {
  expire_cycle_running_ = false;
  if (shutting_down_) {
    MaybeFinishShutdown();
    return;
  }
  size_t staged = 0;
  for (std::string& key : keys) {
    // A write staged meanwhile decides the key; one completed meanwhile left it alive
    // (Contains says so from memory; when it cannot tell, the next cycle looks again).
    if (Staged(key) != nullptr) continue;
    Result<bool> alive = engine_->Contains(key, /*cached_only=*/true);
    if (!alive.ok() || *alive) continue;
    // Not a change a watcher sees: the key was gone for every read already. A WATCH of it
    // while it lived fails its EXEC by the check there (server_writes.cc).
    StageOp({WriteBatch::OpKind::kDelete, std::move(key), {}}, /*touch_watchers=*/false);
    ++staged;
  }
  expired_keys_ += staged;
  if (staged > 0) MaybeStartBatch();
  ScheduleExpireCycle(more);
}

}  // namespace kvs
