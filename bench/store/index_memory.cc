// Memory per key of LogStore's in-memory index (docs/perf-store.md "Index memory").
//
//   index_memory index [N [K [T]]]     inserts N (default 1,000,000) K-byte (default 16) keys
//                                      into a bare Index, T percent of them (default 0) with
//                                      an expiry time
//   index_memory reserved [N [K [T]]]  the same after Index::Reserve(N), as recovery does
//   index_memory logstore [N [K [T]]]  Sets N K-byte keys (8-byte values, fsync never) in a
//                                      LogStore, T percent with an expiry time
//
// Prints the growth of the resident set (/proc/self/statm) and of the heap in use
// (mallinfo2) per key. Run each mode in its own process: freed memory is not returned.
#include <fmt/format.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "store/index.h"
#include "store/log_store.h"

namespace {

struct Memory {
  uint64_t rss = 0;   // bytes resident
  uint64_t heap = 0;  // bytes malloc'ed and not freed
};

Memory Measure() {
  Memory m;
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0;
  uint64_t resident_pages = 0;
  statm >> size_pages >> resident_pages;
  m.rss = resident_pages * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  m.heap = mallinfo2().uordblks;
  return m;
}

size_t key_bytes = 16;
uint64_t ttl_percent = 0;

// Whether key i gets an expiry time: ttl_percent of the keys, spread evenly.
int64_t ExpiryOf(uint64_t i) {
  constexpr int64_t kFarFuture = 4'000'000'000'000;  // ms since the epoch: year 2096
  return (i % 100) < ttl_percent ? kFarFuture + static_cast<int64_t>(i) : 0;
}

// "key" + zero-padded decimal, `key_bytes` long (at least 10 bytes).
std::string Key(uint64_t i) { return fmt::format("key{:0{}d}", i, key_bytes - 3); }

void Report(const char* mode, uint64_t n, const Memory& before, const Memory& after,
            uint64_t keys) {
  fmt::print("{}: {} keys of {} bytes, {}% with an expiry time (index holds {})\n", mode, n,
             key_bytes, ttl_percent, keys);
  fmt::print("  RSS growth:  {:.1f} MiB = {:.1f} bytes/key\n",
             static_cast<double>(after.rss - before.rss) / (1 << 20),
             static_cast<double>(after.rss - before.rss) / static_cast<double>(n));
  fmt::print("  heap growth: {:.1f} MiB = {:.1f} bytes/key\n",
             static_cast<double>(after.heap - before.heap) / (1 << 20),
             static_cast<double>(after.heap - before.heap) / static_cast<double>(n));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "index";
  const uint64_t n = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1'000'000;
  if (argc > 3) key_bytes = std::max<size_t>(10, std::strtoull(argv[3], nullptr, 10));
  if (argc > 4) ttl_percent = std::min<uint64_t>(100, std::strtoull(argv[4], nullptr, 10));

  if (mode == "index" || mode == "reserved") {
    kvs::Index index;
    const Memory before = Measure();
    if (mode == "reserved") index.Reserve(n);
    for (uint64_t i = 0; i < n; ++i) {
      index.Upsert(Key(i), kvs::IndexEntry{i + 1, i * 64, 1, 8, ExpiryOf(i)});
    }
    const Memory after = Measure();
    Report(mode == "index" ? "Index" : "Index after Reserve", n, before, after, index.size());
    fmt::print("  tables:      {:.1f} MiB = {:.1f} bytes/key allocated\n",
               static_cast<double>(index.MemoryBytes()) / (1 << 20),
               static_cast<double>(index.MemoryBytes()) / static_cast<double>(n));
    return 0;
  }
  if (mode == "logstore") {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kvs-mem-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return 1;
    {
      kvs::Options o;
      o.data_dir = tmpl;
      o.fsync = kvs::FsyncPolicy::kNever;
      auto r = kvs::LogStore::Open(o);
      if (!r.ok()) {
        fmt::print(stderr, "open: {}\n", r.status().ToString());
        return 1;
      }
      kvs::LogStore& store = *r.value();
      const Memory before = Measure();
      const std::string value(8, 'v');
      for (uint64_t i = 0; i < n;) {
        kvs::WriteBatch batch;
        for (int j = 0; j < 1000 && i < n; ++j, ++i) batch.Put(Key(i), value, ExpiryOf(i));
        std::vector<kvs::Status> results;
        if (kvs::Status s = store.Write(batch, &results); !s.ok()) {
          fmt::print(stderr, "write: {}\n", s.ToString());
          return 1;
        }
      }
      const Memory after = Measure();
      Report("LogStore", n, before, after, store.Stats().keys);
    }
    std::filesystem::remove_all(tmpl);
    return 0;
  }
  fmt::print(stderr, "usage: index_memory index|reserved|logstore [N [K [TTL_PERCENT]]]\n");
  return 2;
}
