// kvs-server: the durable key-value server (DESIGN.md "kvs-server").
//
// Parses flags (each also readable from a KVS_* environment variable), opens the engine,
// binds the port, and runs the io_uring loop until SIGTERM/SIGINT, then finishes in-flight
// work, syncs and exits 0. Start-up failures print one clear line and exit non-zero.
//
// Under systemd (systemd/kvs.service, Type=notify) it reports READY=1 once recovery is done
// and the port listens, STATUS= lines while starting and serving, and STOPPING=1 when it
// begins to shut down; its log lines then carry syslog "<N>" level prefixes for the journal.

#include <netinet/in.h>
#include <pthread.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>

#include "pool/thread_pool.h"
#include "raft/raft_node.h"
#include "server/address.h"
#include "server/server.h"
#include "store/engine.h"

namespace {

constexpr int kExitUsage = 2;
constexpr int kExitFailure = 1;

// True when stderr is connected to the journal: systemd sets JOURNAL_STREAM to the
// "DEVICE:INODE" of the stream it gave the service, so a redirected stderr does not count.
bool StderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

// "%*": the sd-daemon(3) syslog priority of a line (journald strips "<N>" and keeps N).
class SyslogPriorityFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm& /*time*/,
              spdlog::memory_buf_t& dest) override {
    char priority = '6';  // LOG_INFO
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug:
        priority = '7';  // LOG_DEBUG
        break;
      case spdlog::level::warn:
        priority = '4';  // LOG_WARNING
        break;
      case spdlog::level::err:
        priority = '3';  // LOG_ERR
        break;
      case spdlog::level::critical:
        priority = '2';  // LOG_CRIT
        break;
      default:
        break;
    }
    dest.push_back(priority);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SyslogPriorityFlag>();
  }
};

// The journal timestamps lines and records their priority, so they go there as "<N>text";
// a terminal gets colour and timestamps; anything else (a pipe, a file) plain timestamped
// lines.
void SetUpLogging() {
  std::shared_ptr<spdlog::logger> logger;
  if (StderrIsJournal()) {
    logger = spdlog::stderr_logger_mt("kvs");
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<SyslogPriorityFlag>('*').set_pattern("<%*>%v");
    logger->set_formatter(std::move(formatter));
  } else if (::isatty(STDERR_FILENO)) {
    logger = spdlog::stderr_color_mt("kvs");
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  } else {
    logger = spdlog::stderr_logger_mt("kvs");
    logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
  }
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

// sd_notify(3) to the service manager; a no-op when NOTIFY_SOCKET is unset (not under
// systemd), and a failure to notify is not a reason to stop serving.
void Notify(const std::string& state) {
  if (int r = sd_notify(0, state.c_str()); r < 0) {
    spdlog::warn("sd_notify failed: {}", std::strerror(-r));
  }
}

// `addr` with the port the listener actually got (differs when --addr asked for port 0).
std::string BoundAddress(const kvs::Address& addr, uint16_t port) {
  kvs::Address bound = addr;
  if (bound.family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&bound.storage)->sin_port = htons(port);
  } else if (bound.family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&bound.storage)->sin6_port = htons(port);
  }
  return bound.ToString();
}

// Under systemd, refreshes the STATUS= line `systemctl status kvs` shows ("serving on ADDR,
// N keys") every few seconds until Stop(). Engine::Stats() is safe from any thread.
class StatusReporter {
 public:
  StatusReporter(const kvs::Engine* engine, std::string addr)
      : engine_(engine), addr_(std::move(addr)) {
    if (std::getenv("NOTIFY_SOCKET") != nullptr) thread_ = std::thread([this] { Loop(); });
  }
  ~StatusReporter() { Stop(); }
  StatusReporter(const StatusReporter&) = delete;
  StatusReporter& operator=(const StatusReporter&) = delete;

  std::string Line() const {
    return fmt::format("STATUS=serving on {}, {} keys", addr_, engine_->Stats().keys);
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(5), [this] { return stop_; })) {
      Notify(Line());
    }
  }

  const kvs::Engine* const engine_;
  const std::string addr_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  std::thread thread_;
};

[[noreturn]] void Fail(int code, std::string_view msg) {
  spdlog::error("{}", msg);
  std::string status = fmt::format("STATUS=failed: {}", msg);
  std::replace(status.begin(), status.end(), '\n', ' ');  // one assignment per line
  Notify(status);
  spdlog::shutdown();
  std::_Exit(code);
}

}  // namespace

int main(int argc, char** argv) {
  SetUpLogging();

  CLI::App app{"kvs-server: a durable key-value server on io_uring"};
  app.set_version_flag("-V,--version", KVS_VERSION_STRING);
  std::string addr_text = "127.0.0.1:4000";
  std::string engine_name;
  std::string data_dir = ".";
  std::string fsync_text = "always";
  uint64_t segment_bytes = 64ull << 20;
  uint64_t compact_min_dead_bytes = kvs::Options{}.compaction_min_dead_bytes;
  double compact_dead_ratio = kvs::Options{}.compaction_dead_ratio;
  uint64_t zero_fill_ahead = kvs::Options{}.zero_fill_ahead_bytes;
  std::string log_write_text = "auto";
  size_t loop_reads = kvs::ServerConfig{}.loop_reads;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::string pool_text = "stealing";
  size_t max_clients = 10000;
  uint32_t idle_timeout_s = 300;
  uint32_t sync_interval_ms = 1000;
  bool repair = false;
  uint64_t node_id = 0;
  std::string peers_text;
  bool join = false;
  kvs::raft::NodeOptions raft_defaults;
  unsigned election_ms = raft_defaults.election_timeout_ms;
  unsigned heartbeat_ms = raft_defaults.heartbeat_timeout_ms;
  unsigned snapshot_threshold = raft_defaults.snapshot_threshold;
  unsigned snapshot_trailing = raft_defaults.snapshot_trailing;

  app.add_option("--addr", addr_text, "listen address IP:PORT")
      ->envname("KVS_ADDR")
      ->capture_default_str();
  app.add_option("--engine", engine_name,
                 "storage engine: kvs or rocksdb (default: the data directory's, else kvs)")
      ->envname("KVS_ENGINE");
  app.add_option("--data-dir", data_dir, "data directory")
      ->envname("KVS_DATA_DIR")
      ->capture_default_str();
  app.add_option("--fsync", fsync_text, "when a write is acknowledged: always|periodic|never")
      ->envname("KVS_FSYNC")
      ->capture_default_str();
  app.add_option("--sync-interval-ms", sync_interval_ms, "sync period under --fsync periodic")
      ->envname("KVS_SYNC_INTERVAL_MS")
      ->check(CLI::Range(1u, 3600000u))
      ->capture_default_str();
  app.add_option("--segment-bytes", segment_bytes, "roll to a new log segment past this size")
      ->envname("KVS_SEGMENT_BYTES")
      ->check(CLI::Range(uint64_t{4096}, uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--compact-min-dead-bytes", compact_min_dead_bytes,
                 "kvs engine: compact once closed segments hold this many dead bytes...")
      ->envname("KVS_COMPACT_MIN_DEAD_BYTES")
      ->capture_default_str();
  app.add_option("--compact-dead-ratio", compact_dead_ratio,
                 "...and this fraction of their size is dead")
      ->envname("KVS_COMPACT_DEAD_RATIO")
      ->check(CLI::Range(0.01, 1.0))
      ->capture_default_str();
  app.add_option("--zero-fill-ahead", zero_fill_ahead,
                 "kvs engine: bytes kept written (zeros) ahead of the log's end, so that "
                 "appends' fdatasyncs commit no metadata (0: off)")
      ->envname("KVS_ZERO_FILL_AHEAD")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 32))
      ->capture_default_str();
  app.add_option("--log-write", log_write_text,
                 "kvs engine: how the loop writes and fdatasyncs the log: inline (on its own "
                 "thread), uring (through io_uring, serving others meanwhile), auto (inline "
                 "unless lookups are in flight)")
      ->envname("KVS_LOG_WRITE")
      ->check(CLI::IsMember({"auto", "inline", "uring"}))
      ->capture_default_str();
  app.add_option("--loop-reads", loop_reads,
                 "reads per loop iteration answered on the loop from the page cache before "
                 "the rest go to the lookup threads (0: all go to them)")
      ->envname("KVS_LOOP_READS")
      ->check(CLI::Range(size_t{0}, size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--threads", threads, "lookup threads (default: number of cores)")
      ->envname("KVS_THREADS")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--pool", pool_text, "thread pool: stealing|shared|tbb")
      ->envname("KVS_POOL")
      ->capture_default_str();
  app.add_option("--max-clients", max_clients, "most open client connections")
      ->envname("KVS_MAX_CLIENTS")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--idle-timeout", idle_timeout_s,
                 "close clients idle this many seconds (0: never)")
      ->envname("KVS_IDLE_TIMEOUT")
      ->capture_default_str();
  app.add_flag("--repair", repair, "drop damaged records at start instead of refusing to start")
      ->envname("KVS_REPAIR");
  // Cluster mode (docs/REPLICATION.md).
  app.add_option("--node-id", node_id, "cluster mode: this node's id in --peers")
      ->envname("KVS_NODE_ID")
      ->check(CLI::Range(uint64_t{1}, UINT64_MAX));
  app.add_option("--peers", peers_text,
                 "cluster mode: every node as ID=CLIENT_ADDR/RAFT_ADDR, comma-separated")
      ->envname("KVS_PEERS");
  app.add_flag("--join", join,
               "cluster mode: a new node that waits to be added (kvs-client cluster add) "
               "instead of bootstrapping a cluster")
      ->envname("KVS_JOIN");
  app.add_option("--raft-election-ms", election_ms, "cluster mode: Raft election timeout")
      ->envname("KVS_RAFT_ELECTION_MS")
      ->check(CLI::Range(50u, 60000u))
      ->capture_default_str();
  app.add_option("--raft-heartbeat-ms", heartbeat_ms, "cluster mode: Raft heartbeat period")
      ->envname("KVS_RAFT_HEARTBEAT_MS")
      ->check(CLI::Range(10u, 10000u))
      ->capture_default_str();
  app.add_option("--raft-snapshot-threshold", snapshot_threshold,
                 "cluster mode: log entries between snapshots")
      ->envname("KVS_RAFT_SNAPSHOT_THRESHOLD")
      ->check(CLI::Range(2u, 1u << 30))
      ->capture_default_str();
  app.add_option("--raft-snapshot-trailing", snapshot_trailing,
                 "cluster mode: log entries kept behind a snapshot")
      ->envname("KVS_RAFT_SNAPSHOT_TRAILING")
      ->check(CLI::Range(1u, 1u << 30))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    Fail(kExitUsage, fmt::format("{} (see --help)", e.what()));
  }

  kvs::Result<kvs::Address> addr = kvs::ParseAddress(addr_text);
  if (!addr.ok()) Fail(kExitUsage, addr.status().message());
  kvs::Result<kvs::FsyncPolicy> fsync = kvs::ParseFsyncPolicy(fsync_text);
  if (!fsync.ok()) Fail(kExitUsage, fsync.status().message());
  kvs::Result<kvs::PoolKind> pool_kind = kvs::ParsePoolKind(pool_text);
  if (!pool_kind.ok()) Fail(kExitUsage, pool_kind.status().message());
  if (!engine_name.empty() && engine_name != "kvs" && engine_name != "rocksdb") {
    Fail(kExitUsage, fmt::format("unknown engine '{}' (expected kvs or rocksdb)", engine_name));
  }
  const bool cluster_mode = node_id != 0 || !peers_text.empty();
  std::vector<kvs::raft::Peer> peers;
  if (cluster_mode) {
    if (node_id == 0 || peers_text.empty()) {
      Fail(kExitUsage, "--node-id and --peers go together (cluster mode)");
    }
    kvs::Result<std::vector<kvs::raft::Peer>> parsed = kvs::raft::ParsePeers(peers_text);
    if (!parsed.ok()) Fail(kExitUsage, parsed.status().message());
    peers = std::move(*parsed);
    if (std::none_of(peers.begin(), peers.end(),
                     [node_id](const kvs::raft::Peer& p) { return p.id == node_id; })) {
      Fail(kExitUsage, fmt::format("--node-id {} is not one of the nodes in --peers", node_id));
    }
  } else if (join) {
    Fail(kExitUsage, "--join needs --node-id and --peers (cluster mode)");
  }

  // SIGTERM/SIGINT are taken by one thread (sigwait) that asks the loop to stop; blocked
  // everywhere else, so no handler ever runs on the loop or a pool thread.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  kvs::Options options;
  options.data_dir = data_dir;
  options.fsync = *fsync;
  options.sync_interval_ms = sync_interval_ms;
  options.segment_bytes = segment_bytes;
  options.repair = repair;
  options.compaction_min_dead_bytes = compact_min_dead_bytes;
  options.compaction_dead_ratio = compact_dead_ratio;
  options.zero_fill_ahead_bytes = zero_fill_ahead;
  options.on_warning = [](std::string_view w) { spdlog::warn("{}", w); };
  if (cluster_mode) {
    // Raft's log, fsynced by libraft before a write counts, is the write-ahead log; the
    // engine is rebuilt from it (and its snapshots) after a crash, so it need not sync.
    if (*fsync != kvs::FsyncPolicy::kAlways) {
      spdlog::warn(
          "--fsync {} does not apply in cluster mode: a write counts once a majority "
          "has it fsynced in the Raft log",
          fsync_text);
    }
    options.fsync = kvs::FsyncPolicy::kNever;
  }

  spdlog::info("{} starting: engine {}, address {}, data directory {}, fsync {}",
               KVS_VERSION_STRING, engine_name.empty() ? "(from data directory)" : engine_name,
               addr->ToString(), data_dir, fsync_text);
  Notify(fmt::format("STATUS=recovering data directory {}", data_dir));
  kvs::Result<std::unique_ptr<kvs::Engine>> engine = kvs::OpenEngine(engine_name, options);
  if (!engine.ok()) Fail(kExitFailure, engine.status().ToString());
  kvs::EngineStats recovered = (*engine)->Stats();
  spdlog::info("engine {} open: {} keys, {} segments, {} bytes on disk", (*engine)->name(),
               recovered.keys, recovered.segments, recovered.disk_bytes);

  std::unique_ptr<kvs::raft::RaftNode> cluster;
  if (cluster_mode) {
    kvs::raft::NodeOptions ro;
    ro.id = node_id;
    ro.peers = peers;
    ro.join = join;
    ro.dir = (std::filesystem::path(data_dir) / "raft").string();
    ro.election_timeout_ms = election_ms;
    ro.heartbeat_timeout_ms = heartbeat_ms;
    ro.snapshot_threshold = snapshot_threshold;
    ro.snapshot_trailing = snapshot_trailing;
    ro.on_info = [](std::string_view text) { spdlog::info("{}", text); };
    ro.on_fatal = [](std::string_view why) {
      // A replica that cannot apply the log must not serve a state that diverged from it;
      // on restart it rebuilds the engine from Raft's log and snapshot.
      spdlog::critical("stopping: {}", why);
      spdlog::shutdown();
      std::_Exit(kExitFailure);
    };
    Notify("STATUS=starting the Raft node (restoring the engine from its log)");
    kvs::Result<std::unique_ptr<kvs::raft::RaftNode>> started =
        kvs::raft::RaftNode::Start(ro, engine->get());
    if (!started.ok()) Fail(kExitFailure, started.status().ToString());
    cluster = std::move(*started);
    spdlog::info("cluster node {} of {} started (Raft files in {}){}", node_id, peers.size(),
                 ro.dir, join ? "; waiting to be added" : "");
  }

  std::unique_ptr<kvs::ThreadPool> pool = kvs::MakePool(*pool_kind, threads);

  kvs::ServerConfig config;
  config.addr = *addr;
  config.max_clients = max_clients;
  config.idle_timeout_s = idle_timeout_s;
  config.fsync = *fsync;
  config.log_write = log_write_text == "inline"  ? kvs::LogWritePath::kInline
                     : log_write_text == "uring" ? kvs::LogWritePath::kUring
                                                 : kvs::LogWritePath::kAuto;
  config.loop_reads = loop_reads;
  config.version = KVS_VERSION_STRING;
  config.cluster = cluster.get();
  // WatchdogSec= in the unit: the loop itself proves it is alive, once a second (systemd
  // wants a ping at least every half interval; the unit's is 30 s).
  if (uint64_t usec = 0; sd_watchdog_enabled(0, &usec) > 0) {
    config.on_tick = [] { sd_notify(0, "WATCHDOG=1"); };
  }
  kvs::Server server(config, engine->get(), pool.get());
  if (kvs::Status s = server.Listen(); !s.ok()) Fail(kExitFailure, s.ToString());
  const std::string bound = BoundAddress(*addr, server.port());
  spdlog::info("listening on {} (engine {}, pool {} x{}, data directory {})", bound,
               (*engine)->name(), pool_text, threads, data_dir);

  // Recovery is done and the port accepts connections (the kernel queues them until the
  // loop runs): this is the moment systemd may start the units ordered after kvs.
  StatusReporter status(engine->get(), bound);
  Notify("READY=1\n" + status.Line());

  std::thread signal_thread([&server, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    Notify("STOPPING=1\nSTATUS=shutting down: finishing in-flight requests");
    server.Stop();
  });

  kvs::Status run = server.Run();
  // Run() returns after a Stop() or a fatal loop error; let the signal thread go either way.
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  status.Stop();
  Notify("STOPPING=1\nSTATUS=syncing and closing the data directory");

  pool->Shutdown(kvs::ShutdownMode::kDrain);
  if (cluster) cluster->Stop();  // before the engine goes: it applies the log to it
  kvs::Status sync = (*engine)->Sync();
  engine->reset();  // closes the store: trims the preallocated tail, fsyncs, drops the LOCK
  if (!run.ok()) Fail(kExitFailure, fmt::format("server stopped on an error: {}", run.ToString()));
  if (!sync.ok() && !sync.IsReadOnly()) {
    Fail(kExitFailure, fmt::format("final sync failed: {}", sync.ToString()));
  }
  spdlog::info("stopped cleanly");
  spdlog::shutdown();
  return 0;
}
