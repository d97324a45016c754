// pool_bench: task throughput and submit-to-run latency of the three ThreadPools.
//
// The submitting thread is outside the pool, as the io_uring loop is in the server.
//   Throughput/<pool>/<threads>/<work>      one producer, batches of kBatch tasks
//   Producers4/<pool>/<threads>/<work>      four producers at once (contention)
//   FanOut/<pool>/<threads>                 tasks spawning tasks (a binary tree)
//   PingPong/<pool>/<threads>               one task in flight: wake-up latency
// work: "tiny" (a counter decrement) or "lookup" (hash-map probes + memcpy, ~1-2 µs;
// LookupWorkInline measures it alone). Run with --benchmark_repetitions=N; the machine is
// noisy. Results: docs/perf-pool.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pool/thread_pool.h"

namespace kvs {
namespace {

constexpr int kBatch = 10000;

// ---------------------------------------------------------------------------------------
// The "lookup" work: what a GET costs the pool besides the pread.

constexpr int kKeys = 1 << 18;
constexpr int kValueBytes = 256;
constexpr int kProbesPerTask = 2;

struct LookupTable {
  LookupTable() {
    std::mt19937_64 rng(42);
    keys.reserve(kKeys);
    for (int i = 0; i < kKeys; ++i) keys.push_back("key:" + std::to_string(rng()));
    map.reserve(kKeys);
    for (const auto& k : keys) map.emplace(k, std::string(kValueBytes, static_cast<char>(k[5])));
  }
  std::vector<std::string> keys;
  std::unordered_map<std::string, std::string> map;
};

const LookupTable& Table() {
  static const LookupTable* table = new LookupTable();
  return *table;
}

// kProbesPerTask lookups of pseudo-random keys, each value copied out (the reply buffer).
uint64_t LookupWork(uint64_t seed) {
  const LookupTable& t = Table();
  char buffer[kValueBytes];
  uint64_t sum = 0;
  for (int i = 0; i < kProbesPerTask; ++i) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    const std::string& key = t.keys[(seed >> 33) % kKeys];
    auto it = t.map.find(key);
    std::memcpy(buffer, it->second.data(), kValueBytes);
    benchmark::DoNotOptimize(buffer);
    sum += static_cast<unsigned char>(buffer[seed % kValueBytes]);
  }
  return sum;
}

enum class Work { kTiny, kLookup };

inline void DoWork(Work work, uint64_t seed) {
  if (work == Work::kLookup) benchmark::DoNotOptimize(LookupWork(seed));
}

// Counts a batch down; the last task wakes the waiting producer (futex, once per batch).
struct BatchDone {
  explicit BatchDone(int n) : remaining(n) {}
  void CountDown() {
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      done.store(1, std::memory_order_release);
      done.notify_one();
    }
  }
  void Wait() {
    while (done.load(std::memory_order_acquire) == 0) done.wait(0, std::memory_order_acquire);
  }
  std::atomic<int> remaining;
  std::atomic<int> done{0};
};

void SpawnOrDie(ThreadPool& pool, Task task, benchmark::State& state) {
  if (!pool.Spawn(std::move(task)).ok()) state.SkipWithError("Spawn refused");
}

void AddPoolCounters(benchmark::State& state, const ThreadPool& pool, double tasks) {
  const PoolStats s = pool.stats();
  state.counters["sleeps/task"] = static_cast<double>(s.sleeps) / tasks;
  state.counters["wakes/task"] = static_cast<double>(s.wakeups) / tasks;
  state.counters["stolen/task"] = static_cast<double>(s.stolen) / tasks;
}

// ---------------------------------------------------------------------------------------

void BM_LookupWorkInline(benchmark::State& state) {
  Table();
  uint64_t seed = 1;
  for (auto _ : state) benchmark::DoNotOptimize(LookupWork(seed++));
}

void BM_Throughput(benchmark::State& state, PoolKind kind, size_t threads, Work work) {
  if (work == Work::kLookup) Table();
  auto pool = MakePool(kind, threads);
  uint64_t seed = 0;
  for (auto _ : state) {
    BatchDone batch(kBatch);
    for (int i = 0; i < kBatch; ++i) {
      SpawnOrDie(
          *pool,
          [&batch, work, s = ++seed] {
            DoWork(work, s);
            batch.CountDown();
          },
          state);
    }
    batch.Wait();
  }
  const double tasks = static_cast<double>(state.iterations()) * kBatch;
  state.SetItemsProcessed(static_cast<int64_t>(tasks));
  pool->Shutdown(ShutdownMode::kDrain);
  AddPoolCounters(state, *pool, tasks);
}

// Several producer threads (benchmark ->Threads) share one pool created by thread 0.
ThreadPool* g_shared_pool = nullptr;

void BM_Producers(benchmark::State& state, PoolKind kind, size_t threads, Work work) {
  if (work == Work::kLookup) Table();
  std::unique_ptr<ThreadPool> owned;
  if (state.thread_index() == 0) {
    owned = MakePool(kind, threads);
    g_shared_pool = owned.get();
  }
  uint64_t seed = static_cast<uint64_t>(state.thread_index()) << 40;
  const int per_producer = kBatch / state.threads();
  for (auto _ : state) {  // starts with a barrier: g_shared_pool is set
    BatchDone batch(per_producer);
    for (int i = 0; i < per_producer; ++i) {
      SpawnOrDie(
          *g_shared_pool,
          [&batch, work, s = ++seed] {
            DoWork(work, s);
            batch.CountDown();
          },
          state);
    }
    batch.Wait();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * per_producer);
  if (owned) {  // the loop ends with a barrier: the other producers are done
    owned->Shutdown(ShutdownMode::kDrain);
    g_shared_pool = nullptr;
  }
}

struct FanOut {
  ThreadPool* pool;
  BatchDone* batch;
  void Node(int depth) const {
    if (depth > 1) {
      for (int child = 0; child < 2; ++child) {
        (void)pool->Spawn([this, depth] { Node(depth - 1); });
      }
    }
    batch->CountDown();
  }
};

void BM_FanOut(benchmark::State& state, PoolKind kind, size_t threads) {
  constexpr int kDepth = 14;
  constexpr int kTasks = (1 << kDepth) - 1;
  auto pool = MakePool(kind, threads);
  for (auto _ : state) {
    BatchDone batch(kTasks);
    FanOut tree{pool.get(), &batch};
    SpawnOrDie(
        *pool, [&tree] { tree.Node(kDepth); }, state);
    batch.Wait();
  }
  const double tasks = static_cast<double>(state.iterations()) * kTasks;
  state.SetItemsProcessed(static_cast<int64_t>(tasks));
  pool->Shutdown(ShutdownMode::kDrain);
  AddPoolCounters(state, *pool, tasks);
}

// One task at a time; the task stamps its start. Reports submit-to-start percentiles.
void BM_PingPong(benchmark::State& state, PoolKind kind, size_t threads) {
  using Clock = std::chrono::steady_clock;
  auto pool = MakePool(kind, threads);
  std::vector<double> latencies_ns;
  latencies_ns.reserve(1 << 20);
  for (auto _ : state) {
    BatchDone batch(1);
    Clock::time_point started;
    const Clock::time_point submitted = Clock::now();
    SpawnOrDie(
        *pool,
        [&batch, &started] {
          started = Clock::now();
          batch.CountDown();
        },
        state);
    batch.Wait();
    if (latencies_ns.size() < latencies_ns.capacity()) {
      latencies_ns.push_back(std::chrono::duration<double, std::nano>(started - submitted).count());
    }
  }
  pool->Shutdown(ShutdownMode::kDrain);
  if (latencies_ns.empty()) return;
  std::sort(latencies_ns.begin(), latencies_ns.end());
  auto pct = [&](double p) {
    return latencies_ns[static_cast<size_t>(p * static_cast<double>(latencies_ns.size() - 1))];
  };
  state.counters["start_p50_ns"] = pct(0.50);
  state.counters["start_p99_ns"] = pct(0.99);
  AddPoolCounters(state, *pool, static_cast<double>(state.iterations()));
}

void RegisterAll() {
  benchmark::RegisterBenchmark("LookupWorkInline", BM_LookupWorkInline);
  const PoolKind kinds[] = {PoolKind::kStealing, PoolKind::kShared, PoolKind::kTbb};
  const size_t thread_counts[] = {1, 2, 4};
  for (Work work : {Work::kTiny, Work::kLookup}) {
    const std::string w = work == Work::kTiny ? "tiny" : "lookup";
    for (size_t t : thread_counts) {
      for (PoolKind k : kinds) {
        const std::string suffix =
            std::string(PoolKindName(k)) + "/threads:" + std::to_string(t) + "/" + w;
        benchmark::RegisterBenchmark(("Throughput/" + suffix).c_str(), BM_Throughput, k, t, work)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(("Producers/" + suffix).c_str(), BM_Producers, k, t, work)
            ->Threads(4)
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond);
      }
    }
  }
  for (size_t t : thread_counts) {
    for (PoolKind k : kinds) {
      const std::string suffix = std::string(PoolKindName(k)) + "/threads:" + std::to_string(t);
      benchmark::RegisterBenchmark(("FanOut/" + suffix).c_str(), BM_FanOut, k, t)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
      benchmark::RegisterBenchmark(("PingPong/" + suffix).c_str(), BM_PingPong, k, t)
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace
}  // namespace kvs

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  kvs::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
