// kvs-restart-bench: how long LogStore::Open takes to rebuild the index from the hint files,
// and from the segments alone (hints removed), and the CPU time it spends (all recovery
// threads). Numbers and the command line: docs/perf-compaction.md, docs/PERFORMANCE.md.
//
//   kvs-restart-bench [--keys N] [--value-bytes V] [--runs R] [--dir DIR] [--cold 0|1]
//                     [--compact 0|1]
//
// --compact 1 (the default) compacts after the fill, so the hints are the compaction's;
// --compact 0 does not: the hints are those of the segments the writer closed.
// --cold 1 (the default) evicts the data directory's files from the page cache before each
// start (posix_fadvise DONTNEED on those files only: no root needed, nobody else's cache
// touched), as after a reboot; --cold 0 keeps them cached.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "store/log_store.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

kvs::Options BenchOptions(const std::string& dir) {
  kvs::Options o;
  o.data_dir = dir;
  o.fsync = kvs::FsyncPolicy::kNever;
  o.background_compaction = false;
  return o;
}

[[noreturn]] void Die(const kvs::Status& s) {
  std::fprintf(stderr, "kvs-restart-bench: %s\n", s.ToString().c_str());
  std::exit(1);
}

bool cold = true;

double CpuMs() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) { return t.tv_sec * 1e3 + t.tv_usec / 1e3; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

// Drops the (clean, synced) pages of every file in `dir` from the page cache.
void Evict(const std::string& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    const int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    (void)::fdatasync(fd);
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
}

struct Timing {
  double wall_ms = 0;
  double cpu_ms = 0;  // of every thread of the process
};

// Opens the store once: how long it took, and the statistics.
Timing TimeOpen(const std::string& dir, kvs::LogStore::RecoveryStats* stats) {
  if (cold) Evict(dir);
  const double cpu = CpuMs();
  const auto start = Clock::now();
  auto store = kvs::LogStore::Open(BenchOptions(dir));
  const auto end = Clock::now();
  Timing t{std::chrono::duration<double, std::milli>(end - start).count(), CpuMs() - cpu};
  if (!store.ok()) Die(store.status());
  *stats = (*store)->recovery_stats();
  return t;
}

Timing Median(std::vector<Timing> v) {
  std::sort(v.begin(), v.end(),
            [](const Timing& a, const Timing& b) { return a.wall_ms < b.wall_ms; });
  return v[v.size() / 2];
}

uint64_t FilesBytes(const std::string& dir, std::string_view suffix) {
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().ends_with(suffix)) n += e.file_size();
  }
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t keys = 1000000, value_bytes = 100;
  int runs = 5;
  bool compact = true;
  std::string dir = (fs::temp_directory_path() / "kvs-restart-bench").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--keys") {
      keys = std::stoull(value);
    } else if (flag == "--value-bytes") {
      value_bytes = std::stoull(value);
    } else if (flag == "--runs") {
      runs = std::stoi(value);
    } else if (flag == "--cold") {
      cold = value != "0";
    } else if (flag == "--compact") {
      compact = value != "0";
    } else if (flag == "--dir") {
      dir = value;
    } else {
      std::fprintf(stderr, "kvs-restart-bench: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  fs::remove_all(dir);
  {
    auto opened = kvs::LogStore::Open(BenchOptions(dir));
    if (!opened.ok()) Die(opened.status());
    auto& store = *opened;
    kvs::WriteBatch batch;
    std::vector<kvs::Status> results;
    const std::string value(value_bytes, 'v');
    for (uint64_t k = 0; k < keys; ++k) {
      batch.Put(fmt::format("key{:012}", k), value);
      if (batch.size() == 1000 || k + 1 == keys) {
        if (kvs::Status s = store->Write(batch, &results); !s.ok()) Die(s);
        batch.Clear();
      }
    }
    if (compact) {
      if (kvs::Status s = store->Compact(); !s.ok()) Die(s);
    }
  }  // a clean close writes the hints of the segments closed by the fill
  // Alternate the two cases, so that neither always runs first (a cold allocator, the
  // writeback of the data just written): hints are moved aside and back.
  const std::string aside = dir + ".hints";
  fs::create_directories(aside);
  const uint64_t log_bytes = FilesBytes(dir, ".log"), hint_bytes = FilesBytes(dir, ".hint");
  auto move_hints = [](const std::string& from, const std::string& to) {
    for (const auto& e : fs::directory_iterator(from)) {
      if (e.path().extension() == ".hint") fs::rename(e.path(), fs::path(to) / e.path().filename());
    }
  };
  kvs::LogStore::RecoveryStats with_stats, without_stats;
  std::vector<Timing> with_runs, without_runs;
  for (int round = 0; round < runs; ++round) {
    move_hints(dir, aside);
    without_runs.push_back(TimeOpen(dir, &without_stats));
    move_hints(aside, dir);
    with_runs.push_back(TimeOpen(dir, &with_stats));
  }
  const Timing with_hints = Median(with_runs), without_hints = Median(without_runs);
  fs::remove_all(aside);
  fmt::print("keys {} value_bytes {} segments {:.1f} MiB hints {:.1f} MiB page cache {} {}\n", keys,
             value_bytes, log_bytes / 1048576.0, hint_bytes / 1048576.0, cold ? "cold" : "warm",
             compact ? "compacted" : "not compacted");
  fmt::print(
      "open with hints:    {:8.1f} ms, cpu {:8.1f} ms (median of {}; {} segments from hints, {} "
      "scanned)\n",
      with_hints.wall_ms, with_hints.cpu_ms, runs, with_stats.segments_from_hints,
      with_stats.segments_scanned);
  fmt::print(
      "open without hints: {:8.1f} ms, cpu {:8.1f} ms (median of {}; {} segments from hints, {} "
      "scanned)\n",
      without_hints.wall_ms, without_hints.cpu_ms, runs, without_stats.segments_from_hints,
      without_stats.segments_scanned);
  fmt::print("speed-up: {:.2f}x\n", without_hints.wall_ms / with_hints.wall_ms);
  fs::remove_all(dir);
  return 0;
}
