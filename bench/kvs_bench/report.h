// The end of a kvs-bench run: the human summary, the --json document and the --plot PNG.
// Free functions over plain data; call from one thread.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "client_loop.h"

namespace kvs::bench {

// What was asked for, as printed back.
struct RunConfig {
  std::string addr;
  std::string protocol;  // "json" | "resp"
  int clients = 0;
  int pipeline = 0;
  int threads = 0;
  uint32_t set_weight = 0;
  uint32_t get_weight = 0;
  uint64_t keyspace = 0;
  size_t value_size = 0;
  uint64_t requests = 0;  // 0 when the run is timed
  double duration_s = 0;  // 0 when the run is counted
  uint64_t seed = 0;
  // --op: mixed (SET/GET by the weights), set, get, incr, mget, mset, session (SET EX/GET
  // by the weights), ratelimit (INCR + EXPIRE pairs)
  std::string op = "mixed";
  size_t multi_keys = 0;  // keys per MGET / MSET
  uint64_t ttl_s = 0;     // seconds of SET EX / EXPIRE (session, ratelimit)
};

// One second of the run, as the progress line saw it.
struct TimelinePoint {
  double t_s = 0;  // seconds since the start
  double requests_per_s = 0;
  uint64_t p99_ns = 0;  // of the replies in this interval
};

struct RunResult {
  LoopStats stats;
  std::vector<TimelinePoint> timeline;
  bool interrupted = false;

  double elapsed_s() const;
  double throughput() const;  // replies per second
  double keys_per_s() const;  // keys read or written per second (N per MGET / MSET)
};

void PrintSummary(const RunConfig& config, const RunResult& result, std::FILE* out);
void PrintJson(const RunConfig& config, const RunResult& result, std::FILE* out);

// Draws throughput and p99 over time, and latency by percentile, into `png` with gnuplot.
// Returns false with *message set when it could not (gnuplot missing, gnuplot failed);
// the caller reports it and goes on: a plot is never worth failing a run.
bool WritePlot(const RunConfig& config, const RunResult& result, const std::string& png,
               std::string* message);

// "0.251 ms": latencies are printed in milliseconds with microsecond resolution.
std::string FormatMillis(uint64_t nanos);

}  // namespace kvs::bench
