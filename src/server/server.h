// Server: kvs-server's heart. One io_uring loop thread owns the listener, every
// connection and the group commit; lookups run on the thread pool and come back to the
// loop (DESIGN.md "Write path", "Read path"; docs/SERVER.md).
//
// Ownership: the Server borrows the engine and the pool, which must outlive it. Threads:
// Listen() and Run() on one thread (Run() becomes the loop thread); Stop() from any
// thread (a signal handler thread). After Run() returns, every acknowledged write is in the
// engine; the caller then shuts the pool down and syncs the engine.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/mutex.h"
#include "base/status.h"
#include "pool/thread_pool.h"
#include "proto/limits.h"
#include "server/address.h"
#include "server/log_write_policy.h"
#include "store/engine.h"

namespace kvs {

namespace uring {
class Loop;
}
namespace raft {
class RaftNode;
}

struct ServerConfig {
  Address addr;
  // Default 10000: open client connections. One more gets an error reply in its protocol
  // ("max number of clients reached"), then is closed.
  size_t max_clients = 10000;
  // Default 300: close a connection that sent nothing and has nothing in flight for this
  // many seconds; 0 = never.
  uint32_t idle_timeout_s = 300;
  // Default 64 MiB: a connection whose unparsed input plus unsent replies pass this (a
  // client pipelining without reading its replies) is closed. Always at least one
  // maximal request.
  size_t max_connection_buffer_bytes = size_t{64} << 20;
  // Default 10 s: how long SIGTERM waits for clients to take their last replies.
  uint32_t shutdown_grace_s = 10;
  FsyncPolicy fsync = FsyncPolicy::kAlways;
  LogWritePath log_write = LogWritePath::kAuto;  // how the loop writes an engine's log
  // Default 64: up to this many reads in one loop iteration are tried on the loop, from
  // memory and the page cache, before the rest go to the pool; more go to the pool
  // directly (server_reads.cc). 0: every read goes to the pool.
  size_t loop_reads = 64;
  std::string version;  // for INFO, e.g. "kvs 0.1.0"
  // Called on the loop thread once a second while the loop runs: proof that the loop is
  // alive (kvs-server sends systemd's WATCHDOG=1 from it). May be empty.
  std::function<void()> on_tick;
  proto::ProtoLimits limits;
  // Default empty: no password. Otherwise every command but AUTH, HELLO and QUIT answers
  // -NOAUTH until the connection authenticates with it (AUTH, HELLO AUTH, JSON's auth).
  std::string requirepass;
  // Default 16: SELECT 0 .. databases-1, as Redis.
  uint32_t databases = 16;
  // Cluster mode (docs/REPLICATION.md): writes are replicated through this node's Raft log
  // and applied to the engine by it; reads wait for a Raft read fence unless stale. Null:
  // a single server. Borrowed; must outlive the Server.
  raft::RaftNode* cluster = nullptr;
  // The time keys expire by; give the engine the same one (Options::clock). Null: the
  // system's wall clock.
  std::shared_ptr<ExpiryClock> clock;
};

class Server {
 public:
  Server(const ServerConfig& config, Engine* engine, ThreadPool* pool);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens (SO_REUSEADDR). IOError naming the address when it cannot.
  Status Listen();
  // The bound port (useful with port 0). REQUIRES: Listen() succeeded.
  uint16_t port() const;

  // Serves until Stop(): then stops accepting and reading, finishes and acknowledges what
  // was received, sends the replies (for up to shutdown_grace_s) and returns. Non-OK only
  // when the loop itself failed.
  Status Run();

  // Any thread, any time (also before Run()). Idempotent.
  void Stop() EXCLUDES(mu_);

 private:
  class Impl;
  ServerConfig config_;
  Engine* const engine_;
  ThreadPool* const pool_;
  int listen_fd_ = -1;
  // Created by Run() on its thread and kept until ~Server (the same thread): a pool thread
  // may still be inside Loop::Post, after its task ran, when Run() returns. The caller
  // shuts the pool down before destroying the Server.
  std::unique_ptr<uring::Loop> loop_;

  Mutex mu_;                              // impl_ publication against Stop()
  Impl* impl_ GUARDED_BY(mu_) = nullptr;  // lives during Run()
  bool stop_requested_ GUARDED_BY(mu_) = false;
};

}  // namespace kvs
