// kvs-server's flags: CLI11 reads them (and their KVS_* variables) straight into a Config;
// what CLI11 cannot check (addresses, enums, the cluster-mode rules) is validated after.
#include "server_config.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <cstdint>
#include <sstream>
#include <thread>

namespace kvs::cli {
namespace {

// The flag texts that become enums or addresses once CLI11 has read them.
struct FlagTexts {
  std::string addr = "127.0.0.1:4000";
  std::string fsync = "always";
  std::string log_write = "auto";
  std::string pool = "stealing";
  std::string peers;
  std::string requirepass_file;
  std::string requirepass;  // KVS_REQUIREPASS only: a flag would show it in `ps`
};

void AddFlags(CLI::App& app, Config& c, FlagTexts& t) {
  app.add_option("--addr", t.addr, "listen address IP:PORT")
      ->envname("KVS_ADDR")
      ->capture_default_str();
  app.add_option("--engine", c.engine,
                 "storage engine: kvs or rocksdb (default: the data directory's, else kvs)")
      ->envname("KVS_ENGINE");
  app.add_option("--data-dir", c.store.data_dir, "data directory")
      ->envname("KVS_DATA_DIR")
      ->capture_default_str();
  app.add_option("--fsync", t.fsync, "when a write is acknowledged: always|periodic|never")
      ->envname("KVS_FSYNC")
      ->capture_default_str();
  app.add_option("--sync-interval-ms", c.store.sync_interval_ms,
                 "sync period under --fsync periodic")
      ->envname("KVS_SYNC_INTERVAL_MS")
      ->check(CLI::Range(1u, 3600000u))
      ->capture_default_str();
  app.add_option("--segment-bytes", c.store.segment_bytes,
                 "roll to a new log segment past this size")
      ->envname("KVS_SEGMENT_BYTES")
      ->check(CLI::Range(uint64_t{4096}, uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--compact-min-dead-bytes", c.store.compaction_min_dead_bytes,
                 "kvs engine: compact once closed segments hold this many dead bytes...")
      ->envname("KVS_COMPACT_MIN_DEAD_BYTES")
      ->capture_default_str();
  app.add_option("--compact-dead-ratio", c.store.compaction_dead_ratio,
                 "...and this fraction of their size is dead")
      ->envname("KVS_COMPACT_DEAD_RATIO")
      ->check(CLI::Range(0.01, 1.0))
      ->capture_default_str();
  app.add_option("--zero-fill-ahead", c.store.zero_fill_ahead_bytes,
                 "kvs engine: bytes kept written (zeros) ahead of the log's end, so that "
                 "appends' fdatasyncs commit no metadata (0: off)")
      ->envname("KVS_ZERO_FILL_AHEAD")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 32))
      ->capture_default_str();
  app.add_option("--log-write", t.log_write,
                 "kvs engine: how the loop writes and fdatasyncs the log: inline (on its own "
                 "thread), uring (through io_uring, serving others meanwhile), auto (inline "
                 "unless lookups are in flight)")
      ->envname("KVS_LOG_WRITE")
      ->check(CLI::IsMember({"auto", "inline", "uring"}))
      ->capture_default_str();
  app.add_option("--loop-reads", c.server.loop_reads,
                 "reads per loop iteration answered on the loop from the page cache before "
                 "the rest go to the lookup threads (0: all go to them)")
      ->envname("KVS_LOOP_READS")
      ->check(CLI::Range(size_t{0}, size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--threads", c.threads, "lookup threads (default: number of cores)")
      ->envname("KVS_THREADS")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--pool", t.pool, "thread pool: stealing|shared|tbb")
      ->envname("KVS_POOL")
      ->capture_default_str();
  app.add_option("--max-clients", c.server.max_clients, "most open client connections")
      ->envname("KVS_MAX_CLIENTS")
      ->check(CLI::Range(size_t{1}, size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--idle-timeout", c.server.idle_timeout_s,
                 "close clients idle this many seconds (0: never)")
      ->envname("KVS_IDLE_TIMEOUT")
      ->capture_default_str();
  app.add_option("--requirepass-file", t.requirepass_file,
                 "clients must AUTH with the password in this file (its first line) before "
                 "anything else; KVS_REQUIREPASS gives the password itself")
      ->envname("KVS_REQUIREPASS_FILE");
  app.add_option("--databases", c.server.databases, "databases SELECT can choose: 0 .. N-1")
      ->envname("KVS_DATABASES")
      ->check(CLI::Range(1u, 1u << 20))
      ->capture_default_str();
  app.add_flag("--repair", c.store.repair,
               "drop damaged records at start instead of refusing to start")
      ->envname("KVS_REPAIR");
  // Cluster mode (docs/REPLICATION.md).
  app.add_option("--node-id", c.raft.id, "cluster mode: this node's id in --peers")
      ->envname("KVS_NODE_ID")
      ->check(CLI::Range(uint64_t{1}, UINT64_MAX));
  app.add_option("--peers", t.peers,
                 "cluster mode: every node as ID=CLIENT_ADDR/RAFT_ADDR, comma-separated")
      ->envname("KVS_PEERS");
  app.add_flag("--join", c.raft.join,
               "cluster mode: a new node that waits to be added (kvs-client cluster add) "
               "instead of bootstrapping a cluster")
      ->envname("KVS_JOIN");
  app.add_option("--raft-election-ms", c.raft.election_timeout_ms,
                 "cluster mode: Raft election timeout")
      ->envname("KVS_RAFT_ELECTION_MS")
      ->check(CLI::Range(50u, 60000u))
      ->capture_default_str();
  app.add_option("--raft-heartbeat-ms", c.raft.heartbeat_timeout_ms,
                 "cluster mode: Raft heartbeat period")
      ->envname("KVS_RAFT_HEARTBEAT_MS")
      ->check(CLI::Range(10u, 10000u))
      ->capture_default_str();
  app.add_option("--raft-pre-vote", c.raft.pre_vote,
                 "cluster mode: a node asks whether it could win before it starts an election "
                 "(on|off)")
      ->envname("KVS_RAFT_PRE_VOTE")
      ->capture_default_str();
  app.add_option("--raft-snapshot-threshold", c.raft.snapshot_threshold,
                 "cluster mode: log entries between snapshots")
      ->envname("KVS_RAFT_SNAPSHOT_THRESHOLD")
      ->check(CLI::Range(2u, 1u << 30))
      ->capture_default_str();
  app.add_option("--raft-snapshot-trailing", c.raft.snapshot_trailing,
                 "cluster mode: log entries kept behind a snapshot")
      ->envname("KVS_RAFT_SNAPSHOT_TRAILING")
      ->check(CLI::Range(1u, 1u << 30))
      ->capture_default_str();
}

// Turns the texts into values and checks what spans several flags.
Status Validate(const FlagTexts& t, Config& c) {
  KVS_ASSIGN_OR_RETURN(c.server.addr, ParseAddress(t.addr));
  KVS_ASSIGN_OR_RETURN(c.store.fsync, ParseFsyncPolicy(t.fsync));
  c.server.fsync = c.store.fsync;
  KVS_ASSIGN_OR_RETURN(c.pool, ParsePoolKind(t.pool));
  if (!t.requirepass_file.empty()) {
    std::ifstream in(t.requirepass_file, std::ios::binary);
    std::string line;
    if (!in || !std::getline(in, line)) {
      return Status::InvalidArgument(
          fmt::format("--requirepass-file {}: cannot read a password from it", t.requirepass_file));
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      return Status::InvalidArgument(
          fmt::format("--requirepass-file {}: the first line is empty", t.requirepass_file));
    }
    c.server.requirepass = line;
  } else if (const char* env = std::getenv("KVS_REQUIREPASS"); env != nullptr && *env != '\0') {
    c.server.requirepass = env;
  }
  c.server.log_write = ParseLogWritePath(t.log_write).value_or(LogWritePath::kAuto);
  if (!c.engine.empty() && c.engine != "kvs" && c.engine != "rocksdb") {
    return Status::InvalidArgument(
        fmt::format("unknown engine '{}' (expected kvs or rocksdb)", c.engine));
  }
  if (c.raft.id == 0 && t.peers.empty()) {
    if (c.raft.join) {
      return Status::InvalidArgument("--join needs --node-id and --peers (cluster mode)");
    }
    return Status::Ok();
  }
  if (c.raft.id == 0 || t.peers.empty()) {
    return Status::InvalidArgument("--node-id and --peers go together (cluster mode)");
  }
  KVS_ASSIGN_OR_RETURN(c.raft.peers, raft::ParsePeers(t.peers));
  const uint64_t id = c.raft.id;
  if (std::none_of(c.raft.peers.begin(), c.raft.peers.end(),
                   [id](const raft::Peer& p) { return p.id == id; })) {
    return Status::InvalidArgument(
        fmt::format("--node-id {} is not one of the nodes in --peers", id));
  }
  return Status::Ok();
}

}  // namespace

Result<Config> ParseConfig(int argc, const char* const* argv, std::string_view version) {
  Config config;
  config.threads = std::max(1u, std::thread::hardware_concurrency());
  config.server.version = std::string(version);
  FlagTexts texts;
  CLI::App app{"kvs-server: a durable key-value server on io_uring"};
  app.set_version_flag("-V,--version", std::string(version));
  AddFlags(app, config, texts);
  // CLI11 reports through exceptions; they stop here (CONVENTIONS.md "Errors are values").
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    std::ostringstream out, err;
    app.exit(e, out, err);
    Config help;
    help.print_and_exit = out.str();
    return help;
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(fmt::format("{} (see --help)", e.what()));
  }
  KVS_RETURN_IF_ERROR(Validate(texts, config));
  return config;
}

}  // namespace kvs::cli
