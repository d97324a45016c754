// kvs-bench: a load generator for kvs-server (and Redis), speaking newline-delimited JSON
// or RESP2. N client connections spread over a few epoll threads, each connection keeping
// `--pipeline` requests in flight; SETs and GETs mixed by `--ratio` over `--keyspace`
// keys "key:%010d" (or, with `--op`, only SET, GET, INCR, MGET or MSET; the last three RESP
// only; or, RESP only, one of issue 18's expiry workloads: `session`, SET key value EX ttl
// and GET by --ratio (default 1:9), and `ratelimit`, pipelined INCR ctr:N + EXPIRE ctr:N ttl
// pairs, each command counted as one request); for `--requests` replies or `--duration`
// seconds. It prints throughput and latency percentiles (p50 p90 p99 p99.9 max) from a
// log-linear histogram, a live progress line on a terminal, and with --json a
// machine-readable result on stdout.
//
// Exit: 0 on a clean run, 1 when any request failed (error reply, connection failure,
// lost request), 2 on a usage error, 130 when interrupted (results are still printed).

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client_loop.h"
#include "histogram.h"
#include "report.h"
#include "workload.h"

namespace kvs::bench {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitErrors = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;
constexpr size_t kMaxValueSize = size_t{16} << 20;  // the server's value limit

std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

void OnSignal(int) { g_stop.store(true, std::memory_order_relaxed); }

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sa.sa_flags = SA_RESETHAND;  // a second Ctrl-C kills outright
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

// "IP:PORT", "[IPv6]:PORT" or "host:PORT" (resolved once, first address).
bool ResolveAddress(const std::string& text, sockaddr_storage* out, socklen_t* len,
                    std::string* error) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon + 1 == text.size()) {
    *error = fmt::format("invalid address '{}': expected IP:PORT", text);
    return false;
  }
  std::string host = text.substr(0, colon);
  const std::string port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    *error = fmt::format("invalid address '{}': {}", text, ::gai_strerror(rc));
    return false;
  }
  std::memcpy(out, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  ::freeaddrinfo(res);
  return true;
}

bool ParseRatio(const std::string& text, uint32_t* set_weight, uint32_t* get_weight) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return false;
  auto parse = [](std::string_view s, uint32_t* v) {
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
    return !s.empty() && ec == std::errc() && ptr == s.data() + s.size() && *v <= 1'000'000;
  };
  const std::string_view t = text;
  return parse(t.substr(0, colon), set_weight) && parse(t.substr(colon + 1), get_weight) &&
         *set_weight + *get_weight > 0;
}

// Splits `total` into `parts` shares that differ by at most one; share `i`.
uint64_t Share(uint64_t total, uint64_t parts, uint64_t i) {
  return total / parts + (i < total % parts ? 1 : 0);
}

struct Phase {
  LoopStats stats;
  std::vector<TimelinePoint> timeline;
};

// Runs one phase (the prefill or the measured run) on `threads` loops and watches it:
// once a second it samples progress, adds a timeline point and, on a terminal, rewrites
// the progress line on stderr.
Phase RunPhase(const std::vector<LoopOptions>& per_thread, const RequestTemplates& templates,
               bool progress_line, std::string_view label) {
  std::vector<std::unique_ptr<ClientLoop>> loops;
  for (const LoopOptions& o : per_thread)
    loops.push_back(std::make_unique<ClientLoop>(o, &templates));
  std::atomic<size_t> finished{0};
  std::vector<std::thread> threads;
  const uint64_t start = NowNanos();
  for (auto& loop : loops) {
    threads.emplace_back([&finished, l = loop.get()] {
      l->Run();
      finished.fetch_add(1, std::memory_order_release);
    });
  }

  Phase phase;
  constexpr uint64_t kSecond = 1'000'000'000;
  uint64_t next_tick = start + kSecond;
  uint64_t last_tick = start;
  uint64_t last_completed = 0;
  LatencyHistogram last_hist;
  LatencyHistogram total;
  LatencyHistogram one;
  while (finished.load(std::memory_order_acquire) < loops.size()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const uint64_t now = NowNanos();
    if (now < next_tick) continue;
    uint64_t completed = 0;
    total.Reset();
    for (auto& loop : loops) {
      completed += loop->completed();
      loop->CopySnapshot(&one);
      total.Add(one);
    }
    LatencyHistogram interval = total;
    interval.Subtract(last_hist);
    const double dt = static_cast<double>(now - last_tick) / 1e9;
    TimelinePoint p;
    p.t_s = static_cast<double>(now - start) / 1e9;
    p.requests_per_s = static_cast<double>(completed - last_completed) / dt;
    p.p99_ns = interval.ValueAtPercentile(99);
    phase.timeline.push_back(p);
    if (progress_line) {
      fmt::print(stderr, "\r\033[K{}[{:5.1f}s] {:9.0f} req/s  p99 {} (all {})  {} done", label,
                 p.t_s, p.requests_per_s, FormatMillis(p.p99_ns),
                 FormatMillis(total.ValueAtPercentile(99)), completed);
      std::fflush(stderr);
    }
    last_tick = now;
    last_completed = completed;
    last_hist = total;
    next_tick += kSecond;
    if (next_tick <= now) next_tick = now + kSecond;
  }
  for (auto& t : threads) t.join();
  if (progress_line && !phase.timeline.empty()) fmt::print(stderr, "\r\033[K");
  for (auto& loop : loops) phase.stats.Add(loop->stats());
  return phase;
}

int Main(int argc, char** argv) {
  CLI::App app{"kvs-bench: load generator for kvs-server and Redis (JSON or RESP)"};
  app.set_version_flag("-V,--version", KVS_BENCH_VERSION);
  std::string addr_text = "127.0.0.1:4000";
  std::string protocol_text = "json";
  int clients = 50;
  int pipeline = 1;
  std::string ratio_text = "1:1";
  std::string op_text = "mixed";
  size_t multi_keys = kDefaultMultiKeys;
  uint64_t ttl_s = kDefaultTtlSeconds;
  uint64_t keyspace = 100000;
  size_t value_size = 100;
  uint64_t requests = 0;
  double duration_s = 0;
  uint64_t seed = 1;
  bool json = false;
  bool prefill = false;
  std::string plot;
  int threads = 1;
  app.add_option("--addr", addr_text, "server address IP:PORT")->capture_default_str();
  app.add_option("--protocol", protocol_text, "wire protocol")
      ->check(CLI::IsMember({"json", "resp"}))
      ->capture_default_str();
  app.add_option("--clients", clients, "client connections")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--pipeline", pipeline,
                 "requests in flight per connection (--op ratelimit: INCR + EXPIRE pairs)")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  auto* ratio_opt =
      app.add_option("--ratio", ratio_text, "SET:GET mix, e.g. 1:1, 1:0 (only SET), 1:9")
          ->capture_default_str();
  app.add_option("--op", op_text,
                 "what to send: mixed (SET and GET by --ratio), set, get, or (RESP only) incr "
                 "(INCR of counters ctr:%010d), mget, mset (--multi-keys keys each), session "
                 "(SET EX --ttl and GET by --ratio, default 1:9), ratelimit (INCR ctr:N then "
                 "EXPIRE ctr:N --ttl, pipelined; each command is one request)")
      ->check(
          CLI::IsMember({"mixed", "set", "get", "incr", "mget", "mset", "session", "ratelimit"}))
      ->capture_default_str();
  app.add_option("--ttl", ttl_s, "seconds of SET EX and EXPIRE (--op session, ratelimit)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1'000'000'000}))
      ->capture_default_str();
  app.add_option("--multi-keys", multi_keys, "keys per MGET / MSET")
      ->check(CLI::Range(size_t{1}, kMaxMultiKeys))
      ->capture_default_str();
  app.add_option("--keyspace", keyspace, "distinct keys, key:0000000000 up")
      ->check(CLI::Range(uint64_t{1}, kMaxKeyspace))
      ->capture_default_str();
  app.add_option("--value-size", value_size, "bytes per SET value")
      ->check(CLI::Range(size_t{0}, kMaxValueSize))
      ->capture_default_str();
  auto* requests_opt =
      app.add_option("--requests", requests,
                     "stop after this many requests (default 100000; 0 with --prefill: "
                     "only the prefill)")
          ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 50));
  app.add_option("--duration", duration_s, "run this many seconds instead of --requests")
      ->check(CLI::Range(0.001, 1e6))
      ->excludes(requests_opt);
  app.add_option("--seed", seed, "seed of the key, op and value streams")->capture_default_str();
  app.add_flag("--prefill", prefill, "first SET every key of the key space once (not measured)");
  app.add_flag("--json", json, "print the result as one JSON object on stdout (summary to stderr)");
  app.add_option("--plot", plot, "draw throughput and latency into this PNG (needs gnuplot)");
  app.add_option("--threads", threads, "event-loop threads")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  RunConfig config;
  uint32_t set_weight = 0;
  uint32_t get_weight = 0;
  if (!ParseRatio(ratio_text, &set_weight, &get_weight)) {
    fmt::print(stderr, "kvs-bench: --ratio '{}': expected SET:GET weights like 1:1 or 1:0\n",
               ratio_text);
    return kExitUsage;
  }
  std::optional<Op> only;
  const bool session = op_text == "session";
  const bool ratelimit = op_text == "ratelimit";
  // A session store reads far more than it writes: 1 SET EX per 9 GETs unless --ratio says.
  if (session && ratio_opt->count() == 0) {
    set_weight = 1;
    get_weight = 9;
  }
  if (op_text != "mixed" && !session) {
    if (ratio_opt->count() != 0) {
      fmt::print(stderr, "kvs-bench: --ratio mixes SET and GET; it cannot go with --op {}\n",
                 op_text);
      return kExitUsage;
    }
    if (op_text == "set" || op_text == "get") {
      set_weight = op_text == "set" ? 1 : 0;
      get_weight = 1 - set_weight;
    } else {
      only = op_text == "incr" || ratelimit ? Op::kIncr : op_text == "mget" ? Op::kMget : Op::kMset;
      set_weight = get_weight = 0;
    }
  }
  if (op_text != "mixed" && op_text != "set" && op_text != "get" && protocol_text != "resp") {
    fmt::print(stderr,
               "kvs-bench: --op {} needs --protocol resp (INCR, MGET, MSET, SET EX and EXPIRE "
               "are Redis commands; kvs-bench sends JSON only as GET and SET)\n",
               op_text);
    return kExitUsage;
  }
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string error;
  if (!ResolveAddress(addr_text, &addr, &addr_len, &error)) {
    fmt::print(stderr, "kvs-bench: {}\n", error);
    return kExitUsage;
  }
  if (requests_opt->count() == 0 && duration_s == 0) requests = 100000;
  const bool prefill_only = requests_opt->count() != 0 && requests == 0;
  if (prefill_only && !prefill) {
    fmt::print(stderr, "kvs-bench: --requests 0 only makes sense with --prefill\n");
    return kExitUsage;
  }
  threads = std::min(threads, clients);
  const proto::Protocol protocol =
      protocol_text == "resp" ? proto::Protocol::kResp : proto::Protocol::kJson;
  config = RunConfig{addr_text,  protocol_text, clients,    pipeline, threads,    set_weight,
                     get_weight, keyspace,      value_size, requests, duration_s, seed};
  config.op = op_text;
  config.multi_keys = multi_keys;
  config.ttl_s = ttl_s;

  InstallSignalHandlers();
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  const RequestTemplates templates(protocol, value_size, seed, multi_keys, ttl_s);

  LoopOptions base;
  base.addr = addr;
  base.addr_len = addr_len;
  base.protocol = protocol;
  base.pipeline = pipeline;
  base.set_weight = set_weight;
  base.get_weight = get_weight;
  base.only = only;
  base.sets_with_ttl = session;
  base.expire_after_incr = ratelimit;
  base.keyspace = keyspace;
  base.seed = seed;
  base.stop = &g_stop;
  auto per_thread = [&](bool is_prefill) {
    std::vector<LoopOptions> v;
    const auto n = static_cast<uint64_t>(threads);
    int first_id = 0;
    uint64_t first_key = 0;
    const uint64_t deadline =
        duration_s > 0 ? NowNanos() + static_cast<uint64_t>(duration_s * 1e9) : 0;
    for (uint64_t t = 0; t < n; ++t) {
      LoopOptions o = base;
      o.connections = static_cast<int>(Share(static_cast<uint64_t>(clients), n, t));
      o.first_connection_id = first_id;
      first_id += o.connections;
      if (is_prefill) {
        o.prefill = true;
        o.prefill_begin = first_key;
        first_key += Share(keyspace, n, t);
        o.prefill_end = first_key;
      } else {
        o.max_requests = requests > 0 ? Share(requests, n, t) : 0;
        o.deadline_ns = deadline;
      }
      if (o.max_requests != 0 || o.deadline_ns != 0 || o.prefill_end > o.prefill_begin) {
        v.push_back(o);
      }
    }
    return v;
  };

  if (prefill) {
    Phase p = RunPhase(per_thread(true), templates, tty, "prefill ");
    const double s = static_cast<double>(p.stats.end_ns - p.stats.start_ns) / 1e9;
    fmt::print(stderr, "kvs-bench: prefill: {} keys set in {:.3f} s\n", p.stats.sets, s);
    if (p.stats.errors() != 0) {
      fmt::print(stderr, "kvs-bench: prefill failed: {} errors; first: {}\n", p.stats.errors(),
                 p.stats.first_error);
      return kExitErrors;
    }
    if (g_stop.load()) return kExitInterrupted;
    if (prefill_only) return kExitOk;
  }

  Phase phase = RunPhase(per_thread(false), templates, tty, "");
  RunResult result;
  result.stats = std::move(phase.stats);
  result.timeline = std::move(phase.timeline);
  result.interrupted = g_stop.load();

  PrintSummary(config, result, json ? stderr : stdout);
  if (json) PrintJson(config, result, stdout);
  std::fflush(stdout);  // before the messages on stderr below, when both go to one place
  if (!plot.empty()) {
    std::string message;
    if (WritePlot(config, result, plot, &message)) {
      fmt::print(stderr, "kvs-bench: plot written to {}\n", plot);
    } else {
      fmt::print(stderr, "kvs-bench: --plot skipped: {}\n", message);
    }
  }
  if (result.stats.errors() != 0) {
    fmt::print(stderr, "kvs-bench: the run had {} errors (first: {})\n", result.stats.errors(),
               result.stats.first_error);
    return kExitErrors;
  }
  if (result.interrupted) return kExitInterrupted;
  return kExitOk;
}

}  // namespace
}  // namespace kvs::bench

int main(int argc, char** argv) { return kvs::bench::Main(argc, argv); }
