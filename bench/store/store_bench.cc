// Engine throughput through the Engine interface, for "kvs" (LogStore) and "rocksdb"
// (docs/perf-store.md). Keys are 16 bytes, values 100 bytes; items = key-value operations.
// Data directories go under $KVS_BENCH_DIR (default: the system temp directory), which
// should be on the disk being measured: the fsync-always numbers are the disk's.
#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "store/engine.h"

namespace kvs {
void ClosePrefilledEngines();
namespace {

constexpr size_t kValueBytes = 100;
constexpr uint64_t kGetKeys = 100'000;

std::string Key(uint64_t i) { return fmt::format("key{:013d}", i); }  // 16 bytes

// A fresh data directory, removed on destruction.
class BenchDir {
 public:
  BenchDir() {
    const char* base = std::getenv("KVS_BENCH_DIR");
    std::string tmpl =
        ((base != nullptr ? std::filesystem::path(base) : std::filesystem::temp_directory_path()) /
         "kvs-bench-XXXXXX")
            .string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~BenchDir() { std::filesystem::remove_all(path_); }
  BenchDir(const BenchDir&) = delete;
  BenchDir& operator=(const BenchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// An engine in its own directory; the engine closes before the directory goes.
struct OpenedEngine {
  BenchDir dir;
  std::unique_ptr<Engine> engine;
};

std::unique_ptr<OpenedEngine> Open(const char* name, FsyncPolicy fsync) {
  auto opened = std::make_unique<OpenedEngine>();
  Options o;
  o.data_dir = opened->dir.path();
  o.fsync = fsync;
  auto r = OpenEngine(name, o);
  if (!r.ok()) {
    fmt::print(stderr, "open {}: {}\n", name, r.status().ToString());
    std::abort();
  }
  opened->engine = std::move(r).value();
  return opened;
}

void Check(const Status& s, benchmark::State& state) {
  if (!s.ok()) state.SkipWithError(s.ToString().c_str());
}

// ---- Get --------------------------------------------------------------------------------

// One prefilled engine per name, shared by every Get benchmark (and its threads); closed by
// ClosePrefilledEngines() before main returns (RocksDB must not close during exit()).
std::mutex prefilled_mu;
std::unique_ptr<OpenedEngine> prefilled[2];

Engine* PrefilledEngine(const char* name) {
  auto& engines = prefilled;
  const int slot = std::string_view(name) == "kvs" ? 0 : 1;
  std::lock_guard lock(prefilled_mu);
  if (engines[slot] == nullptr) {
    engines[slot] = Open(name, FsyncPolicy::kNever);
    const std::string value(kValueBytes, 'v');
    for (uint64_t i = 0; i < kGetKeys;) {
      WriteBatch batch;
      for (int j = 0; j < 1000 && i < kGetKeys; ++j, ++i) batch.Put(Key(i), value);
      std::vector<Status> results;
      if (!engines[slot]->engine->Write(batch, &results).ok()) std::abort();
    }
    if (!engines[slot]->engine->Sync().ok()) std::abort();
  }
  return engines[slot]->engine.get();
}

void BM_Get(benchmark::State& state, const char* name) {
  Engine* engine = PrefilledEngine(name);
  std::mt19937_64 rng(static_cast<uint64_t>(state.thread_index()) + 1);
  std::uniform_int_distribution<uint64_t> pick(0, kGetKeys - 1);
  for (auto _ : state) {
    auto r = engine->Get(Key(pick(rng)));
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(r.value().data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_Get, kvs, "kvs")->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_Get, rocksdb, "rocksdb")->Threads(1)->Threads(2)->UseRealTime();

void BM_GetMissing(benchmark::State& state, const char* name) {
  Engine* engine = PrefilledEngine(name);
  uint64_t i = kGetKeys;
  for (auto _ : state) {
    auto r = engine->Get(Key(i++));
    benchmark::DoNotOptimize(r.ok());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_GetMissing, kvs, "kvs");
BENCHMARK_CAPTURE(BM_GetMissing, rocksdb, "rocksdb");

// ---- Set --------------------------------------------------------------------------------

void BM_Set(benchmark::State& state, const char* name, FsyncPolicy fsync) {
  auto opened = Open(name, fsync);
  const std::string value(kValueBytes, 'v');
  uint64_t i = 0;
  for (auto _ : state) Check(opened->engine->Set(Key(i++), value), state);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(16 + kValueBytes));
}
BENCHMARK_CAPTURE(BM_Set, kvs_never, "kvs", FsyncPolicy::kNever);
BENCHMARK_CAPTURE(BM_Set, rocksdb_never, "rocksdb", FsyncPolicy::kNever);
BENCHMARK_CAPTURE(BM_Set, kvs_always, "kvs", FsyncPolicy::kAlways)->UseRealTime();
BENCHMARK_CAPTURE(BM_Set, rocksdb_always, "rocksdb", FsyncPolicy::kAlways)->UseRealTime();

// SET key value EX ...: each put carries an expiry time (far in the future: nothing expires).
void BM_SetWithExpiry(benchmark::State& state, const char* name) {
  auto opened = Open(name, FsyncPolicy::kNever);
  const std::string value(kValueBytes, 'v');
  constexpr int64_t kFarFuture = 4'000'000'000'000;  // ms since the epoch: year 2096
  uint64_t i = 0;
  for (auto _ : state) {
    WriteBatch batch;
    batch.Put(Key(i++), value, kFarFuture);
    std::vector<Status> results;
    Check(opened->engine->Write(batch, &results), state);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_SetWithExpiry, kvs_never, "kvs");
BENCHMARK_CAPTURE(BM_SetWithExpiry, rocksdb_never, "rocksdb");

// ---- Write batches ----------------------------------------------------------------------

// range(0) ops per batch, all puts of fresh keys; one durability point per batch.
void BM_WriteBatch(benchmark::State& state, const char* name, FsyncPolicy fsync) {
  auto opened = Open(name, fsync);
  const std::string value(kValueBytes, 'v');
  const auto ops = static_cast<uint64_t>(state.range(0));
  uint64_t i = 0;
  std::vector<Status> results;
  for (auto _ : state) {
    WriteBatch batch;  // built inside the timed loop: copying the bytes is part of the API
    for (uint64_t j = 0; j < ops; ++j) batch.Put(Key(i++), value);
    Check(opened->engine->Write(batch, &results), state);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetBytesProcessed(state.iterations() * state.range(0) *
                          static_cast<int64_t>(16 + kValueBytes));
}
BENCHMARK_CAPTURE(BM_WriteBatch, kvs_always, "kvs", FsyncPolicy::kAlways)
    ->Arg(1)
    ->Arg(16)
    ->Arg(128)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_WriteBatch, rocksdb_always, "rocksdb", FsyncPolicy::kAlways)
    ->Arg(1)
    ->Arg(16)
    ->Arg(128)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_WriteBatch, kvs_never, "kvs", FsyncPolicy::kNever)->Arg(1)->Arg(16)->Arg(128);
BENCHMARK_CAPTURE(BM_WriteBatch, rocksdb_never, "rocksdb", FsyncPolicy::kNever)
    ->Arg(1)
    ->Arg(16)
    ->Arg(128);

}  // namespace

void ClosePrefilledEngines() {
  std::lock_guard lock(prefilled_mu);
  for (auto& e : prefilled) e.reset();
}

}  // namespace kvs

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  kvs::ClosePrefilledEngines();
  return 0;
}
