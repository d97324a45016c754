// kvs-server's life after the flags: start-up, serving, the stop signals, systemd, and the
// shutdown sequence (ShutDown below).
//
// Under systemd (systemd/kvs.service, Type=notify) it reports READY=1 once recovery is done
// and the port listens, STATUS= lines while starting and serving, and STOPPING=1 when it
// begins to shut down; its log lines then carry syslog "<N>" level prefixes for the journal.
#include "server_run.h"

#include <netinet/in.h>
#include <pthread.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "base/mutex.h"
#include "pool/thread_pool.h"
#include "raft/identity.h"
#include "raft/raft_node.h"
#include "server/address.h"
#include "server/server.h"
#include "store/engine.h"

namespace kvs::cli {
namespace {

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

// sd_notify(3) to the service manager; a no-op when NOTIFY_SOCKET is unset (not under
// systemd), and a failure to notify is not a reason to stop serving.
void Notify(const std::string& state) {
  if (int r = sd_notify(0, state.c_str()); r < 0) {
    spdlog::warn("sd_notify failed: {}", std::strerror(-r));
  }
}

// Logs `msg` as an error and shows it in `systemctl status kvs`.
void ReportFailure(std::string_view msg) {
  spdlog::error("{}", msg);
  std::string status = fmt::format("STATUS=failed: {}", msg);
  std::replace(status.begin(), status.end(), '\n', ' ');  // one assignment per line
  Notify(status);
}

// `addr` with the port the listener actually got (differs when --addr asked for port 0).
std::string BoundAddress(const Address& addr, uint16_t port) {
  Address bound = addr;
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
  StatusReporter(const Engine* engine, std::string addr) : engine_(engine), addr_(std::move(addr)) {
    if (std::getenv("NOTIFY_SOCKET") != nullptr) thread_ = std::thread([this] { Loop(); });
  }
  ~StatusReporter() { Stop(); }
  StatusReporter(const StatusReporter&) = delete;
  StatusReporter& operator=(const StatusReporter&) = delete;

  std::string Line() const {
    return fmt::format("STATUS=serving on {}, {} keys", addr_, engine_->Stats().keys);
  }
  void Stop() EXCLUDES(mu_) {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    cv_.SignalAll();
    if (thread_.joinable()) thread_.join();
  }

 private:
  void Loop() EXCLUDES(mu_) {
    constexpr auto kPeriod = std::chrono::seconds(5);
    MutexLock lock(&mu_);
    for (auto next = std::chrono::steady_clock::now() + kPeriod; !stop_;) {
      cv_.WaitUntil(&mu_, next);
      if (stop_) break;
      if (std::chrono::steady_clock::now() < next) continue;  // woken early
      Notify(Line());
      next += kPeriod;
    }
  }

  const Engine* const engine_;
  const std::string addr_;
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// SIGTERM and SIGINT, blocked in the calling thread and so in every thread started after
// it: only StopSignalThread takes them (sigwaitinfo), and no handler ever runs on the loop
// or a pool thread. A closed client socket must not kill the process: SIGPIPE is ignored.
sigset_t BlockStopSignals() {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return stop_signals;
}

// Cluster mode, on a stop signal: a leader hands leadership over to its most caught-up
// follower while it still serves, so that clients meet a redirect to a leader already in
// place instead of an election's worth of unavailability (docs/REPLICATION.md "Leadership
// hand-off"). A follower has nothing to hand over. Bounded: RaftNode gives up after about
// two election timeouts, and this wait after a little more.
void HandOffLeadership(raft::RaftNode* cluster, unsigned election_ms) {
  const auto start = std::chrono::steady_clock::now();
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> result = promise->get_future();
  cluster->TransferLeadership(0, [promise](Status s) { promise->set_value(std::move(s)); });
  if (result.wait_for(std::chrono::milliseconds(3 * election_ms + 1000)) !=
      std::future_status::ready) {
    spdlog::warn("leadership hand-off: no answer in time; stopping anyway");
    return;
  }
  const Status s = result.get();
  if (s.IsNotLeader()) return;
  if (!s.ok()) {
    spdlog::warn("leadership hand-off failed, stopping anyway: {}", s.ToString());
    return;
  }
  spdlog::info("leadership handed over in {} ms",
               std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - start)
                   .count());
}

// A thread that waits for SIGTERM or SIGINT, then says so and asks the server to stop (in
// cluster mode after handing leadership over). Join() ends it also when no signal came
// (the loop ended by itself, on an error).
class StopSignalThread {
 public:
  // `cluster` may be null (a single server).
  StopSignalThread(const sigset_t& signals, Server* server, raft::RaftNode* cluster,
                   unsigned election_ms)
      : signals_(signals),
        server_(server),
        cluster_(cluster),
        election_ms_(election_ms),
        thread_([this] { Wait(); }) {}
  ~StopSignalThread() { Join(); }
  StopSignalThread(const StopSignalThread&) = delete;
  StopSignalThread& operator=(const StopSignalThread&) = delete;

  // Wakes the thread with a SIGTERM queued to it alone and marked as this wake-up, which
  // it does not report as a stop signal, then joins it.
  void Join() {
    if (!thread_.joinable()) return;
    union sigval mark {};
    mark.sival_int = kWakeUpMark;
    pthread_sigqueue(thread_.native_handle(), SIGTERM, mark);
    thread_.join();
  }

 private:
  void Wait() {
    siginfo_t info{};
    int sig;
    do {
      sig = sigwaitinfo(&signals_, &info);
    } while (sig < 0 && errno == EINTR);
    // Join()'s wake-up is queued (SI_QUEUE) by this very process with its mark; kill(1),
    // systemd and a terminal's ^C come as SI_USER or SI_KERNEL. (pthread_kill would not
    // do: its signal arrives as SI_USER too, like one from kill(1).)
    if (sig < 0 || (info.si_code == SI_QUEUE && info.si_pid == ::getpid() &&
                    info.si_value.sival_int == kWakeUpMark)) {
      return;
    }
    spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    if (cluster_ != nullptr) {
      Notify("STOPPING=1\nSTATUS=shutting down: handing leadership over");
      HandOffLeadership(cluster_, election_ms_);
    }
    Notify("STOPPING=1\nSTATUS=shutting down: finishing in-flight requests");
    server_->Stop();
  }

  static constexpr int kWakeUpMark = 0x6b7673;  // "kvs"

  const sigset_t signals_;
  Server* const server_;
  raft::RaftNode* const cluster_;
  const unsigned election_ms_;
  std::thread thread_;  // last: it starts running once the members above are set
};

// The engine's options: the flags', with the server's logger for warnings.
Options StoreOptions(const Config& config) {
  Options options = config.store;
  options.on_warning = [](std::string_view w) { spdlog::warn("{}", w); };
  options.clock = ExpiryClock::System();  // the server decides expiry by the same one
  if (config.cluster_mode()) {
    // Raft's log, fsynced by libraft before a write counts, is the write-ahead log; the
    // engine is rebuilt from it (and its snapshots) after a crash, so it need not sync.
    if (options.fsync != FsyncPolicy::kAlways) {
      spdlog::warn(
          "--fsync {} does not apply in cluster mode: a write counts once a majority "
          "has it fsynced in the Raft log",
          FsyncPolicyName(options.fsync));
    }
    options.fsync = FsyncPolicy::kNever;
  }
  return options;
}

// Opens the data directory, after recovery (which may take a while: STATUS says so).
std::unique_ptr<Engine> OpenStore(std::string_view engine_name, const Options& options) {
  Notify(fmt::format("STATUS=recovering data directory {}", options.data_dir));
  Result<std::unique_ptr<Engine>> engine = OpenEngine(engine_name, options);
  if (!engine.ok()) Fail(kExitFailure, engine.status().ToString());
  EngineStats recovered = (*engine)->Stats();
  spdlog::info("engine {} open: {} keys, {} segments, {} bytes on disk", (*engine)->name(),
               recovered.keys, recovered.segments, recovered.disk_bytes);
  return std::move(*engine);
}

// Cluster mode: starts this node's Raft, which first brings `engine` up to date from its log.
std::unique_ptr<raft::RaftNode> StartRaft(const Config& config, Engine* engine) {
  raft::NodeOptions options = config.raft;
  options.dir = (std::filesystem::path(config.store.data_dir) / "raft").string();
  options.on_info = [](std::string_view text) { spdlog::info("{}", text); };
  options.on_fatal = [](std::string_view why) {
    // A replica that cannot apply the log must not serve a state that diverged from it;
    // on restart it rebuilds the engine from Raft's log and snapshot.
    spdlog::critical("stopping: {}", why);
    spdlog::shutdown();
    std::_Exit(kExitFailure);
  };
  // The engine must be this node's state machine, not a standalone directory's data or the
  // remains of a wiped Raft directory, before it is served or sent out in a snapshot.
  if (Status s = raft::CheckIdentity(Env::Default(), config.store.data_dir, options.dir, options.id,
                                     engine->Stats().keys);
      !s.ok()) {
    Fail(kExitFailure, s.ToString());
  }
  Notify("STATUS=starting the Raft node (restoring the engine from its log)");
  Result<std::unique_ptr<raft::RaftNode>> started = raft::RaftNode::Start(options, engine);
  if (!started.ok()) Fail(kExitFailure, started.status().ToString());
  spdlog::info("cluster node {} of {} started (Raft files in {}){}", options.id,
               options.peers.size(), options.dir, options.join ? "; waiting to be added" : "");
  return std::move(*started);
}

// The shutdown sequence, once server.Run() has returned `run`. After a stop signal Run()
// has already stopped accepting (the listener is closed) and reading, answered every
// complete request it had received (each write committed to the log, and fsynced under
// --fsync always, before its reply) and given clients up to ServerConfig::shutdown_grace_s
// to take the replies. Or the loop failed, and Run() returned its error at once. Then, in
// this order, each step needing the ones before it:
//   1. The stop-signal thread is ended (woken by our own SIGTERM if no signal came), so
//      that nothing calls Server::Stop any more.
//   2. The STATUS= refresher stops, and systemd hears STOPPING=1: it reads the engine.
//   3. The lookup pool drains: lookups still queued run to their end. They read the engine
//      and post their results to the loop (whose object the Server keeps until Run()
//      returns), so they must be done before the engine closes.
//   4. Cluster mode: the Raft node stops (libraft closed, its thread joined). It applies
//      committed entries to the engine and snapshots it, so it goes before the engine.
//   5. The engine syncs: under --fsync periodic|never, and in cluster mode, the last
//      writes reach the disk here. A read-only store (a write or fsync failed earlier and
//      was reported then) is not a new error.
//   6. The engine closes: the kvs engine writes the hints of the segments it rolled,
//      gives back the preallocated tail of the active segment, fsyncs it, and drops the
//      LOCK, so that the next start may open the directory.
//   7. The exit code: kExitFailure when the loop failed or the final sync did, else 0.
int ShutDown(const Status& run, StopSignalThread& signals, StatusReporter& status, ThreadPool& pool,
             raft::RaftNode* cluster, std::unique_ptr<Engine>& engine) {
  if (!run.ok()) {
    spdlog::error("the server loop failed, shutting down: {}", run.ToString());
    Notify("STOPPING=1\nSTATUS=shutting down after a loop error");
  }
  signals.Join();
  status.Stop();
  Notify("STOPPING=1\nSTATUS=syncing and closing the data directory");
  pool.Shutdown(ShutdownMode::kDrain);
  if (cluster != nullptr) cluster->Stop();
  Status sync = engine->Sync();
  engine.reset();
  if (!run.ok()) {
    ReportFailure(fmt::format("server stopped on an error: {}", run.ToString()));
    return kExitFailure;
  }
  if (!sync.ok() && !sync.IsReadOnly()) {
    ReportFailure(fmt::format("final sync failed: {}", sync.ToString()));
    return kExitFailure;
  }
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace

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

void Fail(int code, std::string_view msg) {
  ReportFailure(msg);
  spdlog::shutdown();
  std::_Exit(code);
}

int Run(const Config& config) {
  const sigset_t stop_signals = BlockStopSignals();
  const Options options = StoreOptions(config);
  spdlog::info(
      "{} starting: engine {}, address {}, data directory {}, fsync {}", config.server.version,
      config.engine.empty() ? "(from data directory)" : config.engine,
      config.server.addr.ToString(), config.store.data_dir, FsyncPolicyName(config.store.fsync));
  std::unique_ptr<Engine> engine = OpenStore(config.engine, options);
  std::unique_ptr<raft::RaftNode> cluster;
  if (config.cluster_mode()) cluster = StartRaft(config, engine.get());
  std::unique_ptr<ThreadPool> pool = MakePool(config.pool, config.threads);

  ServerConfig server_config = config.server;
  server_config.cluster = cluster.get();
  server_config.clock = options.clock;
  // WatchdogSec= in the unit: the loop itself proves it is alive, once a second (systemd
  // wants a ping at least every half interval; the unit's is 30 s).
  if (uint64_t usec = 0; sd_watchdog_enabled(0, &usec) > 0) {
    server_config.on_tick = [] { sd_notify(0, "WATCHDOG=1"); };
  }
  Server server(server_config, engine.get(), pool.get());
  if (Status s = server.Listen(); !s.ok()) Fail(kExitFailure, s.ToString());
  const std::string bound = BoundAddress(config.server.addr, server.port());
  spdlog::info("listening on {} (engine {}, pool {} x{}, data directory {})", bound, engine->name(),
               PoolKindName(config.pool), config.threads, config.store.data_dir);

  // Recovery is done and the port accepts connections (the kernel queues them until the
  // loop runs): this is the moment systemd may start the units ordered after kvs.
  StatusReporter status(engine.get(), bound);
  Notify("READY=1\n" + status.Line());

  StopSignalThread signals(stop_signals, &server, cluster.get(), config.raft.election_timeout_ms);
  const Status run = server.Run();  // until a stop signal, or a fatal loop error
  return ShutDown(run, signals, status, *pool, cluster.get(), engine);
}

}  // namespace kvs::cli
