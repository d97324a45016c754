// Config: kvs-server's command line (DESIGN.md "kvs-server"), parsed and validated, with
// nothing started. Every flag may also come from the environment as KVS_<FLAG> (for
// systemd's EnvironmentFile=); a flag on the command line beats its variable.
//
// ParseConfig reads argv and the process environment and returns a Config, or an error
// whose message is the one line kvs-server prints before exiting kExitUsage. Thread-safe
// only as far as getenv is: call it before starting threads that change the environment.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "pool/thread_pool.h"
#include "raft/raft_node.h"
#include "server/server.h"
#include "store/engine.h"

namespace kvs::cli {

// kvs-server's exit codes besides 0.
inline constexpr int kExitFailure = 1;  // it could not start, or it stopped on an error
inline constexpr int kExitUsage = 2;    // a bad flag or environment variable

struct Config {
  // Set by --help or --version: print this on stdout and exit 0. Nothing else is filled.
  std::optional<std::string> print_and_exit;

  // --engine: "kvs", "rocksdb", or empty for the data directory's engine (else kvs).
  std::string engine;
  // --data-dir, --fsync, --sync-interval-ms, --segment-bytes, --repair, --compact-min-dead-
  // bytes, --compact-dead-ratio, --zero-fill-ahead. on_warning is left to the caller, and
  // fsync is the flag's value even in cluster mode (where Run() turns the engine's off).
  Options store;
  // --addr, --max-clients, --idle-timeout, --fsync, --log-write, --loop-reads, and version
  // (ParseConfig's argument). on_tick and cluster are left to the caller.
  ServerConfig server;
  // --pool and --threads (default: the number of cores).
  PoolKind pool = PoolKind::kStealing;
  unsigned threads = 1;
  // Cluster mode (docs/REPLICATION.md): --node-id, --peers, --join, --raft-*. raft.id is 0
  // for a single server. dir, on_info and on_fatal are left to the caller.
  raft::NodeOptions raft;

  bool cluster_mode() const { return raft.id != 0; }
};

// Parses argv[0..argc) and the KVS_* environment. `version` is what -V prints (and goes to
// server.version). Errors are InvalidArgument with the message to print: CLI11's own text
// followed by "(see --help)" for an unknown flag or a value out of range, the parser's
// message for a bad address, fsync policy, pool, peer list, or engine, and the cluster-mode
// rules (--node-id with --peers, --join only with both).
Result<Config> ParseConfig(int argc, const char* const* argv, std::string_view version);

}  // namespace kvs::cli
