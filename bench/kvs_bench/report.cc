#include "report.h"

#include <fmt/format.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "proto/json_codec.h"

extern char** environ;

namespace kvs::bench {

namespace {

struct Percentile {
  std::string_view json_name;
  std::string_view label;
  double value;
};
constexpr Percentile kPercentiles[] = {
    {"p50", "p50", 50}, {"p90", "p90", 90}, {"p99", "p99", 99}, {"p99_9", "p99.9", 99.9}};

std::string JsonString(std::string_view s) {
  std::string out;
  proto::AppendJsonString(s, &out);
  return out;
}

double Micros(uint64_t nanos) { return static_cast<double>(nanos) / 1e3; }

// A gnuplot single-quoted string: nothing is special in it but the quote, written twice.
std::string GnuplotQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out.push_back(c);
    if (c == '\'') out.push_back('\'');
  }
  out.push_back('\'');
  return out;
}

bool WriteFile(const std::string& path, std::string_view text) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  return std::fclose(f) == 0 && ok;
}

bool IsMultiKeyOp(const RunConfig& config) { return config.op == "mget" || config.op == "mset"; }

// "set:get 1:1", "INCR", "MGET of 10 keys", "session: ...", "rate limiter: ...": what was
// sent, for the summary and the plot.
std::string WorkloadLabel(const RunConfig& config) {
  if (config.op == "incr") return "INCR";
  if (config.op == "session") {
    return fmt::format("session: SET EX {} and GET {}:{}", config.ttl_s, config.set_weight,
                       config.get_weight);
  }
  if (config.op == "ratelimit") {
    return fmt::format("rate limiter: INCR + EXPIRE {} pairs (a request is one command)",
                       config.ttl_s);
  }
  if (IsMultiKeyOp(config)) {
    return fmt::format("{} of {} keys", config.op == "mget" ? "MGET" : "MSET", config.multi_keys);
  }
  return fmt::format("set:get {}:{}", config.set_weight, config.get_weight);
}

}  // namespace

double RunResult::keys_per_s() const {
  const double s = elapsed_s();
  return s > 0 ? static_cast<double>(stats.keys) / s : 0;
}

double RunResult::elapsed_s() const {
  return static_cast<double>(stats.end_ns - stats.start_ns) / 1e9;
}

double RunResult::throughput() const {
  const double s = elapsed_s();
  return s > 0 ? static_cast<double>(stats.completed()) / s : 0;
}

std::string FormatMillis(uint64_t nanos) {
  return fmt::format("{:.3f} ms", static_cast<double>(nanos) / 1e6);
}

void PrintSummary(const RunConfig& config, const RunResult& result, std::FILE* out) {
  const LoopStats& s = result.stats;
  const LatencyHistogram& h = s.latency;
  fmt::print(out, "kvs-bench: {} {}, {} clients, pipeline {}, {} thread{}, {}, ", config.protocol,
             config.addr, config.clients, config.pipeline, config.threads,
             config.threads == 1 ? "" : "s", WorkloadLabel(config));
  fmt::print(out, "keyspace {}, value {} B\n", config.keyspace, config.value_size);
  fmt::print(out, "  requests   {} in {:.3f} s{}\n", s.completed(), result.elapsed_s(),
             result.interrupted ? " (interrupted)" : "");
  fmt::print(out, "  throughput {:.0f} req/s\n", result.throughput());
  if (IsMultiKeyOp(config)) {
    fmt::print(out, "  keys       {:.0f} keys/s ({} per request)\n", result.keys_per_s(),
               config.multi_keys);
  }
  if (s.sets + s.gets != 0 || s.completed() == 0) {
    fmt::print(out, "  sets {}, gets {} ({} hits, {} misses)\n", s.sets, s.gets, s.get_hits,
               s.get_misses);
  }
  if (s.incrs != 0) fmt::print(out, "  incrs {}\n", s.incrs);
  if (s.expires != 0) {
    fmt::print(out, "  expires {} ({:.0f} INCR + EXPIRE pairs/s)\n", s.expires,
               result.elapsed_s() > 0 ? static_cast<double>(s.expires) / result.elapsed_s() : 0);
  }
  if (s.mgets != 0) {
    fmt::print(out, "  mgets {} ({} keys found, {} nil)\n", s.mgets, s.mget_hits, s.mget_misses);
  }
  if (s.msets != 0) fmt::print(out, "  msets {}\n", s.msets);
  fmt::print(out, "  latency    p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  (mean {})\n",
             FormatMillis(h.ValueAtPercentile(50)), FormatMillis(h.ValueAtPercentile(90)),
             FormatMillis(h.ValueAtPercentile(99)), FormatMillis(h.ValueAtPercentile(99.9)),
             FormatMillis(h.max()), FormatMillis(static_cast<uint64_t>(h.mean())));
  if (s.errors() == 0) {
    fmt::print(out, "  errors     none\n");
  } else {
    fmt::print(out,
               "  ERRORS     {} error replies, {} wrong replies, {} connection failures, {} "
               "requests lost\n",
               s.error_replies, s.wrong_replies, s.connection_errors, s.lost_requests);
    fmt::print(out, "  first      {}\n", s.first_error);
  }
}

void PrintJson(const RunConfig& config, const RunResult& result, std::FILE* out) {
  const LoopStats& s = result.stats;
  const LatencyHistogram& h = s.latency;
  std::string j = "{";
  j += fmt::format(
      R"("addr":{},"protocol":{},"clients":{},"pipeline":{},"threads":{},)"
      R"("ratio":{{"set":{},"get":{}}},"keyspace":{},"value_size":{},"requests_asked":{},)"
      R"("duration_asked_s":{},"seed":{},"op":{},"multi_keys":{},"ttl_s":{},)",
      JsonString(config.addr), JsonString(config.protocol), config.clients, config.pipeline,
      config.threads, config.set_weight, config.get_weight, config.keyspace, config.value_size,
      config.requests, config.duration_s, config.seed, JsonString(config.op), config.multi_keys,
      config.ttl_s);
  j += fmt::format(
      R"("requests":{},"sets":{},"gets":{},"get_hits":{},"get_misses":{},"elapsed_s":{:.6f},)"
      R"("throughput_rps":{:.1f},"interrupted":{},)",
      s.completed(), s.sets, s.gets, s.get_hits, s.get_misses, result.elapsed_s(),
      result.throughput(), result.interrupted);
  j += fmt::format(
      R"("incrs":{},"expires":{},"mgets":{},"msets":{},"mget_hits":{},"mget_misses":{},"keys":{},)"
      R"("keys_per_s":{:.1f},)",
      s.incrs, s.expires, s.mgets, s.msets, s.mget_hits, s.mget_misses, s.keys,
      result.keys_per_s());
  j +=
      fmt::format(R"("latency_us":{{"min":{:.1f},"mean":{:.1f},)", Micros(h.min()), h.mean() / 1e3);
  for (const Percentile& p : kPercentiles) {
    j += fmt::format(R"("{}":{:.1f},)", p.json_name, Micros(h.ValueAtPercentile(p.value)));
  }
  j += fmt::format(R"("max":{:.1f}}},)", Micros(h.max()));
  j += fmt::format(
      R"("errors":{{"total":{},"error_replies":{},"connection_failures":{},"lost_requests":{},)"
      R"("wrong_replies":{},"first":{}}},)",
      s.errors(), s.error_replies, s.connection_errors, s.lost_requests, s.wrong_replies,
      s.first_error.empty() ? std::string("null") : JsonString(s.first_error));
  j += fmt::format(R"("syscalls":{{"send":{},"recv":{}}},)", s.sends, s.recvs);
  j += R"("timeline":[)";
  for (size_t i = 0; i < result.timeline.size(); ++i) {
    const TimelinePoint& p = result.timeline[i];
    j += fmt::format(R"({}{{"t_s":{:.3f},"rps":{:.1f},"p99_us":{:.1f}}})", i ? "," : "", p.t_s,
                     p.requests_per_s, Micros(p.p99_ns));
  }
  j += "]}\n";
  std::fwrite(j.data(), 1, j.size(), out);
  std::fflush(out);
}

bool WritePlot(const RunConfig& config, const RunResult& result, const std::string& png,
               std::string* message) {
  const LatencyHistogram& h = result.stats.latency;
  if (h.count() == 0) {
    *message = "no replies to plot";
    return false;
  }
  char dir_template[] = "/tmp/kvs-bench-plot.XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) {
    *message = fmt::format("mkdtemp: {}", std::strerror(errno));
    return false;
  }
  const std::string dir = dir_template;
  const std::string timeline_path = dir + "/timeline.dat";
  const std::string spectrum_path = dir + "/spectrum.dat";
  const std::string script_path = dir + "/plot.gp";

  std::string timeline = "# t_s rps p99_ms\n";
  for (const TimelinePoint& p : result.timeline) {
    timeline += fmt::format("{:.3f} {:.1f} {:.4f}\n", p.t_s, p.requests_per_s,
                            static_cast<double>(p.p99_ns) / 1e6);
  }
  // Latency by percentile, HdrHistogram style: x = 1 / (1 - fraction at or below).
  std::string spectrum = "# one_over_one_minus_q latency_ms\n";
  const double count = static_cast<double>(h.count());
  const double last_x = 2 * count;  // the maximum has no finite x; put it just past the rest
  uint64_t seen = 0;
  for (size_t b = 0; b < LatencyHistogram::kBuckets; ++b) {
    if (h.bucket_count(b) == 0) continue;
    seen += h.bucket_count(b);
    const double q = static_cast<double>(seen) / count;
    const double x = q < 1 ? std::min(1 / (1 - q), last_x) : last_x;
    const uint64_t v = std::min(LatencyHistogram::BucketHighest(b), h.max());
    spectrum += fmt::format("{:.6g} {:.4f}\n", x, static_cast<double>(v) / 1e6);
  }
  const bool with_timeline = !result.timeline.empty();
  std::string script = fmt::format(
      "set terminal png size 1000,{}\n"
      "set output {}\n"
      "set multiplot layout {},1 title {}\n"
      "set grid\n",
      with_timeline ? 800 : 450, GnuplotQuote(png), with_timeline ? 2 : 1,
      GnuplotQuote(fmt::format("kvs-bench {} {}: {} clients, pipeline {}, {}, "
                               "value {} B, {:.0f} req/s",
                               config.protocol, config.addr, config.clients, config.pipeline,
                               WorkloadLabel(config), config.value_size, result.throughput())));
  if (with_timeline) {
    script += fmt::format(
        "set xlabel 'seconds'\nset ylabel 'requests/s'\nset y2label 'p99 (ms)'\n"
        "set ytics nomirror\nset y2tics\nset xrange [0:*]\nset yrange [0:*]\nset y2range [0:*]\n"
        "plot {0} using 1:2 with linespoints title 'requests/s' axes x1y1, "
        "{0} using 1:3 with linespoints title 'p99 ms' axes x1y2\n"
        "unset y2tics\nunset y2label\nset ytics mirror\n",
        GnuplotQuote(timeline_path));
  }
  script += fmt::format(
      "set logscale x\nset xrange [1:*]\nset yrange [0:*]\n"
      "set xlabel 'percentile'\nset ylabel 'latency (ms)'\n"
      // Tic labels are formats: '%%' is a percent sign.
      "set xtics ('0%%' 1, '50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, "
      "'99.999%%' 100000, '99.9999%%' 1000000)\n"
      "plot {} using 1:2 with steps title 'latency by percentile'\n"
      "unset multiplot\n",
      GnuplotQuote(spectrum_path));

  bool ok = WriteFile(timeline_path, timeline) && WriteFile(spectrum_path, spectrum) &&
            WriteFile(script_path, script);
  if (!ok) {
    *message = fmt::format("cannot write plot data in {}: {}", dir, std::strerror(errno));
  } else {
    std::string arg0 = "gnuplot";
    std::string arg1 = script_path;
    char* argv[] = {arg0.data(), arg1.data(), nullptr};
    pid_t pid = 0;
    const int rc = ::posix_spawnp(&pid, "gnuplot", nullptr, nullptr, argv, environ);
    if (rc == ENOENT) {
      *message = "gnuplot not found (Debian: apt-get install gnuplot-nox)";
      ok = false;
    } else if (rc != 0) {
      *message = fmt::format("cannot run gnuplot: {}", std::strerror(rc));
      ok = false;
    } else {
      int status = 0;
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        *message = "gnuplot failed (its messages are above)";
        ok = false;
      }
    }
  }
  ::unlink(timeline_path.c_str());
  ::unlink(spectrum_path.c_str());
  ::unlink(script_path.c_str());
  ::rmdir(dir.c_str());
  return ok;
}

}  // namespace kvs::bench
